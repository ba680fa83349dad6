/**
 * Serve while it indexes: `serve --catalogue` runs the indexing in the background of the server.
 * Searches start as soon as something is searchable (the index there already, or the first partial
 * generation the run publishes), grow with each one, and switch to the learned similarity when the
 * run commits. Progress (indexed/total, rate, ETA) is kept for /api/health and the page.
 */

import { IndexingTracker } from '../../index/indexing-progress.js';
import { localFolder, readStoreSpec } from '../../index/location/open.js';
import type { IndexingResult } from '../../index/pipeline.js';
import { log } from '../../log.js';
import { type IndexRunOptions, runIndex } from './run-index.js';

/** Photos embedded before the first partial generation: enough to search, soon enough to start. */
export const FIRST_PUBLISH = 256;

export interface BackgroundIndexing {
  readonly tracker: IndexingTracker;
  /** Resolves once searches can start; rejects when the run fails before anything is searchable. */
  readonly ready: Promise<void>;
  /** The run's result, or undefined when it failed or was stopped (never rejects). */
  readonly finished: Promise<IndexingResult | undefined>;
  /** Stops the run between batches and waits for it to let go of the index. */
  stop(): Promise<void>;
}

export async function indexInBackground(
  options: Omit<IndexRunOptions, 'publish' | 'signal' | 'onProgress'>,
): Promise<BackgroundIndexing> {
  const tracker = new IndexingTracker();
  const abort = new AbortController();
  const folder = localFolder(options.location);
  // Something is searchable already: the server starts at once and the run brings it up to date.
  const searchable = (await readStoreSpec(options.location).catch(() => undefined)) !== undefined;
  let markReady!: () => void;
  let failEarly!: (err: unknown) => void;
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    failEarly = reject;
  });
  if (searchable) markReady();

  const finished = runIndex({
    ...options,
    // (PostgreSQL commits each claim: rows are searchable as they land, no partial generations.)
    ...(folder
      ? {
          publish: {
            first: FIRST_PUBLISH,
            onPublished: (_generation: number, count: number) => {
              tracker.published(count);
              markReady();
            },
          },
        }
      : {}),
    signal: abort.signal,
    // The first photos are searchable sooner when the model is ready once planning ends.
    eagerModel: !searchable,
    onProgress: (stage, done, total) => {
      if (stage === 'photos') {
        tracker.photos(done, total);
        if (!folder && done > 0) markReady();
      } else tracker.learning();
    },
  }).then(
    (result) => {
      tracker.done(result.count);
      log.info(`indexing finished: ${result.count} products searchable`);
      markReady();
      return result;
    },
    (err: unknown) => {
      const message = abort.signal.aborted ? 'stopped' : (err as Error).message;
      tracker.failed(message);
      if (!abort.signal.aborted) log.error(`indexing failed: ${message}`);
      failEarly(err);
      return undefined;
    },
  );
  return {
    tracker,
    ready,
    finished,
    stop: async () => {
      abort.abort(new Error('the server is stopping'));
      await finished;
    },
  };
}
