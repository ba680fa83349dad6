/**
 * Photo uploads: multipart/form-data parsing with tight limits (one file of at most
 * MAX_UPLOAD_BYTES, a few short fields), and `readImageUpload`, which reads one request's photo
 * and form fields into memory in full, under a body timeout and a minimum rate, before anything
 * else happens to it (see api/upload-limiter.ts).
 */
import multipart from '@fastify/multipart';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../api/api-error.js';
import { IMAGE_FIELD, MAX_UPLOAD_BYTES } from '../api/contract.js';
import { quote } from '../api/echo.js';
import type { Admission, UploadLimiter, UploadLimits } from '../api/upload-limiter.js';
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

const FIELD_SIZE = 1000;
const FIELD_NAME_SIZE = 100;

/** Room for the form's fields and part headers around the photo, in bytes. */
export const FORM_OVERHEAD_BYTES = 64 * 1024;

export const uploads = shared<UploadsOptions>('lookalike-uploads', async (app, options) => {
  await app.register(multipart, {
    limits: {
      fileSize: options.maxBytes ?? MAX_UPLOAD_BYTES,
      files: 1,
      fields: 2 * (options.filters + 1),
      fieldSize: FIELD_SIZE,
      fieldNameSize: FIELD_NAME_SIZE,
      parts: 2 * (options.filters + 1) + 1,
      headerPairs: 100,
    },
  });
});

const clientGone = () =>
  new ApiError(400, 'bad-request', 'the client closed the connection before the upload ended');

/**
 * Aborted when the client hangs up before its answer is sent (while its photo arrives, waits for
 * the model, or is processed).
 */
export function clientGoneSignal(request: FastifyRequest, reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  const socket = request.raw.socket;
  if (!socket || socket.destroyed) {
    controller.abort(clientGone());
  } else {
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) controller.abort(clientGone());
    });
  }
  return controller.signal;
}

/**
 * Refuses, before any of the body is read, what cannot be an upload.
 * @throws ApiError 415 'not-multipart'; 400 'bad-request' for multipart without a boundary;
 *   413 'too-large' for a declared length beyond the largest photo and its form.
 */
export function checkUpload(request: FastifyRequest, maxBytes: number): void {
  if (!request.isMultipart()) {
    throw new ApiError(
      415,
      'not-multipart',
      `send the photo as multipart/form-data in a field named "${IMAGE_FIELD}"`,
    );
  }
  const type = request.headers['content-type'] ?? '';
  if (!/;\s*boundary\s*=\s*("[^"]+"|[^\s;"]+)/i.test(type)) {
    throw new ApiError(400, 'bad-request', 'the multipart/form-data Content-Type has no boundary parameter');
  }
  const length = Number(request.headers['content-length']);
  if (Number.isFinite(length) && length > maxBytes + FORM_OVERHEAD_BYTES) {
    throw new ApiError(
      413,
      'too-large',
      `the photo is larger than the limit of ${Math.round(maxBytes / 1024 / 1024)} MiB`,
    );
  }
}

/**
 * The life of an upload, for every route that takes one: the request is checked, its whole body
 * is read (`receive`, which may also check what it read) in a receiving place of its own, and only
 * then does it queue for a turn of the model (when `needsTurn` says so), so that a client that
 * trickles its body never holds one; `run` then does the work. A client that hangs up gives both
 * places up, and both are given back however the request ends.
 */
export async function receiveThenRun<F, R>(
  request: FastifyRequest,
  reply: FastifyReply,
  { limiter, maxBytes }: { limiter: UploadLimiter; maxBytes: number },
  receive: (read: ReadOptions) => Promise<F>,
  run: (form: F, signal: AbortSignal) => Promise<R>,
  needsTurn: (form: F) => boolean = () => true,
): Promise<R> {
  checkUpload(request, maxBytes);
  const signal = clientGoneSignal(request, reply);
  const admission = limiter.admit(maxBytes + FORM_OVERHEAD_BYTES);
  try {
    const form = await receive({ admission, limits: limiter.limits, signal });
    const release = needsTurn(form) ? await limiter.acquire(signal) : () => {};
    try {
      signal.throwIfAborted();
      return await run(form, signal);
    } finally {
      release();
    }
  } finally {
    admission.release();
  }
}

export interface ReadOptions {
  /** The upload's place while its body arrives (counts the bytes held). */
  admission: Admission;
  limits: Pick<UploadLimits, 'bodyTimeoutMs' | 'minBytesPerSecond' | 'rateGraceMs'>;
  /** Aborted when the client hangs up. */
  signal: AbortSignal;
}

const timeout = (message: string) => new ApiError(408, 'timeout', message);

/**
 * Reads the photo (field "image") and the other fields of a multipart request, all of it, before
 * returning: within `bodyTimeoutMs`, and at `minBytesPerSecond` on average once `rateGraceMs`
 * have passed. Stops reading at once when the client hangs up. Call `checkUpload` first.
 * @throws ApiError 400 'missing-image' / 'bad-field' / 'bad-request' (malformed form data),
 *   408 'timeout', 503 'busy' (too many bytes held by uploads); the signal's reason when aborted;
 *   the multipart plugin's 413 errors for a photo or form over the limits.
 */
