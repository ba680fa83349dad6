/**
 * The admin API (issue 13): changes to catalogue products under /api/admin, each made with an API
 * key (plugins/auth.ts) through the store's CatalogueEditor (manage/editor.ts) and written to the
 * audit trail (access/audit.ts) before the answer.
 *
 * - PUT /api/admin/products/:id: multipart, a photo ("image") and/or metadata (JSON, "metadata").
 * - PATCH /api/admin/products/:id: JSON {metadata}: columns merged in, the photo not embedded again.
 * - DELETE /api/admin/products/:id.
 * - POST /api/admin/products:batch: up to 100 changes, JSON, or multipart with the photos as parts.
 *
 * While no key can be used (none made, or all revoked) these routes answer 404, as if absent.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { AuditEntry, AuditLog } from '../../../access/audit.js';
import type { KeyRecord } from '../../../access/keys.js';
import { type CatalogueEditor, type ChangeResult, InvalidChangeError } from '../../../manage/editor.js';
import {
  adminIdParamsZ,
  batchBodyZ,
  batchResultZ,
  type Change,
  changeResultZ,
  MAX_BATCH_BYTES,
  patchBodyZ,
  putFormZ,
} from '../api/admin-schemas.js';
import { ApiError } from '../api/api-error.js';
import { MAX_UPLOAD_BYTES } from '../api/contract.js';
import { quote } from '../api/echo.js';
import { toApiError } from '../api/error-map.js';
import { errorResponses } from '../api/schemas.js';
import type { UploadLimiter } from '../api/upload-limiter.js';
import { type Photo, readBatchForm, readPutForm } from './admin-forms.js';
import { receiveThenRun } from './uploads.js';

export interface AdminRoutesOptions {
  /** Where changes go; without one, the routes check keys and then answer 503. */
  editor?: CatalogueEditor;
  audit?: AuditLog;
  limiter: UploadLimiter;
  maxBytes?: number;
}

/** The answer a failed change gets; server faults stay in the log. */
function failure(err: unknown): ApiError {
  if (err instanceof InvalidChangeError) return new ApiError(400, 'invalid-change', err.message);
  return (
    toApiError(err) ??
    new ApiError(500, 'internal-error', 'something went wrong on the server; the error was logged')
  );
}

const AUTH_DOC =
  'Needs `Authorization: Bearer <key>` (made with `lookalike keys create`): 401 without a valid key, ' +
  '429 after too many bad keys (see Retry-After); 404 while the server has no key at all.';

