/**
 * A projection learned on frozen ResNet-50 features from the catalogue's own labels: the features
 * are standardised, projected to a few hundred dimensions, and the projection is trained (with
 * Adam) so that softmax heads on top of it predict every labelled column at once (the catalogue
 * schema's facets: its kind, its colour...). Products of one kind and colour then lie close together in
 * the projected space. The heads are kept too: they tell a query photo's likely label values.
 *
 * Written by hand on onnxruntime matrix products: there is no maintained training library for
 * Node.js that runs on CPU without native downloads, and this is one linear layer.
 */
import type { Matrix } from '../compute/matmul.js';
import { MatMul, matrix } from '../compute/matmul.js';
import { Random } from '../compute/random.js';

/** One labelled column to learn from. */
export interface Task {
  name: string;
  /** Class index per training row, -1 where the row has no (usable) label. */
  labels: Int32Array;
  classes: string[];
  weight: number;
}

export interface TrainOptions {
  dim?: number;
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  weightDecay?: number;
  seed?: number;
  onEpoch?: (epoch: number, epochs: number, loss: number, accuracy: Record<string, number>) => void;
}

/** What is kept: x ↦ normalise(((x - mean) / scale) · weights), and the tasks' heads. */
export interface Projection {
  inputDim: number;
  outputDim: number;
  mean: Float32Array;
  scale: Float32Array;
  /** inputDim x outputDim, row-major. */
  weights: Float32Array;
  /**
   * The tasks' softmax heads on the (unnormalised) projection, in task order: outputDim x all
   * classes, and a bias per class.
   */
  head?: { weights: Float32Array; bias: Float32Array };
}

/** Projects rows (n x inputDim) to unit vectors (n x outputDim). */
export async function project(mm: MatMul, p: Projection, x: Float32Array): Promise<Float32Array> {
  const n = x.length / p.inputDim;
  const out = new Float32Array(n * p.outputDim);
  const block = 4096;
  for (let start = 0; start < n; start += block) {
    const size = Math.min(block, n - start);
    const xs = standardise(p, x.subarray(start * p.inputDim, (start + size) * p.inputDim));
    const z = await mm.mul(matrix(size, p.inputDim, xs), matrix(p.inputDim, p.outputDim, p.weights));
    normaliseRows(z.data, p.outputDim);
    out.set(z.data, start * p.outputDim);
  }
  return out;
}

export function standardise(
  p: Pick<Projection, 'inputDim' | 'mean' | 'scale'>,
  x: Float32Array,
): Float32Array {
  const d = p.inputDim;
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const c = i % d;
    out[i] = ((x[i] as number) - (p.mean[c] as number)) / (p.scale[c] as number);
  }
  return out;
}

export function normaliseRows(data: Float32Array, dim: number): void {
  for (let base = 0; base < data.length; base += dim) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += (data[base + j] as number) ** 2;
    const norm = Math.sqrt(s);
    if (norm > 0) for (let j = 0; j < dim; j++) data[base + j] = (data[base + j] as number) / norm;
  }
}

/** Per-dimension mean and standard deviation (floored, so near-constant features stay small). */
function moments(x: Float32Array, dim: number): { mean: Float32Array; scale: Float32Array } {
  const n = x.length / dim;
  const mean = new Float64Array(dim);
  const sq = new Float64Array(dim);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dim; j++) {
      const v = x[i * dim + j] as number;
      mean[j] = (mean[j] as number) + v;
      sq[j] = (sq[j] as number) + v * v;
    }
  }
  const m = new Float32Array(dim);
  const s = new Float32Array(dim);
  let avgStd = 0;
  for (let j = 0; j < dim; j++) {
    m[j] = (mean[j] as number) / n;
    s[j] = Math.sqrt(Math.max(0, (sq[j] as number) / n - (m[j] as number) ** 2));
    avgStd += s[j] as number;
  }
  avgStd /= dim;
  for (let j = 0; j < dim; j++) s[j] = Math.max(s[j] as number, 0.1 * avgStd, 1e-6);
  return { mean: m, scale: s };
}

class Adam {
  private readonly m: Float32Array;
  private readonly v: Float32Array;
  private t = 0;
  constructor(
    private readonly params: Float32Array,
    private readonly lr: number,
    private readonly decay: number,
  ) {
    this.m = new Float32Array(params.length);
    this.v = new Float32Array(params.length);
  }
  step(grad: Float32Array, lr = this.lr): void {
    this.t += 1;
    const b1 = 0.9;
    const b2 = 0.999;
    const c1 = 1 - b1 ** this.t;
    const c2 = 1 - b2 ** this.t;
    const p = this.params;
    for (let i = 0; i < p.length; i++) {
      const g = grad[i] as number;
      const m = b1 * (this.m[i] as number) + (1 - b1) * g;
      const v = b2 * (this.v[i] as number) + (1 - b2) * g * g;
      this.m[i] = m;
      this.v[i] = v;
      // Decoupled weight decay (AdamW).
      p[i] = (p[i] as number) * (1 - lr * this.decay) - (lr * (m / c1)) / (Math.sqrt(v / c2) + 1e-8);
    }
  }
}

