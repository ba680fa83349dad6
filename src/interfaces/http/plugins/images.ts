/**
 * GET /images/:id: the catalogue photo of an indexed product. The id is only ever a key into the
 * index: the file served is the one the index lists for it, so no part of a request becomes a path.
 */
import { open } from 'node:fs/promises';
import { extname } from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { IndexItem } from '../../../index/store.js';
import type { Recommender } from '../../../recommend/recommender.js';
import { ApiError } from '../api/api-error.js';
import { errorResponses, idParamsZ } from '../api/schemas.js';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.avif': 'image/avif',
  '.tif': 'image/tiff',
  '.tiff': 'image/tiff',
};

export interface ImageRoutesOptions {
  recommender: Recommender;
  /** Cache-Control max-age in seconds (default one day). */
  maxAge?: number;
}

export const imageRoutes: FastifyPluginAsync<ImageRoutesOptions> = async (app, { recommender, maxAge }) => {
  const byId = new Map<string, IndexItem>(recommender.items.map((item) => [item.id, item]));
  const cacheControl = `public, max-age=${maxAge ?? 86_400}`;

  // Typed by hand from the params schema: the answer is a file stream, not a value of the 200 schema.
  app.get<{ Params: z.output<typeof idParamsZ> }>(
    '/images/:id',
    {
      schema: {
        tags: ['catalogue'],
        summary: "A product's catalogue photo",
        description:
          'Only photos of indexed products are served. Cached for a day, with the photo hash as ETag. Errors: 404 no such product.',
        params: idParamsZ,
        response: {
          200: {
            description: 'The photo',
            content: Object.fromEntries(
              [...new Set(Object.values(CONTENT_TYPES))].map((type) => [type, { schema: z.file() }]),
            ),
          },
          304: z.undefined().describe('Not modified'),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const item = byId.get(request.params.id);
      if (!item) throw new ApiError(404, 'unknown-product', `no product "${request.params.id}" in the index`);
      const etag = `"${item.hash}"`;
      reply.header('cache-control', cacheControl).header('etag', etag);
      if (request.headers['if-none-match'] === etag) return reply.code(304).send();

      const file = await open(recommender.imagePath(item)).catch(() => undefined);
      if (!file) {
        request.log.warn({ id: item.id }, 'indexed photo is missing on disk');
        throw new ApiError(404, 'not-found', `the photo of product "${item.id}" is no longer available`);
      }
      const size = await file.stat().then(
        (s) => s.size,
        async (err: unknown) => {
          await file.close();
          throw err;
        },
      );
      return reply
        .type(CONTENT_TYPES[extname(item.file).toLowerCase()] ?? 'application/octet-stream')
        .header('content-length', size)
        .send(file.createReadStream());
    },
  );
};
