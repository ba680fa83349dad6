/**
 * Unfiltered exact searches, as cheaply as they can be done. One query alone is memory-bound:
 * usearch reads all 44k x 2048 floats (360 MB; 470 MB at the learned 2,629) to score it, about
 * 15 ms on two cores. On a large catalogue, once built (in the background, from the first search
 * on), the two-pass search (pruned-search.ts) reads a fifth of that and scores a few hundred rows
 * in full: each query alone, about 5 ms on one core, and queries queued together share its first
 * pass (about 2 ms each, 16 at once: `npm run bench:search`). Before it is ready, or for a query it hands
 * back, queries queued in the same turn of the event loop (the recommendations of one inference
 * batch reach their search together) go through one matrix product and a top-k (compute/knn.ts),
 * which reads the vectors once for all of them. All are exact; the neighbours are the same (ties
 * in row order).
 */
import { BatchKnn } from '../compute/knn.js';
import { PRUNED_MIN_ROWS, PrunedSearch, type PrunedSearchOptions } from './pruned-search.js';
import type { ExactSearch, Hit } from './search.js';

interface Job {
  query: Float32Array;
  k: number;
  resolve: (hits: Hit[]) => void;
  reject: (err: unknown) => void;
}

/** At most this many queries per matrix product (memory: queries x rows scores). */
const MAX_BATCH = 64;

export class SearchBatcher {
  private queue: Job[] = [];
  private scheduled = false;
  private knn?: Promise<BatchKnn>;
  private closed = false;
  /** Searches run alone and batches run, the queries those batches held, and two-pass searches (for benchmarks). */
  readonly stats = { single: 0, batches: 0, batchedQueries: 0, twoPass: 0 };
  private pruned?: PrunedSearch;
  /** Flushes under way: they end before the sessions are released (see close). */
  private readonly flushing = new Set<Promise<void>>();
  private building?: Promise<void>;

  /**
   * @param twoPass the two-pass search's settings, and from how many rows on it is built (default
   *   PRUNED_MIN_ROWS); false for none. Default: none when LOOKALIKE_TWO_PASS=0 (for measuring).
   */
  constructor(
    private readonly exact: ExactSearch,
    private readonly twoPass: false | (PrunedSearchOptions & { minRows?: number }) = process.env
      .LOOKALIKE_TWO_PASS === '0'
      ? false
      : {},
  ) {}

  /** The two-pass search once built; the first call on a large catalogue starts building it. */
  private prunedSearch(): PrunedSearch | undefined {
    const { exact } = this;
    if (this.pruned || this.building || this.closed || !this.twoPass) return this.pruned;
    const { minRows = PRUNED_MIN_ROWS, ...options } = this.twoPass;
    if (exact.count < minRows || exact.backend !== 'usearch') return undefined;
    this.building = PrunedSearch.build(exact.vectors, exact.dim, options).then(
      (built) => {
        if (!this.closed) this.pruned = built;
        else void built.close();
      },
      // (Searches go on in full: as exact, only slower.)
      () => undefined,
    );
    return undefined;
  }

  /** The two-pass search's own counts (rows scored in full, queries handed back), once built. */
  get twoPassStats(): PrunedSearch['stats'] | undefined {
    return this.pruned?.stats;
  }

  /** Resolves once the two-pass search is ready (or will not be): for tests and benchmarks. */
  async ready(): Promise<boolean> {
    this.prunedSearch();
    await this.building;
    return this.pruned !== undefined;
  }

  /** The k nearest rows to the query, best first (as ExactSearch.search without rows). */
  search(query: Float32Array, k: number): Promise<Hit[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ query, k, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => this.track(this.flush()));
    });
  }

  /** Keeps a flush counted until it ends (close waits for those under way). */
  private track(flush: Promise<void>): void {
    this.flushing.add(flush);
    void flush.finally(() => this.flushing.delete(flush));
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    let jobs = this.queue.splice(0, MAX_BATCH);
    if (this.queue.length > 0) {
      this.scheduled = true;
      setImmediate(() => this.track(this.flush()));
    }
    if (jobs.length === 0) return;
    try {
      const pruned = this.prunedSearch();
      if (pruned) {
        // (Should the first pass fail, closed meanwhile say, the full scan below answers instead.)
        const found = await pruned.searchMany(jobs).catch(() => jobs.map(() => undefined));
        jobs = jobs.filter((job, i) => {
          const hits = found[i];
          if (hits) {
            this.stats.twoPass += 1;
            job.resolve(hits);
          }
          return !hits;
        });
        if (jobs.length === 0) return;
      }
      if (jobs.length === 1 || this.closed) {
        this.stats.single += jobs.length;
        for (const job of jobs) job.resolve(this.exact.search(job.query, job.k));
        return;
      }
      this.knn ??= BatchKnn.create(this.exact.vectors, this.exact.dim, { threads: 1 });
      const knn = await this.knn;
      const dim = this.exact.dim;
      const queries = new Float32Array(jobs.length * dim);
      jobs.forEach((job, i) => {
        queries.set(job.query, i * dim);
      });
      const k = Math.max(...jobs.map((job) => job.k));
      const found = await knn.search(queries, k);
      this.stats.batches += 1;
      this.stats.batchedQueries += jobs.length;
      jobs.forEach((job, i) => {
        const hits: Hit[] = [];
        for (let j = 0; j < Math.min(job.k, found.k); j++) {
          const row = found.rows[i * found.k + j] as number;
          if (row >= 0) hits.push({ row, score: found.scores[i * found.k + j] as number });
        }
        job.resolve(hits);
      });
    } catch (err) {
      for (const job of jobs) job.reject(err);
    }
  }

  /**
   * Releases the matrix products' sessions once the searches under way have ended, so that those
   * are answered rather than failed; searches after this run one at a time.
   */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.flushing]);
    const pruned = this.pruned;
    this.pruned = undefined;
    await pruned?.close();
    const knn = this.knn;
    this.knn = undefined;
    await (await knn?.catch(() => undefined))?.close();
  }
}
