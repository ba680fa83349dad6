/**
 * Which kind of product a shopper's photo shows, learned from labelled shoppers' photos.
 *
 * What the catalogue teaches about kinds transfers badly to shoppers' photos: a garment on a bed
 * lights up other ImageNet features than the same garment on a model in a studio (the heads learned
 * from catalogue photos name the right kind for about a third of them). A softmax regression on the
 * same standardised ResNet-50 features, learned from a few hundred labelled shoppers' photos (the
 * tune half of street-dev here), names it for about four in five of the other half. Its
 * probabilities, summed per catalogue kind through the folder's label map, become the kind block
 * of a shopper photo's search vector (see composer.ts): a product of a likely kind scores higher,
 * in proportion to how likely, and the visual similarity ranks within and across kinds.
 *
 * Written by hand on onnxruntime matrix products, like projection.ts: one linear layer.
 */
import { MatMul, matrix } from '../compute/matmul.js';
import type { Projection } from './projection.js';
import { standardise } from './projection.js';

export interface ShopperHead {
  /** The shoppers' labels it tells apart. */
  labels: string[];
  /** Per label, the values of the catalogue's kind column that count as it. */
  kinds: string[][];
  /** inputDim x labels, row-major, on features standardised as the projection does. */
  weights: Float32Array;
  bias: Float32Array;
}

/** Labelled shoppers' photos, embedded with the index's own model. */
export interface ShopperExamples {
  /** Where they came from (a folder), for the model's record. */
  source: string;
  /** count x dim visual vectors. */
  vectors: Float32Array;
  /** Each photo's label. */
  labels: string[];
  /** Label → the catalogue kind values that count as it. */
  map: Record<string, string[]>;
  /** Which photos of the folder were learned from (the tune half). */
  part: string;
}

export interface ShopperTraining {
  /** L2 penalty on the weights. */
  lambda?: number;
  epochs?: number;
  learningRate?: number;
}

/** Measured on street-dev's tune half with 5-fold cross-validation (README, "Shoppers' photos"). */
export const SHOPPER_HEAD_LAMBDA = 0.01;
export const SHOPPER_HEAD_EPOCHS = 300;
const LEARNING_RATE = 0.5;

/** Learns the head by full-batch gradient descent on the softmax loss (few hundred photos: seconds). */
export async function trainShopperHead(
  examples: ShopperExamples,
  projection: Pick<Projection, 'inputDim' | 'mean' | 'scale'>,
  options: ShopperTraining = {},
): Promise<{ head: ShopperHead; trainAccuracy: number }> {
  const labels = [...new Set(examples.labels)].sort();
  const at = new Map(labels.map((l, i) => [l, i]));
  const n = examples.labels.length;
  const d = projection.inputDim;
  const c = labels.length;
  if (n === 0 || c < 2) throw new RangeError("learning shoppers' kinds needs photos of at least two labels");
  const x = standardise(projection, examples.vectors);
  const y = Int32Array.from(examples.labels, (l) => at.get(l) as number);
  const weights = new Float32Array(d * c);
  const bias = new Float32Array(c);
  const lambda = options.lambda ?? SHOPPER_HEAD_LAMBDA;
  const lr = options.learningRate ?? LEARNING_RATE;
  const epochs = options.epochs ?? SHOPPER_HEAD_EPOCHS;
  const mm = await MatMul.create();
  try {
    const xm = matrix(n, d, x);
    let probabilities: Float32Array = new Float32Array(0);
    for (let e = 0; e < epochs; e++) {
      const z = await mm.mul(xm, matrix(d, c, weights));
      probabilities = softmaxRows(z.data, bias, c);
      // dL/dz = (p - onehot) / n
      const g = probabilities.slice();
      for (let i = 0; i < n; i++) g[i * c + (y[i] as number)] = (g[i * c + (y[i] as number)] as number) - 1;
      for (let i = 0; i < g.length; i++) g[i] = (g[i] as number) / n;
      const gw = await mm.mul(xm, matrix(n, c, g), true, false);
      for (let i = 0; i < weights.length; i++)
        weights[i] = (weights[i] as number) - lr * ((gw.data[i] as number) + lambda * (weights[i] as number));
      for (let j = 0; j < c; j++) {
        let s = 0;
        for (let i = 0; i < n; i++) s += g[i * c + j] as number;
        bias[j] = (bias[j] as number) - lr * s;
      }
    }
    let right = 0;
    for (let i = 0; i < n; i++) if (argmax(probabilities.subarray(i * c, (i + 1) * c)) === y[i]) right++;
    return {
      head: { labels, kinds: labels.map((l) => examples.map[l] ?? []), weights, bias },
      trainAccuracy: right / n,
    };
  } finally {
    await mm.close();
  }
}

/** The head's label probabilities for one photo's standardised features. */
export function shopperLabelProbabilities(head: ShopperHead, standardised: Float32Array): Float32Array {
  const c = head.labels.length;
  const z = new Float32Array(c);
  for (let i = 0; i < standardised.length; i++) {
    const xi = standardised[i] as number;
    if (xi === 0) continue;
    const base = i * c;
    for (let j = 0; j < c; j++) z[j] = (z[j] as number) + xi * (head.weights[base + j] as number);
  }
  return softmaxRows(z, head.bias, c);
}

/** Row-wise softmax of z + bias (n x c). */
function softmaxRows(z: Float32Array, bias: Float32Array, c: number): Float32Array {
  const out = new Float32Array(z.length);
  for (let base = 0; base < z.length; base += c) {
    let max = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < c; j++) max = Math.max(max, (z[base + j] as number) + (bias[j] as number));
    let sum = 0;
    for (let j = 0; j < c; j++) {
      const v = Math.exp((z[base + j] as number) + (bias[j] as number) - max);
      out[base + j] = v;
      sum += v;
    }
    for (let j = 0; j < c; j++) out[base + j] = (out[base + j] as number) / sum;
  }
  return out;
}

function argmax(v: Float32Array): number {
  let best = 0;
  for (let j = 1; j < v.length; j++) if ((v[j] as number) > (v[best] as number)) best = j;
  return best;
}
