/** GET /api/facets (the catalogue's filters and their values, for the page's controls) and GET /api/health. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { IndexingProgress } from '../../../index/indexing-progress.js';
import type { Recommender } from '../../../recommend/recommender.js';
import type { ApiHealth } from '../api/contract.js';
import { facetCountsJson, facetsJson, filterParameters } from '../api/present.js';
import { errorResponses, facetsZ, filterQueryZ, healthZ } from '../api/schemas.js';
import type { UploadLimiter } from '../api/upload-limiter.js';

export interface CatalogueRoutesOptions {
  recommender: Recommender;
  limiter: UploadLimiter;
  /** The background indexing run's progress, while the server indexes (serve --catalogue). */
  indexing?: () => IndexingProgress | undefined;
}

export const catalogueRoutes: FastifyPluginAsyncZod<CatalogueRoutesOptions> = async (
  app,
  { recommender, limiter, indexing },
) => {
  const filterQuery = filterQueryZ(filterParameters(facetsJson(recommender)));
  const started = performance.now();

  app.get(
    '/api/facets',
    {
      schema: {
        tags: ['catalogue'],
        summary: 'Filters and their values',
        description:
          "The catalogue's filters (the facets of its schema, in the order to show them), each with its distinct values " +
          'and how many indexed products have each, most frequent first; and which facets say the kind and the colour of a product. ' +
          "With filters (as a search takes them), each facet's `counts` say how many products each of its values would find " +
          "under the other facets' filters (0: a dead end), so a choice that finds nothing can be disabled. " +
          'The kind facet has `groups`: its values grouped by a coarser facet (`groupedBy`), detected from the catalogue. ' +
          'Errors: 400 bad or unknown parameter.',
        querystring: filterQuery,
        response: { 200: facetsZ, ...errorResponses },
      },
    },
    async (request, reply) => {
      // (A minute: counts grow while the server indexes.)
      reply.header('cache-control', 'public, max-age=60');
      return facetCountsJson(recommender, request.query);
    },
  );

  app.get(
    '/api/health',
    {
      schema: {
        tags: ['service'],
        summary: 'Service health: index size, embedding spec, inference device, upload queue',
        response: { 200: healthZ },
      },
    },
    async (_request, reply): Promise<ApiHealth> => {
      const { manifest } = recommender;
      const embedder = await recommender.getEmbedder();
      reply.header('cache-control', 'no-store');
      return {
        status: 'ok',
        index: {
          count: manifest.count,
          generation: manifest.generation,
          updatedAt: manifest.updatedAt,
          skipped: manifest.skipped,
          store: manifest.kind,
          search: manifest.search,
          similarity: manifest.similarity,
        },
        spec: {
          model: manifest.spec.model,
          pooling: manifest.spec.pooling,
          resize: manifest.spec.resize,
          channelOrder: manifest.spec.channelOrder,
          dim: manifest.spec.dim,
        },
        model: { device: embedder.device },
        uploads: {
          receiving: limiter.receiving,
          maxReceiving: limiter.limits.maxReceiving,
          active: limiter.active,
          waiting: limiter.waiting,
          concurrency: limiter.limits.concurrency,
          maxWaiting: limiter.limits.maxWaiting,
        },
        ...withIndexing(indexing?.()),
        uptimeSeconds: Math.round((performance.now() - started) / 100) / 10,
      };
    },
  );
};

/** The indexing part of the health answer, while there is a run to report. */
function withIndexing(progress: IndexingProgress | undefined): { indexing?: IndexingProgress } {
  return progress ? { indexing: progress } : {};
}
