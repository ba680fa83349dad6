/** GET /api/products/:id and GET /api/products/:id/similar ("more like this"). */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { type Recommender, UnknownProductError } from '../../../recommend/recommender.js';
import { facetsJson, filterParameters, productJson, resultsJson } from '../api/present.js';
import { errorResponses, idParamsZ, productZ, resultsZ, searchQueryZ } from '../api/schemas.js';
import { recommendOptions } from '../api/search-options.js';

export interface ProductRoutesOptions {
  recommender: Recommender;
}

export const productRoutes: FastifyPluginAsyncZod<ProductRoutesOptions> = async (app, { recommender }) => {
  const searchQuery = searchQueryZ(filterParameters(facetsJson(recommender)));

  app.get(
    '/api/products/:id',
    {
      schema: {
        tags: ['catalogue'],
        summary: 'A product of the index',
        description: 'Errors: 404 no such product in the index.',
        params: idParamsZ,
        response: { 200: productZ, ...errorResponses },
      },
    },
    async (request) => {
      const product = recommender.product(request.params.id);
      if (!product) throw new UnknownProductError(`no product "${request.params.id}" in the index`);
      return productJson(product);
    },
  );

  app.get(
    '/api/products/:id/similar',
    {
      schema: {
        tags: ['search'],
        summary: 'More like this: products that look like a catalogue product',
        description:
          "The product itself (and other listings of its very photo) is left out. The filters are the catalogue's facets (see /api/facets). " +
          'Errors: 400 bad or unknown parameter, 404 no such product.',
        params: idParamsZ,
        querystring: searchQuery,
        response: { 200: resultsZ, ...errorResponses },
      },
    },
    async (request) =>
      resultsJson(await recommender.similar(request.params.id, recommendOptions(request.query))),
  );
};
