/**
 * Exact search in two passes, for large catalogues: a first pass over a few hundred dimensions
 * ranks every row by an upper bound of its score, and only the rows whose bound can still beat
 * the k-th best are scored in full. The answer is the same as a full scan's (up to float rounding
 * of near-ties), at a fraction of the memory read: the full scan reads every row's 2,048-2,629
 * floats (360-470 MB at 44k products) for each pass, and is bound by memory bandwidth.
 *
 * The bound. V (d x dim) has rows spanning the leading directions of the vectors (found from a
 * sample of them, a randomised range finder), scaled so that its largest singular value is below
 * 1, which is checked. Then I - VᵀV is positive semi-definite, and for a query q and a row x:
 *
 *   q·x = (Vq)·(Vx) + qᵀ(I - VᵀV)x  ≤  (Vq)·(Vx) + ‖q‖⊥ ‖x‖⊥,   where ‖y‖⊥² = ‖y‖² - ‖Vy‖²
 *
 * (Cauchy-Schwarz in the inner product I - VᵀV). That bound is one inner product of d + 1
 * dimensions, [Vq, ‖q‖⊥]·[Vx, ‖x‖⊥]: the first pass is usearch's exact inner-product search over
 * those (68 MB at 44k rows and d = 384), which gives the candidates in order of their bound; the
 * second scores them in full until the next candidate's bound is below the k-th best score found.
 * Where the bounds are too loose for that (a photo unlike any of the catalogue's, such as most
 * shoppers' photos: every candidate's bound above the k-th best), the query is handed back for a
 * full scan after the first pass, which costs a fifth of one.
 *
 * Written by hand: no library on npm does exact search with a certified bound. The matrix
 * products of the build run in onnxruntime (compute/matmul.ts).
 */
import { MatMul, matrix } from '../compute/matmul.js';
import { Random } from '../compute/random.js';
import { type Hit, insertBest } from './search.js';
import { UsearchExact } from './usearch.js';

export interface PrunedSearchOptions {
  /** Dimensions of the first pass (default 384; at most dim / 2). */
  components?: number;
  /** Rows the leading directions are found from (default 8,192, spread over the catalogue). */
  sample?: number;
  /** Candidates of the first pass at least (default MIN_CANDIDATES). */
  minCandidates?: number;
  seed?: number;
}

/**
 * Smaller catalogues than this are scanned in full (the two passes pay off on large ones). The
 * first pass's dimensions and the candidates it hands the second were measured on the 44k
 * catalogue's learned vectors (README, "Search and recommendation latency").
 */
export const PRUNED_MIN_ROWS = 10_000;
const DEFAULT_COMPONENTS = 384;
const DEFAULT_SAMPLE = 8192;
/**
 * Candidates of the first pass: this many per wanted result, at least MIN_CANDIDATES. A query that
 * would need more is handed back for a full scan (scoring them one by one would cost more).
 */
const CANDIDATES_PER_RESULT = 32;
const MIN_CANDIDATES = 2048;
/**
 * A query with more of its length than this outside the first pass's directions gets bounds too
 * loose to prune with: it is handed back before the first pass. Measured on the 44k catalogue's
 * learned vectors: catalogue-like photos 0.25-0.40 (all answered in two passes), shoppers' photos
 * 0.55-0.71 (none could be).
 */
const LOOSE = 0.45;
/** Candidates scored in full at a time (their rows gathered for one SIMD pass). */
const SCORE_CHUNK = 64;
/**
 * Slack added to every bound for float rounding (the first pass is float32; the bound's parts are
 * accurate to about 1e-5 on unit vectors).
 */
const MARGIN = 1e-3;
/** Largest singular value V is scaled to (see the bound). */
const SPECTRAL_CAP = 1 - 1e-4;
/** Rows per matrix product while building (each about 50-100 ms, so that serving goes on between). */
const BUILD_BLOCK = 2048;

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

export class PrunedSearch {
  /** Queries answered, rows scored in full for them, and queries handed back for a full scan. */
  readonly stats = { queries: 0, scored: 0, incomplete: 0 };
  private readonly firstPass: UsearchExact;
  /** V's rows, to project a query with. */
  private readonly basisRows: UsearchExact;
  /** Room for the rows of the candidates scored at a time. */
  private readonly chunk: Float32Array;

