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
 * dimensions, [Vq, ‖q‖⊥]·[Vx, ‖x‖⊥], over 68 MB at 44k rows and d = 384. The first pass:
 *   - a query alone: usearch's exact inner-product search gives the candidates in order of their
 *     bound;
 *   - queries that arrive together (a server's recommendations of one inference batch): one
 *     matrix product gives every row's bound for all of them, reading the 68 MB once (on the
 *     event loop: onnxruntime's Node binding runs a session on the thread that calls it).
 * The second scores the candidates of the best bounds in full, which gives a k-th best score,
 * then the others whose bound reaches it, best bound first, until the next bound is below the
 * k-th best found. Where the bounds are too loose for that (a photo unlike any of the catalogue's,
 * such as most shoppers' photos: too many bounds above the k-th best), the query is handed back
 * for a full scan after the first pass, which costs a fifth of one.
 *
 * Written by hand: no library on npm does exact search with a certified bound. The matrix
 * products run in onnxruntime (compute/matmul.ts).
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
  /** Every row's [Vx, ‖x‖⊥], for usearch's search of a query alone. */
  private readonly firstPass: UsearchExact;
  /** V's rows, to project a query alone with. */
  private readonly basisRows: UsearchExact;
  /** Room for the rows of the candidates scored at a time. */
  private readonly chunk: Float32Array;

  private constructor(
    private readonly vectors: Float32Array,
    readonly dim: number,
    readonly components: number,
    /** V, components x dim. */
    private readonly basis: Float32Array,
    /** Every row's [Vx, ‖x‖⊥], count x (components + 1). */
    private readonly bounds: Float32Array,
    private readonly minCandidates: number,
    /** The matrix products of queries searched together (one thread). */
    private readonly mm: MatMul,
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
      return new PrunedSearch(vectors, dim, d, basis, bounds, options.minCandidates ?? MIN_CANDIDATES, mm);
    } catch (err) {
      await mm.close();
      throw err;
    }
  }

  /**
   * The k best rows of a query, best first (ties in row order), exactly; undefined when its k-th
   * was not certain among the candidates (search it in full). A query alone: its first pass is
   * usearch's inner-product search for the m best bounds, in order.
   */
  search(query: Float32Array, k: number): Hit[] | undefined {
    const n = this.count;
    const kk = Math.min(k, n);
    if (kk <= 0) return [];
    this.stats.queries += 1;
    const q = this.firstPassOf(query, this.basisRows.innerProducts(query, this.components));
    if (!q) return undefined;
    const m = Math.min(n, Math.max(this.minCandidates, CANDIDATES_PER_RESULT * kk));
    const { keys, distances } = this.firstPass.search(q, m, 'ip');
    // usearch's inner-product distance is 1 - the inner product: here the bound.
    const bound = (j: number) => 1 - (distances[j] as number);
    const size = Math.min(keys.length, Math.max(SCORE_CHUNK, kk));
    const rows = (from: number, to: number) =>
      Array.from({ length: to - from }, (_, j) => Number(keys[from + j]));
    return this.secondPass(query, kk, rows(0, size), (floor) => {
      const end = firstBelow(bound, keys.length, floor);
      // Every candidate's bound can still beat the k-th best: the rest of the rows might too.
      if (end === keys.length && m < n) return undefined;
      const to = Math.max(size, end);
      return { rows: rows(size, to), bounds: Array.from({ length: to - size }, (_, j) => bound(size + j)) };
    });
  }

  /**
   * search's answers for queries that arrive together (a server's recommendations of one inference
   * batch). The first pass of them all is one matrix product, which reads the first-pass rows
   * once for all of them (a query alone is bound by reading them: 68 MB at 44k rows), on this
   * thread (onnxruntime's Node binding runs a session on its caller's); each query then takes its
   * best bounds from all of them.
   */
  async searchMany(queries: readonly { query: Float32Array; k: number }[]): Promise<(Hit[] | undefined)[]> {
    if (queries.length === 1) {
      const [{ query, k }] = queries as [{ query: Float32Array; k: number }];
      return [this.search(query, k)];
    }
    const n = this.count;
    const d = this.components;
    const dim = this.dim;
    const out: (Hit[] | undefined)[] = queries.map(({ k }) => (Math.min(k, n) <= 0 ? [] : undefined));
    const open = queries.flatMap((_, i) => (out[i] ? [] : [i]));
    if (open.length === 0) return out;
    this.stats.queries += open.length;
    // V q of every query at once, then [Vq, ‖q‖⊥] of those whose bounds are tight enough.
    const stacked = new Float32Array(open.length * dim);
    open.forEach((i, j) => {
      stacked.set((queries[i] as { query: Float32Array }).query, j * dim);
    });
    const projected = await this.mm.mul(
      matrix(open.length, dim, stacked),
      matrix(d, dim, this.basis),
      false,
      true,
    );
    const tight: { i: number; q: Float32Array }[] = [];
    open.forEach((i, j) => {
      const q = this.firstPassOf(
        (queries[i] as { query: Float32Array }).query,
        projected.data.subarray(j * d, (j + 1) * d),
      );
      if (q) tight.push({ i, q });
    });
    if (tight.length === 0) return out;
    const firstPass = new Float32Array(tight.length * (d + 1));
    tight.forEach(({ q }, j) => {
      firstPass.set(q, j * (d + 1));
    });
    const all = await this.mm.mul(
      matrix(tight.length, d + 1, firstPass),
      matrix(n, d + 1, this.bounds),
      false,
      true,
    );
    tight.forEach(({ i }, j) => {
      const { query, k } = queries[i] as { query: Float32Array; k: number };
      out[i] = this.fromAllBounds(query, Math.min(k, n), all.data.subarray(j * n, (j + 1) * n));
    });
    return out;
  }

  /** [Vq, ‖q‖⊥] from a query and Vq; undefined (handed back) where the bounds are too loose. */
  private firstPassOf(query: Float32Array, kept: Float32Array): Float32Array | undefined {
    const d = this.components;
    const q = new Float32Array(d + 1);
    q.set(kept);
    q[d] = rest(query, kept);
    if ((q[d] as number) > LOOSE * Math.sqrt(squares(query))) {
      this.stats.incomplete += 1;
      return undefined;
    }
    return q;
  }

  /** The second pass of one query from every row's bound (searchMany). */
  private fromAllBounds(query: Float32Array, k: number, bound: Float32Array): Hit[] | undefined {
    const n = bound.length;
    const size = Math.min(n, Math.max(SCORE_CHUNK, k));
    // The rows of the best bounds (ties in row order).
    const first: Hit[] = [];
    for (let row = 0; row < n; row++) {
      const b = bound[row] as number;
      if (first.length === size && b <= (first[size - 1] as Hit).score) continue;
      insertBest(first, { row, score: b }, size);
    }
    const cut = (first[size - 1] as Hit).score;
    const taken = new Set(first.map((h) => h.row));
    const limit = Math.max(this.minCandidates, CANDIDATES_PER_RESULT * k);
    return this.secondPass(
      query,
      k,
      first.map((h) => h.row),
      (floor) => {
        // The others whose bound reaches the floor (all below the cut, or at it), best bound first.
        const more: Hit[] = [];
        for (let row = 0; row < n; row++) {
          const b = bound[row] as number;
          if (b < floor || b > cut || taken.has(row)) continue;
          more.push({ row, score: b });
          // As many as a query alone would take at most: a full scan costs less.
          if (size + more.length > limit) return undefined;
        }
        more.sort((a, b) => b.score - a.score || a.row - b.row);
        return { rows: more.map((h) => h.row), bounds: more.map((h) => h.score) };
      },
    );
  }

  /**
   * The second pass: the first candidates (those of the best bounds) are scored in full, which
   * gives a k-th best score; then the other candidates whose bound reaches it (`more`, best bound
   * first), SCORE_CHUNK at a time, until the next bound is below the k-th best so far (it only
   * rises). Undefined when `more` cannot list them all (loose bounds: search the query in full).
   */
  private secondPass(
    query: Float32Array,
    k: number,
    first: readonly number[],
    more: (floor: number) => { rows: number[]; bounds: number[] } | undefined,
  ): Hit[] | undefined {
    const best: Hit[] = [];
    this.scoreAll(first, query, best, k);
    const next = more((best[k - 1] as Hit).score - MARGIN);
    if (!next) {
      this.stats.incomplete += 1;
      return undefined;
    }
    for (let start = 0; start < next.rows.length; start += SCORE_CHUNK) {
      if ((next.bounds[start] as number) + MARGIN < (best[k - 1] as Hit).score) break;
      this.scoreAll(next.rows.slice(start, start + SCORE_CHUNK), query, best, k);
    }
    return best;
  }

  /** Scores rows in full into `best`, SCORE_CHUNK at a time. */
  private scoreAll(rows: readonly number[], query: Float32Array, best: Hit[], k: number): void {
    for (let start = 0; start < rows.length; start += SCORE_CHUNK) {
      this.score(rows.slice(start, start + SCORE_CHUNK), query, best, k);
    }
  }

  /** Scores rows in full (gathered for one SIMD pass, at most SCORE_CHUNK) into `best`. */
  private score(rows: readonly number[], query: Float32Array, best: Hit[], k: number): void {
    const dim = this.dim;
    for (let j = 0; j < rows.length; j++) {
      const row = rows[j] as number;
      this.chunk.set(this.vectors.subarray(row * dim, (row + 1) * dim), j * dim);
    }
    const chunk = rows.length === SCORE_CHUNK ? this.chunk : this.chunk.slice(0, rows.length * dim);
    const scores = new UsearchExact(chunk, dim).innerProducts(query, rows.length);
    this.stats.scored += rows.length;
    rows.forEach((row, j) => {
      insertBest(best, { row, score: scores[j] as number }, k);
    });
  }

  /**
   * Releases the matrix products of queries searched together, once those running have ended
   * (MatMul.close waits for them); searchMany fails after this.
   */
  async close(): Promise<void> {
    await this.mm.close();
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
