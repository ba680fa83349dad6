/** GET /api/products/:id and GET /api/products/:id/similar ("more like this"). */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Recommender } from '../../../recommend/recommender.js';
import { ApiError } from '../api/api-error.js';
import { quote } from '../api/echo.js';
import { facetsJson, filterParameters, productJson, resultsJson } from '../api/present.js';
import { errorResponses, idParamsZ, productZ, resultsZ, searchQueryZ } from '../api/schemas.js';
import { searchPage } from '../api/search-options.js';

export interface ProductRoutesOptions {
  recommender: Recommender;
}

export const productRoutes: FastifyPluginAsyncZod<ProductRoutesOptions> = async (app, { recommender }) => {
  const searchQuery = searchQueryZ(filterParameters(facetsJson(recommender)));
  const unknown = (id: string) =>
    new ApiError(404, 'unknown-product', `no product ${quote(id)} in the index`);

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
      if (!product) throw unknown(request.params.id);
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
          '`offset` pages through the results (`page.hasMore` says whether there are more). ' +
          'Errors: 400 bad or unknown parameter, 404 no such product.',
        params: idParamsZ,
        querystring: searchQuery,
        response: { 200: resultsZ, ...errorResponses },
      },
    },
    async (request) => {
      // Asked first, so that the answer quotes the id only in part.
      if (!recommender.product(request.params.id)) throw unknown(request.params.id);
      const { id } = request.params;
      const { result, page } = await searchPage(request.query, (options) => recommender.similar(id, options));
      return resultsJson(result, { similarity: recommender.manifest.similarity, page });
    },
  );
};
