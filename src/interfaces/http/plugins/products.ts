/** GET /api/products/:id and GET /api/products/:id/similar ("more like this"). */
import type { FastifyPluginAsync } from 'fastify';
import { type Recommender, UnknownProductError } from '../../../recommend/recommender.js';
import type { ApiProduct, ApiResults } from '../contract.js';
import { productJson, resultsJson } from '../present.js';
import { errorResponses, type IdParams, idParamsSchema, searchQuerySchema } from '../schemas.js';
import { recommendOptions, type SearchQuery } from '../search-options.js';

export interface ProductRoutesOptions {
  recommender: Recommender;
}

export const productRoutes: FastifyPluginAsync<ProductRoutesOptions> = async (app, { recommender }) => {
  app.get<{ Params: IdParams; Reply: ApiProduct }>(
    '/api/products/:id',
    {
      schema: {
        tags: ['catalogue'],
        summary: 'A product of the index',
        description: 'Errors: 404 no such product in the index.',
        params: idParamsSchema,
        response: { 200: { $ref: 'Product#' }, ...errorResponses },
      },
    },
    async (request) => {
      const product = recommender.product(request.params.id);
      if (!product) throw new UnknownProductError(`no product "${request.params.id}" in the index`);
      return productJson(product);
    },
  );

  app.get<{ Params: IdParams; Querystring: SearchQuery; Reply: ApiResults }>(
    '/api/products/:id/similar',
    {
      schema: {
        tags: ['search'],
        summary: 'More like this: products that look like a catalogue product',
        description:
          'The product itself (and other listings of its very photo) is left out. Errors: 400 bad parameter, 404 no such product.',
        params: idParamsSchema,
        querystring: searchQuerySchema,
        response: { 200: { $ref: 'Results#' }, ...errorResponses },
      },
    },
    async (request) =>
      resultsJson(await recommender.similar(request.params.id, recommendOptions(request.query))),
  );
};
