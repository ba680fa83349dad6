/** Loads an index and the model once, and serves the app until closed. */
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { hasActiveKey } from '../../access/key-store.js';
import { openAccess } from '../../access/open.js';
import type { Device } from '../../embeddings/runtime.js';
import { describeLocation } from '../../index/location/open.js';
import { openEditor } from '../../manage/open.js';
import { type CatalogueWatcher, watchCatalogue } from '../../recommend/live.js';
import { Recommender, type SearchMode } from '../../recommend/recommender.js';
import type { SimilarityKind } from '../../similarity/model.js';
import { type AppOptions, buildApp } from './app.js';

export interface ServerOptions extends Omit<AppOptions, 'recommender' | 'logger'> {
  indexDir: string;
  host: string;
  /** 0: any free port. */
  port: number;
  device?: Device;
  /** Exact or HNSW search (default: the store's own default). */
  search?: SearchMode;
  efSearch?: number;
  similarity?: SimilarityKind;
  logger?: FastifyBaseLogger;
  /**
   * Follow the store (default): load a new index generation written by another process, and apply
   * changes made through the API elsewhere, without a restart (recommend/live.ts). `intervalMs`:
   * how often the store is polled (default 1000).
   */
  watch?: boolean | { intervalMs?: number };
}

export interface RunningServer {
  app: FastifyInstance;
  recommender: Recommender;
  /** What keeps the recommender in step with its store (undefined with watch: false). */
  watcher?: CatalogueWatcher;
  /** Where to open the page, e.g. http://127.0.0.1:8080/ */
  url: string;
  /**
   * Stops taking connections, finishes the requests in progress, then releases the model. Requests
   * still unfinished after `graceMs` (default 30 s) lose their connections; the model is released
   * once their work is done.
   */
  close(graceMs?: number): Promise<void>;
}

function urlFor(host: string, port: number): string {
  const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return `http://${shown}:${port}/`;
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { indexDir, host, port, device, search, efSearch, similarity, watch, ...appOptions } = options;
  const recommender = await Recommender.open(indexDir, { eager: true, device, search, efSearch, similarity });
  // The admin API (issue 13): the store's keys and audit trail, and its editor; off until a key exists.
  const access = appOptions.access ? undefined : openAccess(indexDir);
  const editor =
    appOptions.editor ??
    (await openEditor(recommender).catch((err: unknown) => {
      options.logger?.warn(`catalogue changes through the API are off: ${(err as Error).message}`);
      return undefined;
    }));
  const keys = (appOptions.access ?? access)?.keys;
  if (appOptions.private && keys && !hasActiveKey(await keys.records().catch(() => new Map()))) {
    options.logger?.warn(
      `--private, but there is no API key yet: every route but /api/health answers 401 until one is made (lookalike keys create --index ${describeLocation(indexDir)})`,
    );
  }
  const app = await buildApp({
    ...appOptions,
    access: appOptions.access ?? access,
    editor,
    recommender,
  }).catch(async (err: unknown) => {
    await access?.close();
    await recommender.close();
    throw err;
  });
  let lastFault: string | undefined;
  const watcher =
    watch === false
      ? undefined
      : await watchCatalogue(recommender, {
          intervalMs: typeof watch === 'object' ? watch.intervalMs : undefined,
          onError: (err) => {
            // (Said once per distinct fault, not at every poll.)
            const message = (err as Error).message;
            if (message !== lastFault) app.log.warn(`cannot follow the store: ${message}`);
            lastFault = message;
          },
        });
  recommender.onChange((change) => {
    app.log.info(
      change.reason === 'reload'
        ? `loaded a new generation of the index: ${change.count} products`
        : `applied changes to ${change.ids?.length ?? 0} products: ${change.count} products`,
    );
  });
  // Requests whose clients went away still run to the end: release the model only after them.
  app.addHook('onClose', async () => {
    await watcher?.close();
    await app.uploadsSettled();
    await access?.close();
    await recommender.close();
  });
  try {
    await app.listen({ host, port });
  } catch (err) {
    await app.close();
    throw err;
  }
  const address = app.server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  const close = async (graceMs = 30_000) => {
    const force = setTimeout(() => {
      app.log.warn(`requests still in progress after ${graceMs / 1000} s: closing their connections`);
      app.server.closeAllConnections();
    }, graceMs);
    try {
      await app.close();
    } finally {
      clearTimeout(force);
    }
  };
  return { app, recommender, watcher, url: urlFor(host, actualPort), close };
}
