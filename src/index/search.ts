/**
 * Exact k-nearest-neighbour search over unit vectors, by Euclidean distance (the same order as
 * cosine similarity). usearch's SIMD brute force where it loads; a plain TypeScript scan
 * otherwise, with the same results.
 */
import { UsearchExact, usearchExactAvailable } from './usearch.js';

export interface Hit {
  row: number;
  /** Cosine similarity (1 - squared Euclidean distance / 2 on unit vectors). */
  score: number;
}

export type SearchBackend = 'usearch' | 'typescript';

export class ExactSearch {
  readonly count: number;
  readonly backend: SearchBackend;
  private readonly data: Float32Array;
  private readonly usearch?: UsearchExact;

  /** @param vectors count x dim unit vectors. */
  constructor(
    vectors: Float32Array,
    readonly dim: number,
    backend?: SearchBackend,
  ) {
    this.count = vectors.length / dim;
    this.backend = backend ?? (usearchExactAvailable ? 'usearch' : 'typescript');
    this.usearch = this.backend === 'usearch' ? new UsearchExact(vectors, dim) : undefined;
    this.data = this.usearch?.vectors ?? vectors;
  }

  /** The k nearest rows to the query, best first; `rows` restricts the search to those rows. */
  search(query: Float32Array, k: number, rows?: Uint32Array): Hit[] {
    if (this.count === 0 || k <= 0) return [];
    if (rows) return this.scanRows(query, Math.min(k, rows.length), rows);
    const n = Math.min(k, this.count);
    if (this.usearch) {
      const matches = this.usearch.search(query, n);
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
      insertBest(best, { row, score: dot }, k);
    }
    return best;
  }
}

/**
 * Keeps `best` the k best hits, best first, ties in row order: a small sorted array, fine for the
 * small k of recommendations (the TypeScript scan and the two-pass search's second pass).
 */
export function insertBest(best: Hit[], hit: Hit, k: number): void {
  const before = (a: Hit, b: Hit) => a.score > b.score || (a.score === b.score && a.row < b.row);
  if (best.length === k && !before(hit, best[k - 1] as Hit)) return;
  let at = best.length;
  while (at > 0 && before(hit, best[at - 1] as Hit)) at--;
  best.splice(at, 0, hit);
  if (best.length > k) best.pop();
}
