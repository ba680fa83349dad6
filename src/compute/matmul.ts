/**
 * Dense float32 matrix products through onnxruntime's CPU Gemm (cache-blocked, multi-threaded SIMD):
 * the learning step multiplies 44k x 2048 feature matrices, which plain TypeScript loops do tens
 * of times slower. Its Gemm node, CPU session and buffer handling also serve the batched kNN
 * (compute/knn.ts) of the evaluation and of the index's concurrent searches.
 */
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import { FLOAT_TENSOR, graphModel, INT_ATTRIBUTE, tensorValue } from '../embeddings/onnx-graph.js';

/** A row-major matrix. */
export interface Matrix {
  rows: number;
  cols: number;
  data: Float32Array;
}

export function matrix(rows: number, cols: number, data?: Float32Array): Matrix {
  const d = data ?? new Float32Array(rows * cols);
  if (d.length !== rows * cols) throw new RangeError(`matrix: ${d.length} values for ${rows}x${cols}`);
  return { rows, cols, data: d };
}

/** A Gemm node of a graph: output = op(a)·op(b), where op transposes when asked. */
export function gemmNode(
  a: string,
  b: string,
  output: string,
  { transA = false, transB = false }: { transA?: boolean; transB?: boolean } = {},
) {
  return {
    opType: 'Gemm',
    input: [a, b],
    output: [output],
    attribute: [
      { name: 'transA', type: INT_ATTRIBUTE, i: transA ? 1 : 0 },
      { name: 'transB', type: INT_ATTRIBUTE, i: transB ? 1 : 0 },
    ],
  };
}

/**
 * An onnxruntime session of a small graph on the CPU, fully optimised, with `threads` intra-op
 * threads. With one thread, the calling thread does the work and no pool thread spins.
 */
export function cpuSession(
  model: Uint8Array,
  threads = availableParallelism(),
): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(model, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threads,
  });
}

/**
 * onnxruntime (and usearch) read the whole underlying buffer of a view: an array that owns its
 * buffer, the array itself when it already does.
 */
export function owned(a: Float32Array): Float32Array {
  return a.byteOffset === 0 && a.byteLength === a.buffer.byteLength ? a : a.slice();
}

function gemmModel(transA: boolean, transB: boolean): Uint8Array {
  return graphModel({
    producer: 'lookalike-learning',
    name: 'gemm',
    nodes: [gemmNode('a', 'b', 'c', { transA, transB })],
    inputs: [tensorValue('a', FLOAT_TENSOR, ['a0', 'a1']), tensorValue('b', FLOAT_TENSOR, ['b0', 'b1'])],
    outputs: [tensorValue('c', FLOAT_TENSOR, ['m', 'n'])],
  });
}

/**
 * The runs of onnxruntime sessions under way: `close` waits for them before it releases the
 * sessions (a session released under a run could take the process down), and refuses new runs.
 */
export class SessionRuns {
  private readonly running = new Set<Promise<unknown>>();
  private closing?: Promise<void>;

  /** @param refusal the error message of a run asked for after close. */
  constructor(private readonly refusal: string) {}

  /** Starts a run, counted until it ends; rejects once closing has begun. */
  track<T>(start: () => Promise<T>): Promise<T> {
    if (this.closing) return Promise.reject(new Error(this.refusal));
    const run = start();
    this.running.add(run);
    return run.finally(() => this.running.delete(run));
  }

  /** Refuses new runs, waits for those under way, then releases the sessions (once, however often called). */
  close(sessions: Iterable<ort.InferenceSession | undefined>): Promise<void> {
    this.closing ??= (async () => {
      await Promise.allSettled([...this.running]);
      for (const s of sessions) await s?.release();
    })();
    return this.closing;
  }
}

/** Matrix products A·B, Aᵀ·B and A·Bᵀ. */
export class MatMul {
  private readonly runs = new SessionRuns('mul: the matrix products are closed');

  private constructor(private readonly sessions: Map<string, ort.InferenceSession>) {}

  static async create(threads = availableParallelism()): Promise<MatMul> {
    const sessions = new Map<string, ort.InferenceSession>();
    for (const [ta, tb] of [
      [false, false],
      [true, false],
      [false, true],
    ] as const) {
      sessions.set(`${ta}${tb}`, await cpuSession(gemmModel(ta, tb), threads));
    }
    return new MatMul(sessions);
  }

  /** op(A)·op(B), where op transposes when asked. */
  async mul(a: Matrix, b: Matrix, transA = false, transB = false): Promise<Matrix> {
    const m = transA ? a.cols : a.rows;
    const ka = transA ? a.rows : a.cols;
    const kb = transB ? b.cols : b.rows;
    const n = transB ? b.rows : b.cols;
    if (ka !== kb) throw new RangeError(`mul: inner sizes differ (${ka} vs ${kb})`);
    const session = this.sessions.get(`${transA}${transB}`) as ort.InferenceSession;
    const out = await this.runs.track(() =>
      session.run({
        a: new ort.Tensor('float32', owned(a.data), [a.rows, a.cols]),
        b: new ort.Tensor('float32', owned(b.data), [b.rows, b.cols]),
      }),
    );
    const c = out.c;
    if (!c) throw new Error('mul: the product has no output');
    return matrix(m, n, (c.data as Float32Array).slice());
  }

  /** Releases the sessions once the products running have ended; mul fails after this. */
  async close(): Promise<void> {
    await this.runs.close(this.sessions.values());
  }
}