  private constructor(
    private readonly vectors: Float32Array,
    readonly dim: number,
    readonly components: number,
    /** V, components x dim. */
    basis: Float32Array,
    /** Every row's [Vx, ‖x‖⊥], count x (components + 1). */
    bounds: Float32Array,
    private readonly minCandidates: number,
  ) {
    this.firstPass = new UsearchExact(bounds, components + 1);
    this.basisRows = new UsearchExact(basis, dim);
    this.chunk = new Float32Array(SCORE_CHUNK * dim);
  }

  get count(): number {
    return this.vectors.length / this.dim;
  }

  /**
   * Finds the leading directions of `vectors` (count x dim unit vectors, kept, not copied) and
   * every row's first-pass coordinates, in steps of about 50-100 ms between which the event loop
   * turns (serving goes on meanwhile). Needs usearch.
   */
  static async build(
    vectors: Float32Array,
    dim: number,
    options: PrunedSearchOptions = {},
  ): Promise<PrunedSearch> {
    const count = vectors.length / dim;
    const d = Math.max(1, Math.min(options.components ?? DEFAULT_COMPONENTS, Math.floor(dim / 2)));
    const mm = await MatMul.create(1);
    try {
      const basis = await leadingBasis(mm, vectors, dim, d, options);
      const bounds = new Float32Array(count * (d + 1));
      for (let start = 0; start < count; start += BUILD_BLOCK) {
        const size = Math.min(BUILD_BLOCK, count - start);
        const rows = vectors.slice(start * dim, (start + size) * dim);
        const p = await mm.mul(matrix(size, dim, rows), matrix(d, dim, basis), false, true);
        for (let i = 0; i < size; i++) {
          const kept = p.data.subarray(i * d, (i + 1) * d);
          const at = (start + i) * (d + 1);
          bounds.set(kept, at);
          bounds[at + d] = rest(rows.subarray(i * dim, (i + 1) * dim), kept);
        }
        await turn();
      }
      return new PrunedSearch(vectors, dim, d, basis, bounds, options.minCandidates ?? MIN_CANDIDATES);
    } finally {
      await mm.close();
    }
  }

  /**
   * The k best rows of a query, best first (ties in row order), exactly; undefined when its k-th
   * was not certain among the candidates (search it in full).
   */
  search(query: Float32Array, k: number): Hit[] | undefined {
    const n = this.count;
    const kk = Math.min(k, n);
    if (kk <= 0) return [];
    this.stats.queries += 1;
    const d = this.components;
    const q = new Float32Array(d + 1);
    const projected = innerProducts(this.basisRows, query, d);
    q.set(projected);
    q[d] = rest(query, projected);
    if ((q[d] as number) > LOOSE * Math.sqrt(squares(query))) {
      this.stats.incomplete += 1;
      return undefined;
    }
    const m = Math.min(n, Math.max(this.minCandidates, CANDIDATES_PER_RESULT * kk));
    const { keys, distances } = this.firstPass.search(q, m, 'ip');
    // usearch's inner-product distance is 1 - the inner product: here the bound.
    const bound = (j: number) => 1 - (distances[j] as number);
    const best: Hit[] = [];
    let end = keys.length;
    for (let start = 0; start < end; start += SCORE_CHUNK) {
      if (best.length === kk && bound(start) + MARGIN < (best[kk - 1] as Hit).score) break;
      this.score(keys, start, Math.min(SCORE_CHUNK, end - start), query, best, kk);
      if (best.length === kk && end === keys.length) {
        // The k-th best so far can only rise: candidates whose bound is below it are out. When
        // that leaves all m in (the bounds are loose, as for a photo unlike the catalogue's), the
        // query is handed back at once rather than scored row by row.
        const floor = (best[kk - 1] as Hit).score - MARGIN;
        end = firstBelow(bound, keys.length, floor);
        if (end === keys.length && m < n) break;
      }
    }
    if (best.length === kk && (end < keys.length || m >= n)) return best;
    this.stats.incomplete += 1;
    return undefined;
  }

  /** Scores candidates start..start+size-1 in full (their rows gathered for one SIMD pass) into `best`. */
  private score(
    keys: BigUint64Array,
    start: number,
    size: number,
    query: Float32Array,
    best: Hit[],
    k: number,
  ): void {
    const dim = this.dim;
    const rows: number[] = [];
    for (let j = 0; j < size; j++) {
      const row = Number(keys[start + j]);
      rows.push(row);
      this.chunk.set(this.vectors.subarray(row * dim, (row + 1) * dim), j * dim);
    }
    const scores = innerProducts(new UsearchExact(this.chunk.subarray(0, size * dim), dim), query, size);
    this.stats.scored += size;
    rows.forEach((row, j) => {
      insertBest(best, { row, score: scores[j] as number }, k);
    });
  }
}