/**
 * Learns the projection from training rows (n x inputDim features) and their labels.
 * Deterministic for a given seed.
 */
export async function trainProjection(
  features: Float32Array,
  inputDim: number,
  tasks: Task[],
  options: TrainOptions = {},
): Promise<Projection> {
  const dim = options.dim ?? 256;
  const epochs = options.epochs ?? 12;
  const batchSize = options.batchSize ?? 256;
  const lr = options.learningRate ?? 2e-3;
  const decay = options.weightDecay ?? 1e-4;
  const rng = new Random(options.seed ?? 1);
  const n = features.length / inputDim;
  const { mean, scale } = moments(features, inputDim);
  const projection: Projection = { inputDim, outputDim: dim, mean, scale, weights: new Float32Array() };
  const x = standardise(projection, features);

  const weights = new Float32Array(inputDim * dim).map(() => rng.normal() / Math.sqrt(inputDim));
  const offsets: number[] = [];
  let totalClasses = 0;
  for (const t of tasks) {
    offsets.push(totalClasses);
    totalClasses += t.classes.length;
  }
  const heads = new Float32Array(dim * totalClasses).map(() => rng.normal() / Math.sqrt(dim));
  const bias = new Float32Array(totalClasses);
  const optW = new Adam(weights, lr, decay);
  const optH = new Adam(heads, lr, decay);
  const optB = new Adam(bias, lr, 0);

  const mm = await MatMul.create();
  try {
    const order = Array.from({ length: n }, (_, i) => i);
    const steps = epochs * Math.ceil(n / batchSize);
    let step = 0;
    for (let epoch = 1; epoch <= epochs; epoch++) {
      rng.shuffle(order);
      let lossSum = 0;
      let lossCount = 0;
      const correct = tasks.map(() => 0);
      const seen = tasks.map(() => 0);
      for (let start = 0; start < n; start += batchSize) {
        const rows = order.slice(start, start + batchSize);
        const b = rows.length;
        const xb = new Float32Array(b * inputDim);
        rows.forEach((r, i) => {
          xb.set(x.subarray(r * inputDim, (r + 1) * inputDim), i * inputDim);
        });
        const X = matrix(b, inputDim, xb);
        const Z = await mm.mul(X, matrix(inputDim, dim, weights));
        const H = matrix(dim, totalClasses, heads);
        const logits = await mm.mul(Z, H);
        // Softmax cross-entropy per task; G holds dLoss/dLogits.
        const G = new Float32Array(b * totalClasses);
        tasks.forEach((t, ti) => {
          const off = offsets[ti] as number;
          const c = t.classes.length;
          for (let i = 0; i < b; i++) {
            const label = t.labels[rows[i] as number] as number;
            if (label < 0) continue;
            const base = i * totalClasses + off;
            let max = -Infinity;
            let arg = 0;
            for (let j = 0; j < c; j++) {
              const v = (logits.data[base + j] as number) + (bias[off + j] as number);
              logits.data[base + j] = v;
              if (v > max) {
                max = v;
                arg = j;
              }
            }
            let sum = 0;
            for (let j = 0; j < c; j++) sum += Math.exp((logits.data[base + j] as number) - max);
            for (let j = 0; j < c; j++) {
              const p = Math.exp((logits.data[base + j] as number) - max) / sum;
              G[base + j] = ((p - (j === label ? 1 : 0)) * t.weight) / b;
            }
            lossSum += t.weight * -((logits.data[base + label] as number) - max - Math.log(sum));
            lossCount += 1;
            seen[ti] = (seen[ti] as number) + 1;
            if (arg === label) correct[ti] = (correct[ti] as number) + 1;
          }
        });
        const Gm = matrix(b, totalClasses, G);
        const dH = await mm.mul(Z, Gm, true, false);
        const dZ = await mm.mul(Gm, H, false, true);
        const dW = await mm.mul(X, dZ, true, false);
        const dB = new Float32Array(totalClasses);
        for (let i = 0; i < b; i++)
          for (let j = 0; j < totalClasses; j++)
            dB[j] = (dB[j] as number) + (G[i * totalClasses + j] as number);
        // Cosine learning-rate decay over the whole run.
        const rate = lr * 0.5 * (1 + Math.cos((Math.PI * step) / steps));
        step += 1;
        optW.step(dW.data, rate);
        optH.step(dH.data, rate);
        optB.step(dB, rate);
      }
      const accuracy: Record<string, number> = {};
      tasks.forEach((t, i) => {
        accuracy[t.name] = (correct[i] as number) / Math.max(1, seen[i] as number);
      });
      options.onEpoch?.(epoch, epochs, lossSum / Math.max(1, lossCount), accuracy);
    }
  } finally {
    await mm.close();
  }
  return { ...projection, weights, head: { weights: heads, bias } };
}

export type { Matrix };
