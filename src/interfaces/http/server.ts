/** Loads an index and the model once, and serves the app until closed. */
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Device } from '../../embeddings/runtime.js';
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
}

export interface RunningServer {
  app: FastifyInstance;
  recommender: Recommender;
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
  const { indexDir, host, port, device, search, efSearch, similarity, ...appOptions } = options;
  const recommender = await Recommender.open(indexDir, { eager: true, device, search, efSearch, similarity });
  const app = await buildApp({ ...appOptions, recommender }).catch(async (err: unknown) => {
    await recommender.close();
    throw err;
  });
  // Requests whose clients went away still run to the end: release the model only after them.
  app.addHook('onClose', async () => {
    await app.uploadsSettled();
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
  return { app, recommender, url: urlFor(host, actualPort), close };
}
