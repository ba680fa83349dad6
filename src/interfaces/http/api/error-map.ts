/** Which HTTP answer each failure gets. Anything not recognised here is a 500 whose details stay in the log. */
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { type ImageErrorCode, isImageError } from '../../../images/errors.js';
import { FilterError } from '../../../index/filters.js';
import { QueryOutdatedError, UnknownProductError } from '../../../recommend/recommender.js';
import { ApiError } from './api-error.js';
import { MAX_UPLOAD_BYTES } from './contract.js';

const IMAGE_STATUS: Record<ImageErrorCode, [number, ApiError['code']]> = {
  empty: [400, 'empty'],
  'not-an-image': [415, 'not-an-image'],
  'unsupported-format': [415, 'unsupported-format'],
  truncated: [422, 'truncated'],
  'too-large': [413, 'too-large'],
  // Valid, but too costly to decode (e.g. a JPEG of hundreds of scans).
  'too-complex': [422, 'too-complex'],
  // A photo given by path: never the case for uploads.
  'not-found': [500, 'internal-error'],
  unreadable: [500, 'internal-error'],
};

const mib = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MiB`;

/** @fastify/multipart and Fastify error codes we answer with our own words. */
const FRAMEWORK: Record<string, [number, ApiError['code'], string]> = {
  FST_REQ_FILE_TOO_LARGE: [
    413,
    'too-large',
    `the photo is larger than the limit of ${mib(MAX_UPLOAD_BYTES)}`,
  ],
  FST_FILES_LIMIT: [413, 'too-large', 'send one photo per request'],
  FST_FIELDS_LIMIT: [413, 'too-large', 'too many form fields'],
  FST_PARTS_LIMIT: [413, 'too-large', 'too many form parts'],
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'too-large', 'the request body is too large'],
  FST_INVALID_MULTIPART_CONTENT_TYPE: [
    415,
    'not-multipart',
    'send the photo as multipart/form-data in a field named "image"',
  ],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [
    415,
    'not-multipart',
    'unsupported Content-Type: send the photo as multipart/form-data in a field named "image"',
  ],
  FST_PROTO_VIOLATION: [400, 'bad-field', 'a form field name is not allowed'],
  FST_MP_PREMATURE_CLOSE: [400, 'bad-request', 'the upload ended before the form data was complete'],
};

interface FrameworkError {
  code?: unknown;
  statusCode?: unknown;
  message?: unknown;
}

/**
 * A request that its route's zod schema refused: the schemas' own messages (they name the
 * parameter, or the accepted ones), prefixed with the parameter where they do not.
 */
function validationMessage(issues: readonly { instancePath: string; message?: string }[]): string {
  return issues
    .map(({ instancePath, message = 'is not valid' }) => {
      const name = instancePath.replace(/^\//, '').replaceAll('/', '.');
      return name && !message.includes(name) ? `${name}: ${message}` : message;
    })
    .join('; ');
}

export function toApiError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  if (isImageError(err)) {
    const [status, code] = IMAGE_STATUS[err.code];
    return status >= 500 ? undefined : new ApiError(status, code, err.reason);
  }
  if (err instanceof FilterError) return new ApiError(400, 'bad-filter', err.message);
  if (err instanceof UnknownProductError) return new ApiError(404, 'unknown-product', err.message);
  // A kept search from before the catalogue changed similarity: like an expired one, upload the photo again.
  if (err instanceof QueryOutdatedError) return new ApiError(404, 'query-expired', err.message);
  if (hasZodFastifySchemaValidationErrors(err)) {
    return new ApiError(400, 'bad-request', validationMessage(err.validation));
  }
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as FrameworkError;
  const message = typeof e.message === 'string' ? e.message : 'bad request';
  const known = typeof e.code === 'string' ? FRAMEWORK[e.code] : undefined;
  if (known) return new ApiError(known[0], known[1], known[2]);
  // Other client errors raised by Fastify (malformed requests): their message is safe to show.
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new ApiError(e.statusCode, e.statusCode === 413 ? 'too-large' : 'bad-request', message);
  }
  return undefined;
}
