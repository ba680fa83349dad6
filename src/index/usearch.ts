/**
 * The one place that loads and calls usearch: its exact (SIMD brute force) search, and its HNSW
 * graphs through the native binding. usearch's exact search reads a typed array from the start of
 * its ArrayBuffer, so a `subarray()` view would be misread: every array handed to usearch here is
 * first copied when it is a view.
 */
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';

type UsearchModule = typeof import('usearch');

const require = createRequire(import.meta.url);

/** The array itself when it owns its whole buffer, else a copy that does. */
function owned<T extends Float32Array | Int8Array | BigUint64Array>(v: T): T {
  return v.byteOffset === 0 && v.byteLength === v.buffer.byteLength ? v : (v.slice() as T);
}

/** usearch's JavaScript module; undefined where it does not load or LOOKALIKE_SEARCH=typescript. */
function loadUsearch(): UsearchModule | undefined {
  if (process.env.LOOKALIKE_SEARCH === 'typescript') return undefined;
  try {
    return require('usearch') as UsearchModule;
  } catch {
    return undefined;
  }
}

const usearch = loadUsearch();

/** Whether exact search can use usearch (else callers scan in TypeScript). */
export const usearchExactAvailable = usearch !== undefined;

export interface Matches {
  keys: BigUint64Array;
  distances: Float32Array;
}

/** usearch's exact search over count x dim vectors, held in a buffer of their own. */
export class UsearchExact {
  readonly vectors: Float32Array;

  constructor(
    vectors: Float32Array,
    readonly dim: number,
  ) {
    if (!usearch) throw new Error('usearch is not available');
    this.vectors = owned(vectors);
  }

  /**
   * The k nearest rows to the query, nearest first: by squared Euclidean distance (on every
   * core), or by inner product (distance 1 - the product; on one thread: see pruned-search.ts).
   */
  search(query: Float32Array, k: number, metric: 'l2sq' | 'ip' = 'l2sq'): Matches {
    const u = usearch as UsearchModule;
    if (metric === 'ip')
      return u.exactSearch(this.vectors, owned(query), this.dim, k, u.MetricKind.IP, 1) as Matches;
    return u.exactSearch(this.vectors, owned(query), this.dim, k, u.MetricKind.L2sq) as Matches;
  }

  /**
   * The inner products of a query with each of the first `count` rows, in row order: the exact
   * inner-product search for all of them, read back by key (SIMD, where a TypeScript loop is
   * several times slower).
   */
  innerProducts(query: Float32Array, count = this.vectors.length / this.dim): Float32Array {
    const { keys, distances } = this.search(query, count, 'ip');
    const out = new Float32Array(count);
    for (let i = 0; i < keys.length; i++) out[Number(keys[i])] = 1 - (distances[i] as number);
    return out;
  }
}

// usearch's native binding (the CompiledIndex class that its JavaScript Index wraps), used directly
// because the wrapper turns Int8Array input back into floats.
export type GraphVectors = Float32Array | Int8Array;
interface CompiledIndex {
  add(keys: BigUint64Array, vectors: GraphVectors, threads: number): void;
  search(queries: GraphVectors, k: number, threads: number): [BigUint64Array, Float32Array, BigUint64Array];
  save(path: string): void;
  load(path: string): void;
  view(path: string): void;
  size(): number;
  dimensions(): number;
}
interface NativeUsearch {
  CompiledIndex: new (
    dimensions: number,
    metric: string,
    quantization: string,
    connectivity: number,
    expansionAdd: number,
    expansionSearch: number,
    multi: boolean,
  ) => CompiledIndex;
  hardwareAccelerationAvailable(): string;
}

let native: NativeUsearch | undefined;
function usearchNative(): NativeUsearch {
  if (!native) {
    const main = require.resolve('usearch'); // <root>/javascript/dist/cjs/usearch.js
    const root = resolve(dirname(main), '..', '..', '..');
    const load = createRequire(main)('node-gyp-build') as (dir: string) => NativeUsearch;
    native = load(root);
  }
  return native;
}

/** The SIMD targets that usearch can use on this machine (e.g. "serial, haswell, skylake, icelake"). */
export const usearchHardware = (): string => usearchNative().hardwareAccelerationAvailable();

export interface GraphParams {
  metric: 'cos';
  /** How the graph stores vectors: 'f16', or 'i8' (vectors given already quantised). */
  quantization: 'f16' | 'i8';
  connectivity: number;
  expansionAdd: number;
  expansionSearch: number;
}

/** An HNSW graph (usearch's native index); keys are row numbers. */
export class UsearchGraph {
  private readonly graph: CompiledIndex;

  constructor(dim: number, p: GraphParams) {
    const { CompiledIndex } = usearchNative();
    this.graph = new CompiledIndex(
      dim,
      p.metric,
      p.quantization,
      p.connectivity,
      p.expansionAdd,
      p.expansionSearch,
      false,
    );
  }

  get size(): number {
    return this.graph.size();
  }

  get dim(): number {
    return this.graph.dimensions();
  }

  add(keys: BigUint64Array, vectors: GraphVectors, threads: number): void {
    this.graph.add(owned(keys), owned(vectors), threads);
  }

  /** The (up to) k nearest keys of one query, with their distances. */
  search(query: GraphVectors, k: number): Matches {
    const [keys, distances, counts] = this.graph.search(owned(query), k, 1);
    const found = Number(counts[0]);
    return { keys: keys.subarray(0, found), distances: distances.subarray(0, found) };
  }

  save(path: string): void {
    this.graph.save(path);
  }

  load(path: string): void {
    this.graph.load(path);
  }

  /** Memory-maps the file rather than reading it. */
  view(path: string): void {
    this.graph.view(path);
  }
}