export const adminRoutes: FastifyPluginAsyncZod<AdminRoutesOptions> = async (
  app,
  { editor, audit, limiter, maxBytes = MAX_UPLOAD_BYTES },
) => {
  // Before the body is read: off without keys, then the key.
  app.addHook('onRequest', async (request) => {
    if (!(await app.keysActive())) {
      const path = request.url.split('?')[0] ?? '';
      throw new ApiError(404, 'not-found', `no such resource: ${request.method} ${quote(path, 200)}`);
    }
    await app.authenticate(request);
  });

  // A JSON route sent another type of body: said in the admin API's words.
  app.setErrorHandler((err, _request, _reply) => {
    const code = (err as { code?: unknown }).code;
    if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      throw new ApiError(
        415,
        'not-json',
        "send this request's body as JSON (Content-Type: application/json)",
      );
    }
    throw err;
  });

  /** A JSON body, or 415 (Fastify would parse text/plain too, and the schema refuse it in other words). */
  const requireJson = async (request: FastifyRequest, multipartToo = true) => {
    if (multipartToo && request.isMultipart()) return;
    const type = request.headers['content-type'] ?? '';
    if (!/^application\/([\w.+-]+\+)?json\s*(;|$)/i.test(type)) {
      throw new ApiError(
        415,
        'not-json',
        "send this request's body as JSON (Content-Type: application/json)",
      );
    }
  };

  const needEditor = (): CatalogueEditor => {
    if (!editor) throw new ApiError(503, 'busy', 'this server takes no catalogue changes');
    return editor;
  };

  const entry = (
    key: KeyRecord,
    action: Change['action'],
    id: string,
    outcome: { result: ChangeResult } | { error: ApiError },
    batch = false,
  ): AuditEntry => ({
    time: new Date().toISOString(),
    keyId: key.id,
    productId: id,
    action,
    ...('result' in outcome
      ? {
          result: outcome.result.outcome,
          status: outcome.result.outcome === 'created' ? 201 : 200,
          sequence: outcome.result.sequence,
          ...(outcome.result.hash ? { hash: outcome.result.hash } : {}),
        }
      : { result: outcome.error.code, status: outcome.error.statusCode }),
    ...(batch ? { batch: true } : {}),
  });

  /** Makes one change and writes its audit line, success or failure, before answering. */
  const change = async (
    request: FastifyRequest,
    reply: FastifyReply,
    action: Change['action'],
    id: string,
    run: (editor: CatalogueEditor) => Promise<ChangeResult>,
  ) => {
    const key = await app.authenticate(request);
    let result: ChangeResult;
    try {
      result = await run(needEditor());
    } catch (err) {
      const error = failure(err);
      if (error.statusCode >= 500) request.log.error({ err }, 'change failed');
      await audit?.append([entry(key, action, id, { error })]);
      throw error;
    }
    await audit?.append([entry(key, action, id, { result })]);
    reply.code(result.outcome === 'created' ? 201 : 200);
    return result;
  };

  app.put(
    '/api/admin/products/:id',
    {
      config: { multipartBody: putFormZ },
      schema: {
        tags: ['admin'],
        summary: 'Create a product, or replace its photo and/or metadata',
        description:
          "Multipart: a photo in `image` and/or the metadata as a JSON object in `metadata` (it replaces all of the product's metadata). " +
          'A new product needs a photo. 201 when created, 200 when replaced (or unchanged). ' +
          'Durable before the answer; searches see it within a second. ' +
          'Errors as for POST /api/recommend: 400 bad field or nothing to change, 400 invalid-change (e.g. a new product without a photo), ' +
          '408 the body arrived too slowly, 413 photo over 20 MiB or 100 megapixels, 415 not multipart, not an image or an unsupported format, ' +
          `422 damaged photo or one too costly to decode, 503 too many uploads at once (see Retry-After). ${AUTH_DOC}`,
        security: [{ apiKey: [] }],
        params: adminIdParamsZ,
        response: { 200: changeResultZ, 201: changeResultZ, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      return receiveThenRun(
        request,
        reply,
        { limiter, maxBytes },
        (read) => readPutForm(request, read, maxBytes),
        (form) =>
          change(request, reply, 'put', id, (editor) =>
            editor.put({
              id,
              ...(form.photo ? { photo: { bytes: form.photo.bytes, filename: form.photo.filename } } : {}),
              ...(form.metadata ? { metadata: form.metadata } : {}),
            }),
          ),
        // Only a photo needs a turn of the model.
        (form) => form.photo !== undefined,
      );
    },
  );

  app.patch(
    '/api/admin/products/:id',
    {
      schema: {
        tags: ['admin'],
        summary: "Change a product's metadata",
        description:
          'JSON `{"metadata": {...}}`: the columns given are set, the others kept. The photo is not embedded again. ' +
          `Errors: 400 bad body or invalid change, 404 no such product, 415 not JSON. ${AUTH_DOC}`,
        security: [{ apiKey: [] }],
        params: adminIdParamsZ,
        body: patchBodyZ,
        response: { 200: changeResultZ, ...errorResponses },
      },
      preValidation: (request) => requireJson(request, false),
    },
    async (request, reply) => {
      const { id } = request.params;
      return change(request, reply, 'patch', id, (editor) => editor.patch(id, request.body.metadata));
    },
  );

  app.delete(
    '/api/admin/products/:id',
    {
      schema: {
        tags: ['admin'],
        summary: 'Delete a product',
        description: `Its photo and metadata leave the index; searches stop finding it within a second. Errors: 404 no such product. ${AUTH_DOC}`,
        security: [{ apiKey: [] }],
        params: adminIdParamsZ,
        response: { 200: changeResultZ, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      return change(request, reply, 'delete', id, (editor) => editor.delete(id));
    },
  );

  /** Runs a batch's changes in order, each on its own: one that fails does not stop the others. */
  const runBatch = async (key: KeyRecord, changes: Change[], photos: ReadonlyMap<string, Photo>) => {
    const editor = needEditor();
    const results: {
      index: number;
      id: string;
      status: number;
      result?: ChangeResult;
      error?: { code: ApiError['code']; message: string };
    }[] = [];
    const entries: AuditEntry[] = [];
    for (const [index, c] of changes.entries()) {
      try {
        const result =
          c.action === 'put'
            ? await editor.put({
                id: c.id,
                ...(c.photo !== undefined ? { photo: photos.get(c.photo) as Photo } : {}),
                ...(c.metadata ? { metadata: c.metadata } : {}),
              })
            : c.action === 'patch'
              ? await editor.patch(c.id, c.metadata)
              : await editor.delete(c.id);
        results.push({ index, id: c.id, status: result.outcome === 'created' ? 201 : 200, result });
        entries.push(entry(key, c.action, c.id, { result }, true));
      } catch (err) {
        const error = failure(err);
        if (error.statusCode >= 500) app.log.error({ err }, 'a batch change failed');
        results.push({
          index,
          id: c.id,
          status: error.statusCode,
          error: { code: error.code, message: error.message },
        });
        entries.push(entry(key, c.action, c.id, { error }, true));
      }
    }
    await audit?.append(entries);
    return { results };
  };

  app.post(
    '/api/admin/products::batch',
    {
      schema: {
        tags: ['admin'],
        summary: 'Up to 100 changes at once, each with its own result',
        description:
          'JSON `{"changes": [{"action": "put"|"patch"|"delete", "id", "metadata"?, "photo"?}]}`, made in order, each on its own ' +
          '(one that fails does not undo or stop the others; its result carries its error). ' +
          'Photos travel in a multipart body: the same JSON in the field `changes`, and each photo as a file part whose name a put ' +
          `gives in \`photo\` (each part named by one change). At most ${MAX_BATCH_BYTES / 1024 / 1024} MiB in all, each photo at most 20 MiB. ` +
          `Errors of the whole batch: 400 bad body, 408, 413, 415, 503 as for PUT. ${AUTH_DOC}`,
        security: [{ apiKey: [] }],
        body: batchBodyZ.optional(),
        response: { 200: batchResultZ, ...errorResponses },
      },
      preValidation: (request) => requireJson(request),
      // Multipart bodies are not validated by the schema (read by the route).
      validatorCompiler: () => (data) => {
        if (data === undefined || data === null) return { value: data };
        const parsed = batchBodyZ.safeParse(data);
        if (parsed.success) return { value: parsed.data };
        const issue = parsed.error.issues[0];
        const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
        return { error: new ApiError(400, 'bad-request', `${where}${issue?.message ?? 'is not valid'}`) };
      },
    },
    async (request, reply) => {
      if (!request.isMultipart()) {
        const body = request.body;
        if (!body)
          throw new ApiError(
            400,
            'bad-request',
            'send the changes as JSON {"changes": [...]}, or multipart with photos',
          );
        const key = await app.authenticate(request);
        checkNoPhotos(body.changes);
        return runBatch(key, body.changes, new Map());
      }
      return receiveThenRun(
        request,
        reply,
        { limiter, maxBytes: MAX_BATCH_BYTES },
        async (read) => {
          const form = await readBatchForm(request, read, maxBytes);
          return { form, key: await app.authenticate(request) };
        },
        ({ form, key }) => runBatch(key, form.changes, form.photos),
        ({ form }) => form.photos.size > 0,
      );
    },
  );
};

function checkNoPhotos(changes: readonly Change[]): void {
  const i = changes.findIndex((c) => c.action === 'put' && c.photo !== undefined);
  if (i >= 0) {
    throw new ApiError(400, 'bad-field', `change ${i} names a photo part: send photos in a multipart body`);
  }
}
