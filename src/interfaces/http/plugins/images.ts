/**
 * GET /images/:id: the catalogue photo of an indexed product. The id is only ever a key into the
 * index, so no part of a request becomes a path; and the file is served only while it is still
 * the photo that was indexed:
 *
 * - a regular file whose real path (all links followed) is inside the catalogue folder, so a
 *   photo re-pointed elsewhere (a link to /etc/passwd) is not served;
 * - of the size the index recorded, and whose bytes still hash to the recorded SHA-256: the bytes
 *   hashed are the bytes sent, so whatever happens to the file meanwhile, what is sent is the
 *   indexed photo or nothing.
 *
 * Anything else is a JSON 404 (missing, not a file, outside the catalogue) or 409 (changed since
 * indexing). The ETag is the indexed hash with the file's size and modification time.
 *
 * Photos of products written through the product-management API are stored by the store itself
 * (an index folder's photos/, or the database) and served from there, again only when their bytes
 * hash to the recorded SHA-256. The products are looked up at each request: changes and new index
 * generations are served at once.
 */
import { constants } from 'node:fs';
import { type FileHandle, open, realpath } from 'node:fs/promises';
import { extname, isAbsolute, relative } from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { hashBytes } from '../../../catalogue/listing.js';
import type { IndexItem } from '../../../index/port.js';
import type { Recommender } from '../../../recommend/recommender.js';
import { ApiError } from '../api/api-error.js';
import { quote } from '../api/echo.js';
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

/** Whether `path` lies inside the folder `dir` (both real paths). */
function isInside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

/** Whether an If-None-Match header names this ETag (a list, weak or strong, or "*"). */
function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch
    .split(',')
    .map((tag) => tag.trim().replace(/^W\//, ''))
    .some((tag) => tag === '*' || tag === etag);
}

/** Reads exactly `size` bytes, or fewer / more when the file is not that long any more. */
async function readAll(file: FileHandle, size: number): Promise<Buffer> {
  // One byte more than expected tells a file that grew from one of the right size.
  const buffer = Buffer.alloc(size + 1);
  let filled = 0;
  while (filled < buffer.length) {
    const { bytesRead } = await file.read(buffer, filled, buffer.length - filled, filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buffer.subarray(0, filled);
}

export const imageRoutes: FastifyPluginAsync<ImageRoutesOptions> = async (app, { recommender, maxAge }) => {
  const cacheControl = `public, max-age=${maxAge ?? 86_400}`;

  const gone = (item: IndexItem, why: string) =>
    new ApiError(404, 'not-found', `the photo of product ${quote(item.id)} is no longer available (${why})`);
  const changed = (item: IndexItem, why: string) =>
    new ApiError(
      409,
      'photo-changed',
      `the photo of product ${quote(item.id)} changed since it was indexed (${why}); index the catalogue again`,
    );

  /** The photo's bytes, checked as the module comment says, and its ETag. */
  async function readPhoto(item: IndexItem): Promise<{ bytes: Buffer; etag: string }> {
    if (item.origin === 'api') {
      const bytes = await recommender.storedPhoto(item);
      if (!bytes) throw gone(item, 'the stored photo is missing');
      if (bytes.length !== item.bytes || hashBytes(bytes) !== item.hash)
        throw changed(item, 'its content differs');
      return { bytes, etag: `"${item.hash}-${item.bytes.toString(36)}"` };
    }
    const imagesDir = recommender.manifest.imagesDir;
    const path = recommender.imagePath(item);
    const [root, real] = await Promise.all([
      realpath(imagesDir).catch(() => undefined),
      realpath(path).catch(() => undefined),
    ]);
    if (!root || !real) throw gone(item, 'the file is missing');
    if (!isInside(root, real)) throw gone(item, 'the file is outside the catalogue folder');
    // Not blocking on a FIFO put in the photo's place, nor following a link swapped in since realpath.
    const file = await open(real, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW).catch(
      () => undefined,
    );
    if (!file) throw gone(item, 'the file cannot be opened');
    try {
      const opened = await file.stat();
      if (!opened.isFile()) throw gone(item, 'not a regular file');
      if (opened.size !== item.bytes) {
        throw changed(item, `${opened.size} bytes, indexed with ${item.bytes}`);
      }
      const bytes = await readAll(file, item.bytes);
      if (bytes.length !== item.bytes || hashBytes(bytes) !== item.hash) {
        throw changed(item, 'its content differs');
      }
      const etag = `"${item.hash}-${opened.size.toString(36)}-${Math.trunc(opened.mtimeMs).toString(36)}"`;
      return { bytes, etag };
    } finally {
      await file.close();
    }
  }

  // Typed by hand from the params schema: the answer is the photo's bytes, not a value of the 200 schema.
  app.get<{ Params: z.output<typeof idParamsZ> }>(
    '/images/:id',
    {
      schema: {
        tags: ['catalogue'],
        summary: "A product's catalogue photo",
        description:
          'Only photos of indexed products are served, and only while the file is still the photo that was indexed ' +
          '(inside the catalogue folder, same size and content); photos uploaded through the admin API are served ' +
          'from where the store keeps them (the index folder, or the database), checked the same way. ' +
          'Cached for a day; the ETag follows the photo. ' +
          'Errors: 404 no such product or its photo is gone, 409 its photo changed since it was indexed.',
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
      const item = recommender.item(request.params.id);
      if (!item) {
        throw new ApiError(404, 'unknown-product', `no product ${quote(request.params.id)} in the index`);
      }
      const photo = await readPhoto(item).catch((err: unknown) => {
        if (err instanceof ApiError) request.log.warn({ id: item.id }, err.message);
        throw err;
      });
      reply.header('cache-control', cacheControl).header('etag', photo.etag);
      if (matches(request.headers['if-none-match'], photo.etag)) return reply.code(304).send();
      return reply
        .type(CONTENT_TYPES[extname(item.file).toLowerCase()] ?? 'application/octet-stream')
        .send(photo.bytes);
    },
  );
};
