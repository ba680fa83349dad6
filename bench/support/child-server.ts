/**
 * The real server in a child process for the HTTP benchmarks (so that the load generator does not
 * share its event loop): the child runs `serveInChild`, the parent `startChildServer`.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import type { SearchMode } from '../../src/index/port.js';
import { startServer } from '../../src/interfaces/http/server.js';
import type { SimilarityKind } from '../../src/similarity/model.js';

export interface ServeMessage {
  url?: string;
  count?: number;
  device?: string;
  error?: string;
}

export interface ChildServerOptions {
  index: string;
  similarity?: SimilarityKind;
  /** Exact (the default) or through the index's HNSW graph. */
  search?: SearchMode;
  maxWaiting: number;
}

/** In the child: runs the server and reports its URL to the parent; SIGTERM closes it. */
export async function serveInChild(options: ChildServerOptions): Promise<void> {
  try {
    const server = await startServer({
      indexDir: options.index,
      similarity: options.similarity,
      search: options.search,
      host: '127.0.0.1',
      port: 0,
      uploadLimits: { maxWaiting: options.maxWaiting },
    });
    const device = (await server.recommender.getEmbedder()).device;
    const message: ServeMessage = { url: server.url, count: server.recommender.manifest.count, device };
    process.send?.(message);
    // The embedder's counters on request (bench/load.ts: inference calls and photos per call), and
    // a CPU profile of this thread between 'profile-start' and { profileTo: path }.
    let profiler: Session | undefined;
    process.on('message', (m) => {
      if (m === 'timings')
        void server.recommender.getEmbedder().then((e) => process.send?.({ timings: e.timings() }));
      else if (m === 'profile-start') {
        profiler = new Session();
        profiler.connect();
        void profiler
          .post('Profiler.enable')
          .then(() => profiler?.post('Profiler.start'))
          .then(() => process.send?.({ profiling: true }));
      } else if (typeof m === 'object' && m !== null && 'profileTo' in m && profiler) {
        const session = profiler;
        profiler = undefined;
        void session
          .post('Profiler.stop')
          .then(({ profile }) => writeFile(String(m.profileTo), JSON.stringify(profile)))
          .then(() => process.send?.({ profiled: m.profileTo }))
          .finally(() => session.disconnect());
      }
    });
    // Closed, the server releases the model; with the IPC channel gone too, the process ends by itself.
    process.once('SIGTERM', () => void server.close().then(() => process.disconnect()));
  } catch (err) {
    const message: ServeMessage = { error: err instanceof Error ? err.message : String(err) };
    process.send?.(message);
    process.exit(1);
  }
}

export interface ChildServer {
  child: ChildProcess;
  ready: ServeMessage & { url: string };
  stop(): Promise<void>;
}

/** In the parent: forks `script` with `--serve` added to this process's arguments, waits until it serves. */
export async function startChildServer(script: string): Promise<ChildServer> {
  const child = fork(script, [...process.argv.slice(2), '--serve'], {
    execArgv: process.execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  const ready = await new Promise<ServeMessage>((resolve, reject) => {
    child.once('message', (m) => resolve(m as ServeMessage));
    child.once('exit', (code) => reject(new Error(`the server exited (${code}) before it was ready`)));
  });
  if (!ready.url) {
    await stop();
    throw new Error(`the server did not start: ${ready.error}`);
  }
  return { child, ready: { ...ready, url: ready.url }, stop };
}
