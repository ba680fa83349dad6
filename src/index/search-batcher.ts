/**
 * Exact searches that arrive together share one pass over the vectors. One query alone is
 * memory-bound: usearch reads all 44k x 2048 floats (360 MB) to score it, about 15 ms. Queries
 * queued in the same turn of the event loop (the recommendations of one inference batch reach
 * their search together) go through one matrix product and a top-k instead (compute/knn.ts),
 * which reads the vectors once for all of them: at 16 queries, about a fifth of the CPU time per
 * query. Both are exact; the neighbours are the same (ties in row order either way).
 */
import { BatchKnn } from '../compute/knn.js';
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
  /** Searches run alone and batches run, and the queries those batches held (for benchmarks). */
  readonly stats = { single: 0, batches: 0, batchedQueries: 0 };

  constructor(private readonly exact: ExactSearch) {}

  /** The k nearest rows to the query, best first (as ExactSearch.search without rows). */
  search(query: Float32Array, k: number): Promise<Hit[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ query, k, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => void this.flush());
    });
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const jobs = this.queue.splice(0, MAX_BATCH);
    if (this.queue.length > 0) {
      this.scheduled = true;
      setImmediate(() => void this.flush());
    }
    if (jobs.length === 0) return;
    try {
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

  /** Releases the matrix product's session (searches after this run one at a time). */
  async close(): Promise<void> {
    this.closed = true;
    const knn = this.knn;
    this.knn = undefined;
    await (await knn?.catch(() => undefined))?.close();
  }
}
