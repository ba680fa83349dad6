/**
 * Exact k-nearest-neighbour search for many queries at once, over unit vectors (best = highest
 * cosine similarity). Blocks of queries go through one matrix product and a top-k with onnxruntime
 * (a cache-blocked SGEMM: about 10x faster than one distance at a time), or through usearch's
 * batched brute force. Both give the same neighbours. The evaluation searches its query sets with
 * it, and the index its concurrent searches (index/search-batcher.ts).
 */

import { createRequire } from 'node:module';
import * as ort from 'onnxruntime-node';
import {
  FLOAT_TENSOR,
  graphModel,
  INT_ATTRIBUTE,
  INT64_TENSOR,
  tensorValue,
} from '../embeddings/onnx-graph.js';
import { cpuSession, gemmNode, owned, SessionRuns } from './matmul.js';

export type KnnBackend = 'onnx' | 'usearch';

/** k neighbours per query, best first: row i*k+j is the j-th neighbour of query i (-1: none). */
export interface KnnResult {
  k: number;
  rows: Int32Array;
  /** Cosine similarity of each neighbour. */
  scores: Float32Array;
}

/** Query vectors produced block by block (so that a large query set need not be copied whole). */
export interface QuerySource {
  count: number;
  /** Queries start..start+size-1, size x dim. */
  read(start: number, size: number): Float32Array;
}

/** Scores held at once per block of queries (block size x catalogue size floats). */
const BLOCK_FLOATS = 16 * 1024 * 1024;
const MAX_BLOCK = 1024;

/** score = queries x catalogueᵀ, then the top k of each row. */
function knnModel(dim: number): Uint8Array {
  return graphModel({
    producer: 'lookalike-eval',
    name: 'exact_knn',
    nodes: [
      gemmNode('queries', 'catalogue', 'scores', { transB: true }),
      {
        opType: 'TopK',
        input: ['scores', 'k'],
        output: ['values', 'indices'],
        attribute: [
          { name: 'axis', type: INT_ATTRIBUTE, i: 1 },
          { name: 'largest', type: INT_ATTRIBUTE, i: 1 },
          { name: 'sorted', type: INT_ATTRIBUTE, i: 1 },
        ],
      },
    ],
    inputs: [
      tensorValue('queries', FLOAT_TENSOR, ['batch', dim]),
      tensorValue('catalogue', FLOAT_TENSOR, ['count', dim]),
      tensorValue('k', INT64_TENSOR, [1]),
    ],
    outputs: [
      tensorValue('values', FLOAT_TENSOR, ['batch', 'k']),
      tensorValue('indices', INT64_TENSOR, ['batch', 'k']),
    ],
  });
}

type Usearch = typeof import('usearch');

export class BatchKnn {
  readonly count: number;
  /** Searches running (close waits for them). */
  private readonly runs = new SessionRuns('search: the k-nearest-neighbour search is closed');

  private constructor(
    private readonly vectors: Float32Array,
    readonly dim: number,
    readonly backend: KnnBackend,
    private readonly session?: ort.InferenceSession,
    private readonly usearch?: Usearch,
  ) {
    this.count = vectors.length / dim;
  }

  /**
   * @param vectors count x dim unit vectors, in a buffer of their own.
   * @param threads intra-op threads for onnxruntime (default: one per CPU).
   */
  static async create(
    vectors: Float32Array,
    dim: number,
    options: { backend?: KnnBackend; threads?: number } = {},
  ): Promise<BatchKnn> {
    const catalogue = owned(vectors);
    if (options.backend === 'usearch') {
      const usearch = createRequire(import.meta.url)('usearch') as Usearch;
      return new BatchKnn(catalogue, dim, 'usearch', undefined, usearch);
    }
    const session = await cpuSession(knnModel(dim), options.threads);
    return new BatchKnn(catalogue, dim, 'onnx', session);
  }

  /** Queries per block for this catalogue size. */
  get blockSize(): number {
    return Math.max(1, Math.min(MAX_BLOCK, Math.floor(BLOCK_FLOATS / Math.max(1, this.count))));
  }

  /**
   * The k best rows of each query (n x dim, or a source of blocks of them), best first. k is
   * capped at the catalogue size.
   */
  search(
    queries: Float32Array | QuerySource,
    k: number,
    onProgress?: (done: number, total: number) => void,
  ): Promise<KnnResult> {
    return this.runs.track(() => this.searchNow(queries, k, onProgress));
  }

  private async searchNow(
    queries: Float32Array | QuerySource,
    k: number,
    onProgress?: (done: number, total: number) => void,
  ): Promise<KnnResult> {
    const dim = this.dim;
    const source: QuerySource =
      queries instanceof Float32Array
        ? {
            count: queries.length / dim,
            read: (start, size) => queries.slice(start * dim, (start + size) * dim),
          }
        : queries;
    const n = source.count;
    const kk = Math.max(0, Math.min(k, this.count));
    const rows = new Int32Array(n * kk).fill(-1);
    const scores = new Float32Array(n * kk);
    if (kk === 0 || n === 0) return { k: kk, rows, scores };
    const blockSize = this.blockSize;
    const catalogue =
      this.backend === 'onnx' ? new ort.Tensor('float32', this.vectors, [this.count, this.dim]) : undefined;
    const kTensor = new ort.Tensor('int64', BigInt64Array.of(BigInt(kk)), [1]);
    onProgress?.(0, n);
    for (let start = 0; start < n; start += blockSize) {
      const size = Math.min(blockSize, n - start);
      // An array that owns its buffer: usearch misreads subarray views.
      const q = owned(source.read(start, size));
      if (this.session && catalogue) {
        const out = await this.session.run({
          queries: new ort.Tensor('float32', q, [size, this.dim]),
          catalogue,
          k: kTensor,
        });
        const indices = out.indices?.data as BigInt64Array;
        const values = out.values?.data as Float32Array;
        for (let i = 0; i < size * kk; i++) rows[start * kk + i] = Number(indices[i]);
        scores.set(values, start * kk);
      } else if (this.usearch) {
        const u = this.usearch;
        const matches = u.exactSearch(this.vectors, q, this.dim, kk, u.MetricKind.L2sq) as {
          keys: BigUint64Array;
          distances: Float32Array;
          counts?: BigUint64Array;
        };
        for (let i = 0; i < size; i++) {
          const found = matches.counts ? Number(matches.counts[i]) : matches.keys.length;
          for (let j = 0; j < found; j++) {
            rows[(start + i) * kk + j] = Number(matches.keys[i * kk + j]);
            scores[(start + i) * kk + j] = 1 - (matches.distances[i * kk + j] as number) / 2;
          }
        }
      }
      onProgress?.(start + size, n);
    }
    return { k: kk, rows, scores };
  }

  /**
   * Releases the session once the searches running have ended (a session released under a run
   * could take the process down); search fails after this.
   */
  async close(): Promise<void> {
    await this.runs.close([this.session]);
  }
}