/** The first of n decreasing bounds below `floor` (n when none is). */
function firstBelow(bound: (j: number) => number, n: number, floor: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (bound(mid) < floor) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * The inner products of a query with each of the first `count` rows of a usearch dataset, in row
 * order: its exact inner-product search for all of them, read back by key (SIMD, where a
 * TypeScript loop is several times slower).
 */
function innerProducts(rows: UsearchExact, query: Float32Array, count: number): Float32Array {
  const { keys, distances } = rows.search(query, count, 'ip');
  const out = new Float32Array(count);
  for (let i = 0; i < keys.length; i++) out[Number(keys[i])] = 1 - (distances[i] as number);
  return out;
}

/** ‖y‖⊥ = √(‖y‖² - ‖Vy‖²), from y and Vy. */
function rest(y: Float32Array, kept: Float32Array): number {
  return Math.sqrt(Math.max(0, squares(y) - squares(kept)));
}

function squares(y: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < y.length; i++) sum += (y[i] as number) ** 2;
  return sum;
}

/**
 * d directions spanning most of the vectors' energy (a randomised range finder: the sample's
 * second-moment matrix times random vectors, orthonormalised), as the rows of a d x dim matrix
 * whose largest singular value is below 1: certified by the Gershgorin bound of V·Vᵀ.
 */
async function leadingBasis(
  mm: MatMul,
  vectors: Float32Array,
  dim: number,
  d: number,
  options: PrunedSearchOptions,
): Promise<Float32Array> {
  const count = vectors.length / dim;
  const sampleSize = Math.min(count, options.sample ?? DEFAULT_SAMPLE);
  const stride = count / sampleSize;
  const random = new Random(options.seed ?? 7);
  const omega = new Float32Array(dim * d).map(() => random.normal());
  // Y = Sᵀ(SΩ), block by block of sampled rows.
  const y = new Float64Array(dim * d);
  for (let start = 0; start < sampleSize; start += BUILD_BLOCK) {
    const size = Math.min(BUILD_BLOCK, sampleSize - start);
    const block = new Float32Array(size * dim);
    for (let i = 0; i < size; i++) {
      const row = Math.floor((start + i) * stride);
      block.set(vectors.subarray(row * dim, (row + 1) * dim), i * dim);
    }
    const s = matrix(size, dim, block);
    const z = await mm.mul(s, matrix(dim, d, omega));
    const part = await mm.mul(s, z, true, false);
    for (let j = 0; j < y.length; j++) y[j] = (y[j] as number) + (part.data[j] as number);
    await turn();
  }
  // Modified Gram-Schmidt on Y's columns (in float64), written as the rows of V.
  const basis = new Float64Array(d * dim);
  for (let c = 0; c < d; c++) {
    const v = basis.subarray(c * dim, (c + 1) * dim);
    for (let r = 0; r < dim; r++) v[r] = y[r * d + c] as number;
    for (let pass = 0; pass < 2; pass++) {
      for (let p = 0; p < c; p++) {
        const u = basis.subarray(p * dim, (p + 1) * dim);
        let dot = 0;
        for (let r = 0; r < dim; r++) dot += (u[r] as number) * (v[r] as number);
        for (let r = 0; r < dim; r++) v[r] = (v[r] as number) - dot * (u[r] as number);
      }
    }
    let norm = 0;
    for (let r = 0; r < dim; r++) norm += (v[r] as number) ** 2;
    norm = Math.sqrt(norm);
    for (let r = 0; r < dim; r++) v[r] = norm > 0 ? (v[r] as number) / norm : 0;
    if (c % 8 === 7) await turn();
  }
  const v32 = Float32Array.from(basis);
  // σmax(V)² = λmax(V·Vᵀ) ≤ the largest absolute row sum of V·Vᵀ (Gershgorin).
  const gram = await mm.mul(matrix(d, dim, v32), matrix(d, dim, v32), false, true);
  let largest = 0;
  for (let i = 0; i < d; i++) {
    let sum = 0;
    for (let j = 0; j < d; j++) sum += Math.abs(gram.data[i * d + j] as number);
    largest = Math.max(largest, sum);
  }
  const scale = SPECTRAL_CAP / Math.sqrt(Math.max(1, largest));
  for (let i = 0; i < v32.length; i++) v32[i] = (v32[i] as number) * scale;
  return v32;
}
