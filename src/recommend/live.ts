/**
 * Keeps a running recommender in step with its store without a restart: a new index generation
 * (a `lookalike index` run over the folder, in another process) is loaded and switched to; changes
 * written through the API by another process (the folder's write-ahead log, PostgreSQL's change
 * table) are applied in memory. The store is polled (about every second: the manifest's generation
 * and the log's new lines, a few small reads), and PostgreSQL also notifies at once (LISTEN).
 */
import type { Recommender } from './recommender.js';

export interface WatchOptions {
  /** Polling period in milliseconds (default 1000). */
  intervalMs?: number;
  /** Told when a check fails (the store is unreachable, a generation cannot be loaded); it is tried again. */
  onError?: (err: unknown) => void;
}

export interface CatalogueWatcher {
  /** Checks now (and waits for the check). */
  check(): Promise<void>;
  /** Stops watching (after the check in progress). */
  close(): Promise<void>;
}

export async function watchCatalogue(
  recommender: Recommender,
  options: WatchOptions = {},
): Promise<CatalogueWatcher> {
  const interval = options.intervalMs ?? 1000;
  let closed = false;
  let running: Promise<void> | undefined;
  let again = false;

  const once = async () => {
    const generation = await recommender.store.generation();
    if (generation !== recommender.loadedGeneration) await recommender.reload();
    else await recommender.catchUp();
  };
  const check = (): Promise<void> => {
    if (closed) return Promise.resolve();
    if (running) {
      // A notice during a check: check once more after it.
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        await once().catch((err: unknown) => options.onError?.(err));
      } while (again && !closed);
    })().finally(() => {
      running = undefined;
    });
    return running;
  };

  const timer = setInterval(() => void check(), interval);
  timer.unref();
  let listener: { close(): Promise<void> } | undefined;
  try {
    listener = await recommender.store.listen(() => void check());
  } catch (err) {
    options.onError?.(err); // (polling still works)
  }
  return {
    check,
    async close() {
      closed = true;
      clearInterval(timer);
      await running;
      await listener?.close();
    },
  };
}
