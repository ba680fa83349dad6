/**
 * Reading the admin API's multipart bodies: a product's photo and metadata (PUT), and a batch's
 * changes with the photos they name. Both are read whole, under the same body timeout, minimum
 * rate and memory bound as uploads (plugins/uploads.ts `readForm`).
 */
import type { FastifyRequest } from 'fastify';
import type { z } from 'zod';
import {
  batchBodyZ,
  CHANGES_FIELD,
  type Change,
  MAX_BATCH_BYTES,
  MAX_BATCH_CHANGES,
  MAX_BATCH_FIELD_BYTES,
  MAX_METADATA_FIELD_BYTES,
  METADATA_FIELD,
  metadataZ,
} from '../api/admin-schemas.js';
import { ApiError } from '../api/api-error.js';
import { IMAGE_FIELD } from '../api/contract.js';
import { quote } from '../api/echo.js';
import type { Admission } from '../api/upload-limiter.js';
import { malformed, type Parts, type ReadOptions, readForm } from './uploads.js';

export interface Photo {
  bytes: Buffer;
  filename: string;
}

export interface PutForm {
  photo?: Photo;
  metadata?: Record<string, string>;
}

export interface BatchForm {
  changes: Change[];
  photos: Map<string, Photo>;
}

/** Parses a JSON form field with a schema: 400 'bad-field' naming the field and what is wrong. */
export function parseField<S extends z.ZodType>(field: string, text: string, schema: S): z.output<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ApiError(400, 'bad-field', `the field ${quote(field)} is not valid JSON`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? ` at ${issue.path.join('.')}` : '';
    throw new ApiError(
      400,
      'bad-field',
      `the field ${quote(field)}${where}: ${issue?.message ?? 'is not valid'}`,
    );
  }
  return parsed.data;
}

const unexpectedField = (name: string, expected: string) =>
  new ApiError(400, 'bad-field', `unexpected form field ${quote(name)}; expected ${expected}`);

/** PUT: an optional photo in "image" and optional metadata (JSON) in "metadata"; at least one. */
export function readPutForm(
  request: FastifyRequest,
  options: ReadOptions,
  maxBytes: number,
): Promise<PutForm> {
  const read = async (parts: Parts): Promise<PutForm> => {
    const form: PutForm = {};
    let metadataText: string | undefined;
    try {
      for await (const part of parts) {
        if (part.type === 'file') {
          if (part.fieldname !== IMAGE_FIELD || form.photo) {
            part.file.resume();
            throw unexpectedField(part.fieldname, `one photo in "${IMAGE_FIELD}" and "${METADATA_FIELD}"`);
          }
          form.photo = { bytes: await part.toBuffer(), filename: part.filename || 'upload' };
        } else if (part.fieldname === METADATA_FIELD && metadataText === undefined) {
          metadataText = String(part.value);
        } else {
          throw unexpectedField(
            part.fieldname,
            `"${IMAGE_FIELD}" (a file) and "${METADATA_FIELD}" (JSON), once each`,
          );
        }
      }
    } catch (err) {
      throw malformed(err);
    }
    if (metadataText !== undefined) form.metadata = parseField(METADATA_FIELD, metadataText, metadataZ);
    if (!form.photo && !form.metadata) {
      throw new ApiError(
        400,
        'missing-image',
        `nothing to change: send a photo in the field "${IMAGE_FIELD}" and/or metadata (JSON) in "${METADATA_FIELD}"`,
      );
    }
    return form;
  };
  return readForm(request, options, read, {
    limits: {
      files: 1,
      fileSize: maxBytes,
      fields: 1,
      fieldSize: MAX_METADATA_FIELD_BYTES,
      parts: 2,
    },
  });
}

/** Counts a batch's bytes against its own bound, besides the uploads' shared one. */
function boundedAdmission(admission: Admission, maxBytes: number): Admission {
  let total = 0;
  return {
    ...admission,
    hold: (bytes) => {
      total += bytes;
      if (total > maxBytes) {
        throw new ApiError(413, 'too-large', `a batch is at most ${Math.round(maxBytes / 1024 / 1024)} MiB`);
      }
      admission.hold(bytes);
    },
  };
}

/** POST batch, multipart: the changes (JSON) in "changes", and the photos they name as file parts. */
export function readBatchForm(
  request: FastifyRequest,
  options: ReadOptions,
  maxBytes: number,
): Promise<BatchForm> {
  const read = async (parts: Parts): Promise<BatchForm> => {
    const photos = new Map<string, Photo>();
    let changesText: string | undefined;
    try {
      for await (const part of parts) {
        if (part.type === 'file') {
          if (part.fieldname === CHANGES_FIELD || photos.has(part.fieldname)) {
            part.file.resume();
            throw new ApiError(
              400,
              'bad-field',
              `the part ${quote(part.fieldname)} is given twice or is not a photo`,
            );
          }
          photos.set(part.fieldname, { bytes: await part.toBuffer(), filename: part.filename || 'upload' });
        } else if (part.fieldname === CHANGES_FIELD && changesText === undefined) {
          changesText = String(part.value);
        } else {
          throw unexpectedField(
            part.fieldname,
            `"${CHANGES_FIELD}" (JSON, once) and the photo parts it names`,
          );
        }
      }
    } catch (err) {
      throw malformed(err);
    }
    if (changesText === undefined) {
      throw new ApiError(400, 'bad-field', `no changes: send them as JSON in the field "${CHANGES_FIELD}"`);
    }
    const { changes } = parseField(CHANGES_FIELD, changesText, batchBodyZ);
    checkPhotoParts(changes, photos);
    return { changes, photos };
  };
  return readForm(
    request,
    { ...options, admission: boundedAdmission(options.admission, MAX_BATCH_BYTES) },
    read,
    {
      limits: {
        files: MAX_BATCH_CHANGES,
        fileSize: maxBytes,
        fields: 1,
        fieldSize: MAX_BATCH_FIELD_BYTES,
        parts: MAX_BATCH_CHANGES + 1,
      },
    },
  );
}

/** Every photo a change names is there, and every photo sent is named by one change. */
export function checkPhotoParts(changes: readonly Change[], photos: ReadonlyMap<string, Photo>): void {
  const named = new Set<string>();
  changes.forEach((change, i) => {
    if (change.action !== 'put' || change.photo === undefined) return;
    if (!photos.has(change.photo)) {
      throw new ApiError(
        400,
        'bad-field',
        `change ${i} names the photo part ${quote(change.photo)}, which was not sent`,
      );
    }
    if (named.has(change.photo)) {
      throw new ApiError(
        400,
        'bad-field',
        `the photo part ${quote(change.photo)} is named by more than one change`,
      );
    }
    named.add(change.photo);
  });
  for (const name of photos.keys()) {
    if (!named.has(name))
      throw new ApiError(400, 'bad-field', `the photo part ${quote(name)} is named by no change`);
  }
}
