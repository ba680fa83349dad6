/**
 * Photo uploads: multipart/form-data parsing with tight limits (one file of at most
 * MAX_UPLOAD_BYTES, a few short fields), and `readImageUpload`, which reads one request's photo
 * and form fields into memory.
 */
import multipart from '@fastify/multipart';
import type { FastifyRequest } from 'fastify';
import { ApiError } from '../api/api-error.js';
import { IMAGE_FIELD, MAX_UPLOAD_BYTES } from '../api/contract.js';
import { shared } from './shared.js';

export interface UploadsOptions {
  /** Largest accepted photo in bytes (default MAX_UPLOAD_BYTES). */
  maxBytes?: number;
  /** How many filters a search can take (the catalogue's facets): each may be given twice, as k may. */
  filters: number;
}

export interface ImageUpload {
  data: Buffer;
  filename: string;
  /** The other form fields, name → values in order. */
  fields: Map<string, string[]>;
}

export const uploads = shared<UploadsOptions>('lookalike-uploads', async (app, options) => {
  await app.register(multipart, {
    limits: {
      fileSize: options.maxBytes ?? MAX_UPLOAD_BYTES,
      files: 1,
      fields: 2 * (options.filters + 1),
      fieldSize: 1000,
      fieldNameSize: 100,
      parts: 2 * (options.filters + 1) + 1,
      headerPairs: 100,
    },
  });
});

/**
 * Reads the photo (field "image") and the other fields of a multipart request.
 * @throws ApiError 415 'not-multipart', 400 'missing-image' / 'bad-field'; the multipart plugin's
 *   413 errors for a photo or form over the limits.
 */
export async function readImageUpload(request: FastifyRequest): Promise<ImageUpload> {
  if (!request.isMultipart()) {
    throw new ApiError(
      415,
      'not-multipart',
      `send the photo as multipart/form-data in a field named "${IMAGE_FIELD}"`,
    );
  }
  // Closed before its body was read (e.g. while waiting for a turn): there is nothing left to read,
  // and the multipart parser, which learns of a premature close from the 'close' event, would wait for ever.
  if (request.raw.destroyed && !request.raw.readableEnded) {
    throw new ApiError(400, 'bad-request', 'the client closed the connection before the upload ended');
  }
  let image: { data: Buffer; filename: string } | undefined;
  const fields = new Map<string, string[]>();
  for await (const part of request.parts()) {
    if (part.type === 'file') {
      if (part.fieldname !== IMAGE_FIELD) {
        part.file.resume();
        throw new ApiError(
          400,
          'bad-field',
          `unexpected file field "${part.fieldname}": send the photo in the field "${IMAGE_FIELD}"`,
        );
      }
      image = { data: await part.toBuffer(), filename: part.filename || 'upload' };
    } else {
      const value = typeof part.value === 'string' ? part.value : String(part.value);
      fields.set(part.fieldname, [...(fields.get(part.fieldname) ?? []), value]);
    }
  }
  if (fields.has(IMAGE_FIELD) || !image) {
    throw new ApiError(
      400,
      'missing-image',
      `no photo: send the photo as a file in the multipart field "${IMAGE_FIELD}"`,
    );
  }
  return { ...image, fields };
}
