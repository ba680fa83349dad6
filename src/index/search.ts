/**
 * Exact k-nearest-neighbour search over unit vectors, by Euclidean distance (the same order as
 * cosine similarity). usearch's SIMD brute force where it loads; a plain TypeScript scan
 * otherwise, with the same results.
 */
import { createRequire } from 'node:module';

export interface Hit {
  row: number;
  /** Cosine similarity (1 - squared Euclidean distance / 2 on unit vectors). */
  score: number;
}

type UsearchModule = typeof import('usearch');

function loadUsearch(): UsearchModule | undefined {
  if (process.env.LOOKALIKE_SEARCH === 'typescript') return undefined;
  try {
    return createRequire(import.meta.url)('usearch') as UsearchModule;
  } catch {
    return undefined;
  }
}

const usearch = loadUsearch();

export type SearchBackend = 'usearch' | 'typescript';

export class ExactSearch {
  readonly count: number;
  readonly backend: SearchBackend;

  /**
   * @param vectors count x dim unit vectors, in a buffer of their own (usearch misreads
   *   subarray views, so one is copied here).
   */
  constructor(
    private data: Float32Array,
    readonly dim: number,
    backend?: SearchBackend,
  ) {
    this.count = data.length / dim;
    this.backend = backend ?? (usearch ? 'usearch' : 'typescript');
    if (this.backend === 'usearch' && !usearch) throw new Error('usearch is not available');
    if (data.byteOffset !== 0 || data.byteLength !== data.buffer.byteLength) this.data = data.slice();
  }

  /** The k nearest rows to the query, best first; `rows` restricts the search to those rows. */
  search(query: Float32Array, k: number, rows?: Uint32Array): Hit[] {
    if (this.count === 0 || k <= 0) return [];
    if (rows) return this.scanRows(query, Math.min(k, rows.length), rows);
    const n = Math.min(k, this.count);
    if (this.backend === 'usearch' && usearch) {
      const q = query.slice(); // never a view
      const matches = usearch.exactSearch(this.data, q, this.dim, n, usearch.MetricKind.L2sq) as {
        keys: BigUint64Array;
        distances: Float32Array;
      };
      const hits: Hit[] = [];
      for (let i = 0; i < matches.keys.length; i++) {
        hits.push({ row: Number(matches.keys[i]), score: 1 - (matches.distances[i] as number) / 2 });
      }
      // Ties (identical photos) in row order, as the TypeScript scan gives them.
      return hits.sort((a, b) => b.score - a.score || a.row - b.row);
    }
    return this.scanRows(query, n);
  }

  /** All vectors, count x dim (read-only: shared, not copied). */
  get vectors(): Float32Array {
    return this.data;
  }

  /** The vector of a row (a copy). */
  vector(row: number): Float32Array {
    return this.data.slice(row * this.dim, (row + 1) * this.dim);
  }

  /** Brute force in TypeScript: dot products, then a bounded selection of the best k. */
  private scanRows(query: Float32Array, k: number, rows?: Uint32Array): Hit[] {
    const total = rows ? rows.length : this.count;
    const dim = this.dim;
    const v = this.data;
    // Keep the best k in a small sorted array: fine for the small k of recommendations.
    const best: Hit[] = [];
    for (let i = 0; i < total; i++) {
      const row = rows ? (rows[i] as number) : i;
      const base = row * dim;
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += (v[base + d] as number) * (query[d] as number);
      if (best.length === k && dot <= (best[k - 1] as Hit).score) continue;
      let at = best.length;
      while (at > 0 && (best[at - 1] as Hit).score < dot) at--;
      best.splice(at, 0, { row, score: dot });
      if (best.length > k) best.pop();
    }
    return best;
  }
}
