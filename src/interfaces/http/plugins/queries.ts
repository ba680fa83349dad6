/** GET /api/queries/:queryId: an uploaded photo's search again, with other filters or another page. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { QueryStore } from '../../../recommend/query-store.js';
import type { Recommender } from '../../../recommend/recommender.js';
import { ApiError } from '../api/api-error.js';
import { facetsJson, filterParameters, resultsJson } from '../api/present.js';
import { errorResponses, resultsZ, searchQueryZ } from '../api/schemas.js';
import { searchPage } from '../api/search-options.js';

export interface QueryRoutesOptions {
  recommender: Recommender;
  queries: QueryStore;
}

const queryParamsZ = z.object({
  queryId: z.string().min(1).max(100).describe('The `queryId` of a POST /api/recommend answer.'),
});

export const queryRoutes: FastifyPluginAsyncZod<QueryRoutesOptions> = async (
  app,
  { recommender, queries },
) => {
  const searchQuery = searchQueryZ(filterParameters(facetsJson(recommender)));
  const minutes = Math.round(queries.options.ttlMs / 60_000);

  app.get(
    '/api/queries/:queryId',
    {
      schema: {
        tags: ['search'],
        summary: 'An uploaded photo’s search again: other filters, another page',
        description:
          'Runs the search of an earlier POST /api/recommend again without its photo, with the filters, k and offset given here ' +
          '(none of the upload’s own). The answer is that of POST /api/recommend. ' +
          `A query is kept for ${minutes} minutes after its last use, and only so many are kept: ` +
          'Errors: 400 bad or unknown parameter, 404 query-expired (upload the photo again; also when the catalogue has since been reloaded with another similarity).',
        params: queryParamsZ,
        querystring: searchQuery,
        response: { 200: resultsZ, ...errorResponses },
      },
    },
    async (request, reply) => {
      const stored = queries.get(request.params.queryId);
      if (!stored) {
        throw new ApiError(
          404,
          'query-expired',
          `this search has expired (searches are kept for ${minutes} minutes after their last use): upload the photo again`,
        );
      }
      const { result, page } = await searchPage(request.query, (options) =>
        recommender.search(stored, options),
      );
      reply.header('cache-control', 'no-store');
      return resultsJson(result, {
        similarity: recommender.manifest.similarity,
        shopperPhoto: stored.studio === false,
        page,
        queryId: request.params.queryId,
        garments: stored.garments,
      });
    },
  );
};
