/**
 * The HTTP app: the JSON API under /api, catalogue photos under /images and the web page at /,
 * each concern a plugin of its own (plugins/), around one loaded Recommender. The API's contract,
 * schemas and helpers are in api/; this folder is the composition root: nothing below imports it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { z } from 'zod';
import type { AuditLog } from '../../access/audit.js';
import type { KeyStore } from '../../access/key-store.js';
import { MAX_PRODUCT_ID_LENGTH } from '../../catalogue/limits.js';
import { projectRoot } from '../../config.js';
import type { IndexingProgress } from '../../index/indexing-progress.js';
import { parseJson } from '../../io/json-file.js';
import type { CatalogueEditor } from '../../manage/editor.js';
import { QueryStore, type QueryStoreOptions } from '../../recommend/query-store.js';
import type { Recommender } from '../../recommend/recommender.js';
import { DEFAULT_UPLOAD_LIMITS, UploadLimiter, type UploadLimits } from './api/upload-limiter.js';
import { adminRoutes } from './plugins/admin.js';
import { type AuthLimits, auth } from './plugins/auth.js';
import { catalogueRoutes } from './plugins/catalogue.js';
import { clientErrorHandler, errors, frameworkErrors } from './plugins/errors.js';
import { garmentRoutes } from './plugins/garments.js';
import { imageRoutes } from './plugins/images.js';
import { openapi } from './plugins/openapi.js';
import { page } from './plugins/page.js';
import { productRoutes } from './plugins/products.js';
import { queryRoutes } from './plugins/queries.js';
import { recommendRoutes } from './plugins/recommend.js';
import { requestLog } from './plugins/request-log.js';
import { security } from './plugins/security.js';
import { uploads } from './plugins/uploads.js';
import { validation } from './plugins/validation.js';

/** Where `npm run build:web` writes the page. */
export const defaultWebDir = join(projectRoot, 'dist', 'web');

declare module 'fastify' {
  interface FastifyInstance {
    /** Resolves once no upload is arriving, being processed or waiting: then the model can be released. */
    uploadsSettled(): Promise<void>;
    /** The uploads in progress (receiving, waiting, processed). */
    uploadLimiter: UploadLimiter;
  }
}

/** Longest path parameter (a product id, decoded): at least the longest id the indexer accepts. */
export const MAX_PARAM_LENGTH = Math.max(1024, MAX_PRODUCT_ID_LENGTH);

export interface AppOptions {
  recommender: Recommender;
  /** The built page (default dist/web). */
  webDir?: string;
  /** A pino logger for requests and errors; none by default. */
  logger?: FastifyBaseLogger;
  /** Largest accepted photo, in bytes. */
  maxUploadBytes?: number;
  /** How many uploads are received and run at once, how many may wait, and how fast they must arrive. */
  uploadLimits?: Partial<UploadLimits>;
  /** How many uploaded photos' queries are kept for GET /api/queries/:queryId, and for how long. */
  queryStore?: QueryStoreOptions;
  /** The background indexing run's progress, for /api/health (serve while it indexes). */
  indexing?: () => IndexingProgress | undefined;
  /** The admin API (issue 13): the keys that may use it and its audit trail; without them it is off. */
  access?: { keys: KeyStore; audit?: AuditLog };
  /** Where the admin API's changes go. */
  editor?: CatalogueEditor;
  /** Every route but the health check needs a key. */
  private?: boolean;
  /** How many bad keys a client may present, and in what time, before 429. */
  authLimits?: Partial<AuthLimits>;
}

function packageVersion(): string {
  const path = join(projectRoot, 'package.json');
  return parseJson(path, readFileSync(path, 'utf8'), z.looseObject({ version: z.string().default('0.0.0') }))
    .version;
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { recommender } = options;
  const limiter = new UploadLimiter({ ...DEFAULT_UPLOAD_LIMITS, ...options.uploadLimits });
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    // One line per request, from the request-log plugin.
    logController: new LogController({ disableRequestLogging: true }),
    // Uploads have their own body timeout and minimum rate (plugins/uploads.ts), answered in JSON;
    // this is Node's limit for any whole request, a little later, as a backstop.
    requestTimeout: limiter.limits.bodyTimeoutMs + 10_000,
    // Product ids are path parameters: every id the indexer accepts must be reachable.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // Errors met before any route, in the API's JSON (plugins/errors.ts).
    frameworkErrors,
    clientErrorHandler,
    // Requests that arrive while closing get the API's own 503 (plugins/errors.ts).
    return503OnClosing: false,
  });
  // Connections that never finish sending their headers (Node's default: a minute).
  app.server.headersTimeout = 20_000;
  app.decorate('uploadLimiter', limiter);
  app.decorate('uploadsSettled', () => limiter.idle());

  await app.register(errors);
  await app.register(security);
  await app.register(requestLog);
  await app.register(validation);
  await app.register(openapi, { version: packageVersion() });
  if (options.access) {
    await app.register(auth, {
      keys: options.access.keys,
      private: options.private,
      limits: options.authLimits,
    });
  }
  await app.register(uploads, {
    maxBytes: options.maxUploadBytes,
    // (+1: offset is a form field too.)
    filters: recommender.schema.facets.length + 1,
  });
  const queries = new QueryStore(options.queryStore);
  await app.register(recommendRoutes, { recommender, limiter, queries, maxBytes: options.maxUploadBytes });
  await app.register(queryRoutes, { recommender, queries });
  await app.register(garmentRoutes, { recommender, limiter, maxBytes: options.maxUploadBytes });
  await app.register(productRoutes, { recommender });
  await app.register(catalogueRoutes, { recommender, limiter, indexing: options.indexing });
  await app.register(imageRoutes, { recommender });
  if (options.access) {
    await app.register(adminRoutes, {
      editor: options.editor,
      audit: options.access.audit,
      limiter,
      maxBytes: options.maxUploadBytes,
    });
  }
  await app.register(page, { root: options.webDir ?? defaultWebDir });
  return app;
}
