/**
 * The HTTP app: the JSON API under /api, catalogue photos under /images and the web page at /,
 * each concern a plugin of its own (plugins/), around one loaded Recommender. The API's contract,
 * schemas and helpers are in api/; this folder is the composition root: nothing below imports it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { z } from 'zod';
import { projectRoot } from '../../config.js';
import { parseJson } from '../../io/json-file.js';
import type { Recommender } from '../../recommend/recommender.js';
import { DEFAULT_UPLOAD_LIMITS, UploadLimiter, type UploadLimits } from './api/upload-limiter.js';
import { catalogueRoutes } from './plugins/catalogue.js';
import { errors } from './plugins/errors.js';
import { imageRoutes } from './plugins/images.js';
import { openapi } from './plugins/openapi.js';
import { page } from './plugins/page.js';
import { productRoutes } from './plugins/products.js';
import { recommendRoutes } from './plugins/recommend.js';
import { requestLog } from './plugins/request-log.js';
import { uploads } from './plugins/uploads.js';
import { validation } from './plugins/validation.js';

/** Where `npm run build:web` writes the page. */
export const defaultWebDir = join(projectRoot, 'dist', 'web');

declare module 'fastify' {
  interface FastifyInstance {
    /** Resolves once no upload is being processed or waiting: then the model can be released. */
    uploadsSettled(): Promise<void>;
  }
}

export interface AppOptions {
  recommender: Recommender;
  /** The built page (default dist/web). */
  webDir?: string;
  /** A pino logger for requests and errors; none by default. */
  logger?: FastifyBaseLogger;
  /** Largest accepted photo, in bytes. */
  maxUploadBytes?: number;
  /** How many uploads run at once and how many may wait. */
  uploadLimits?: Partial<UploadLimits>;
}

function packageVersion(): string {
  const path = join(projectRoot, 'package.json');
  return parseJson(path, readFileSync(path, 'utf8'), z.looseObject({ version: z.string().default('0.0.0') }))
    .version;
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { recommender } = options;
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    // One line per request, from the request-log plugin.
    logController: new LogController({ disableRequestLogging: true }),
    // A whole request (a 20 MB upload included) must arrive within a minute: a client that trickles
    // its upload cannot hold one of the few upload turns for ever.
    requestTimeout: 60_000,
  });
  const limiter = new UploadLimiter({ ...DEFAULT_UPLOAD_LIMITS, ...options.uploadLimits });
  app.decorate('uploadsSettled', () => limiter.idle());

  await app.register(errors);
  await app.register(requestLog);
  await app.register(validation);
  await app.register(openapi, { version: packageVersion() });
  await app.register(uploads, {
    maxBytes: options.maxUploadBytes,
    filters: recommender.schema.facets.length,
  });
  await app.register(recommendRoutes, { recommender, limiter });
  await app.register(productRoutes, { recommender });
  await app.register(catalogueRoutes, { recommender, limiter });
  await app.register(imageRoutes, { recommender });
  await app.register(page, { root: options.webDir ?? defaultWebDir });
  return app;
}