export function readImageUpload(request: FastifyRequest, options: ReadOptions): Promise<ImageUpload> {
  return readForm(request, options, readParts);
}

/**
 * Reads a multipart request's parts with `read`, under the same body timeout, minimum rate and
 * bytes held as an upload's photo (readImageUpload); `partsOptions` may set other limits than the
 * plugin's (e.g. more files or longer fields).
 */
export async function readForm<T>(
  request: FastifyRequest,
  { admission, limits, signal }: ReadOptions,
  read: (parts: Parts) => Promise<T>,
  partsOptions?: Parameters<FastifyRequest['parts']>[0],
): Promise<T> {
  signal.throwIfAborted();
  const raw = request.raw;
  const started = performance.now();
  let received = 0;

  const stopped = new AbortController();
  const stop = (reason: unknown) => {
    if (!stopped.signal.aborted) stopped.abort(reason);
  };
  const whenStopped = new Promise<never>((_, reject) => {
    stopped.signal.addEventListener('abort', () => reject(stopped.signal.reason), { once: true });
  });
  whenStopped.catch(() => {});

  const onGone = () => stop(signal.reason);
  signal.addEventListener('abort', onGone, { once: true });
  const seconds = (ms: number) => Math.round(ms / 100) / 10;
  const deadline = setTimeout(
    () => stop(timeout(`the photo did not arrive within ${seconds(limits.bodyTimeoutMs)} s`)),
    limits.bodyTimeoutMs,
  );
  let rateTimer: NodeJS.Timeout | undefined;
  const { minBytesPerSecond, rateGraceMs } = limits;
  if (minBytesPerSecond > 0) {
    const check = () => {
      const elapsed = performance.now() - started;
      if (received < (minBytesPerSecond * (elapsed - rateGraceMs)) / 1000) {
        stop(
          timeout(
            `the photo arrived too slowly: ${received} bytes in ${seconds(elapsed)} s, ` +
              `where at least ${minBytesPerSecond} bytes a second are needed`,
          ),
        );
      } else {
        // When the bytes so far fall below the minimum rate, unless more arrive.
        const due = rateGraceMs + (received / minBytesPerSecond) * 1000;
        rateTimer = setTimeout(check, Math.max(100, due - elapsed));
      }
    };
    rateTimer = setTimeout(check, rateGraceMs);
  }

  // Parsing starts here: the parts are piped from the request, and its bytes counted as they come.
  const parts = request.parts(partsOptions);
  const onData = (chunk: Buffer) => {
    received += chunk.length;
    try {
      admission.hold(chunk.length);
    } catch (err) {
      stop(err);
    }
  };
  raw.on('data', onData);
  const reading = read(parts);
  reading.catch(() => {});
  try {
    return await Promise.race([reading, whenStopped]);
  } catch (err) {
    // What is left of the body is not read: the answer closes the connection (plugins/errors.ts).
    if (stopped.signal.aborted) raw.unpipe();
    throw err;
  } finally {
    clearTimeout(deadline);
    clearTimeout(rateTimer);
    raw.off('data', onData);
    signal.removeEventListener('abort', onGone);
    admission.received();
  }
}

export type Parts = ReturnType<FastifyRequest['parts']>;

async function readParts(parts: Parts): Promise<ImageUpload> {
  let image: { data: Buffer; filename: string } | undefined;
  const fields = new Map<string, string[]>();
  try {
    for await (const part of parts) {
      if (part.type === 'file') {
        if (part.fieldname !== IMAGE_FIELD) {
          part.file.resume();
          throw new ApiError(
            400,
            'bad-field',
            `unexpected file field ${quote(part.fieldname)}: send the photo in the field "${IMAGE_FIELD}"`,
          );
        }
        image = { data: await part.toBuffer(), filename: part.filename || 'upload' };
      } else {
        const value = typeof part.value === 'string' ? part.value : String(part.value);
        fields.set(part.fieldname, [...(fields.get(part.fieldname) ?? []), value]);
      }
    }
  } catch (err) {
    throw malformed(err);
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

/**
 * Reading the parts fails only on what the client sent: the multipart plugin's errors carry their
 * status and pass as they are; the parser's own (a boundary it cannot use, a part cut short, a
 * malformed header) and the stream's are 400, with the parser's words.
 */
export function malformed(err: unknown): unknown {
  if (err instanceof ApiError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as {
    statusCode?: unknown;
    message?: unknown;
  };
  if (typeof e.statusCode === 'number') return err;
  const message = typeof e.message === 'string' ? e.message.slice(0, 200) : 'malformed';
  return new ApiError(400, 'bad-request', `the multipart form data could not be read: ${message}`);
}
