/** GET /api/facets (filter values for the page's dropdowns) and GET /api/health. */
import type { FastifyPluginAsync } from 'fastify';
import type { Recommender } from '../../../recommend/recommender.js';
import type { ApiFacets, ApiHealth } from '../contract.js';
import { computeFacets } from '../facets.js';
import type { UploadLimiter } from '../upload-limiter.js';

export interface CatalogueRoutesOptions {
  recommender: Recommender;
  limiter: UploadLimiter;
}

export const catalogueRoutes: FastifyPluginAsync<CatalogueRoutesOptions> = async (
  app,
  { recommender, limiter },
) => {
  const facets = computeFacets(recommender.items);
  const started = performance.now();

  app.get<{ Reply: ApiFacets }>(
    '/api/facets',
    {
      schema: {
        tags: ['catalogue'],
        summary: 'Filter values',
        description:
          'Distinct values of each filterable column and how many indexed products have each, most frequent first.',
        response: { 200: { $ref: 'Facets#' } },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=300');
      return facets;
    },
  );

  app.get<{ Reply: ApiHealth }>(
    '/api/health',
    {
      schema: {
        tags: ['service'],
        summary: 'Service health: index size, embedding spec, inference device, upload queue',
        response: { 200: { $ref: 'Health#' } },
      },
    },
    async (_request, reply) => {
      const { manifest } = recommender;
      const embedder = await recommender.getEmbedder();
      reply.header('cache-control', 'no-store');
      return {
        status: 'ok' as const,
        index: {
          count: manifest.count,
          generation: manifest.generation,
          updatedAt: manifest.updatedAt,
          skipped: manifest.skipped,
          store: manifest.store,
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
          active: limiter.active,
          waiting: limiter.waiting,
          concurrency: limiter.limits.concurrency,
          maxWaiting: limiter.limits.maxWaiting,
        },
        uptimeSeconds: Math.round((performance.now() - started) / 100) / 10,
      };
    },
  );
};
