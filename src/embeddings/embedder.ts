/**
 * The user-facing embedding API: photos in, L2-normalised 2048-d ResNet-50 vectors out, each
 * batch decoded on libuv's threads while the previous batch runs through the network.
 */
import { z } from 'zod';
import { type ImageError, isImageError } from '../images/errors.js';
import { decodeToRgb } from '../images/preprocess.js';
import { readJsonFile } from '../io/json-file.js';
import { rgbToTensor, TENSOR_FLOATS } from './input-tensor.js';
import { ensureModel } from './model-cache.js';
import { createRuntime, type Device, type RunOutput, type Runtime } from './runtime.js';
import { EMBEDDING_DIM, type EmbeddingSpec, embeddingSpec, type SpecOptions } from './spec.js';
import { ensureWeights } from './weights.js';

// The spec's names, for existing importers (storage code imports ./spec.js directly).
export {
  describeSpec,
  EMBEDDING_DIM,
  type EmbeddingSpec,
  embeddingSpec,
  optionsForSpec,
  sameSpec,
} from './spec.js';

/** ImageNet labels of the weights package: class index -> name. */
const LabelsSchema = z.record(z.string(), z.string());

export interface EmbedderOptions extends SpecOptions {
  device?: Device;
  /** Images per inference call (default 16). */
  batchSize?: number;
  /** onnxruntime intra-op threads (default: its own choice). */
  threads?: number;
  /** Load the ImageNet classifier head too, for `classify`. */
  head?: boolean;
}

/** A photo: a file path, or bytes with an optional label used in error messages. */
export type ImageInput = string | { data: Buffer; label?: string };

export interface Classification {
  index: number;
  label: string;
  probability: number;
}

function labelOf(input: ImageInput): string {
  return typeof input === 'string' ? input : (input.label ?? '<buffer>');
}

function l2normalise(v: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += (v[i] as number) * (v[i] as number);
  const norm = Math.sqrt(sum);
  if (norm > 0) for (let i = 0; i < v.length; i++) v[i] = (v[i] as number) / norm;
  return v;
}

interface DecodedBatch {
  tensor: Float32Array;
  /** Slot of each input in the tensor, or the error that kept it out. */
  slots: (number | ImageError)[];
  count: number;
}

export class Embedder {
  readonly spec: EmbeddingSpec;
  readonly device: Device;
  readonly batchSize: number;
  private readonly runtime: Runtime;
  private readonly labels: string[] | undefined;
  private readonly seedCompat: boolean;
  /** Serialises inference calls: concurrent callers queue here, so memory stays bounded. */
  private queue: Promise<unknown> = Promise.resolve();
  private decodeMs = 0;
  private inferenceMs = 0;

  private constructor(init: {
    spec: EmbeddingSpec;
    device: Device;
    batchSize: number;
    runtime: Runtime;
    labels?: string[];
    seedCompat: boolean;
  }) {
    this.spec = init.spec;
    this.device = init.device;
    this.batchSize = init.batchSize;
    this.runtime = init.runtime;
    this.labels = init.labels;
    this.seedCompat = init.seedCompat;
  }

  static async create(options: EmbedderOptions = {}): Promise<Embedder> {
    const pooling = options.pooling ?? 'max';
    const head = options.head ?? false;
    const model = await ensureModel({ pooling, head });
    const runtime = await createRuntime(model.path, {
      device: options.device ?? 'cpu',
      threads: options.threads,
    });
    const labels = head
      ? Object.values(await readJsonFile((await ensureWeights()).labelsPath, LabelsSchema))
      : undefined;
    return new Embedder({
      spec: embeddingSpec(options),
      device: runtime.device,
      batchSize: Math.max(1, options.batchSize ?? 16),
      runtime,
      labels,
      seedCompat: options.seedCompat ?? false,
    });
  }

  /** Embeds photos; rejects with an ImageError naming the first photo that could not be read. */
  async embed(images: ImageInput[]): Promise<Float32Array[]> {
    const results = await this.embedEach(images);
    const failed = results.find(isImageError);
    if (failed) throw failed;
    return results as Float32Array[];
  }

  /** Embeds photos; a photo that cannot be read gives its ImageError in its place, the rest go on. */
  async embedEach(
    images: ImageInput[],
    onBatch?: (done: number, total: number) => void,
  ): Promise<(Float32Array | ImageError)[]> {
    const out: (Float32Array | ImageError)[] = [];
    for await (const batch of this.embedBatches(images)) {
      out.push(...batch);
      onBatch?.(out.length, images.length);
    }
    return out;
  }

  /**
   * Yields results batch by batch, in input order. The next batch decodes while the current one
   * runs through the network.
   */
  async *embedBatches(images: ImageInput[]): AsyncGenerator<(Float32Array | ImageError)[]> {
    const chunks: ImageInput[][] = [];
    for (let i = 0; i < images.length; i += this.batchSize) chunks.push(images.slice(i, i + this.batchSize));
    let next = chunks.length > 0 ? this.decodeBatch(chunks[0] as ImageInput[]) : undefined;
    for (let i = 0; i < chunks.length; i++) {
      const batch = await (next as Promise<DecodedBatch>);
      next = i + 1 < chunks.length ? this.decodeBatch(chunks[i + 1] as ImageInput[]) : undefined;
      const { features } = await this.infer(batch);
      yield batch.slots.map((slot) =>
        typeof slot === 'number'
          ? l2normalise(features.slice(slot * EMBEDDING_DIM, (slot + 1) * EMBEDDING_DIM))
          : slot,
      );
    }
  }

  /** ImageNet top-k of each photo (needs `head: true`). */
  async classify(images: ImageInput[], k = 5): Promise<Classification[][]> {
    if (!this.labels) throw new Error('classify needs an embedder created with head: true');
    const batch = await this.decodeBatch(images);
    const { probabilities } = await this.infer(batch);
    return batch.slots.map((slot) => {
      if (typeof slot !== 'number') throw slot;
      const p = (probabilities as Float32Array).subarray(slot * 1000, (slot + 1) * 1000);
      return [...p]
        .map((probability, index) => ({ index, probability, label: this.labels?.[index] ?? String(index) }))
        .sort((a, b) => b.probability - a.probability)
        .slice(0, k);
    });
  }

  /**
   * Milliseconds spent so far decoding batches and running them through the network (wall time of
   * each; decoding overlaps inference). Callers take differences.
   */
  timings(): { decodeMs: number; inferenceMs: number } {
    return { decodeMs: this.decodeMs, inferenceMs: this.inferenceMs };
  }

  private async decodeBatch(images: ImageInput[]): Promise<DecodedBatch> {
    const started = performance.now();
    const decoded = await Promise.all(
      images.map(async (input) => {
        try {
          return await decodeToRgb(
            typeof input === 'string' ? input : input.data,
            this.spec.resize,
            labelOf(input),
          );
        } catch (err) {
          if (isImageError(err)) return err;
          throw err;
        }
      }),
    );
    const good = decoded.filter((d) => !isImageError(d)).length;
    const tensor = new Float32Array(good * TENSOR_FLOATS);
    let count = 0;
    const slots = decoded.map((d) => {
      if (isImageError(d)) return d;
      rgbToTensor(d as Uint8Array, this.seedCompat, tensor, count * TENSOR_FLOATS);
      count += 1;
      return count - 1;
    });
    this.decodeMs += performance.now() - started;
    return { tensor, slots, count };
  }

  private infer(batch: DecodedBatch): Promise<RunOutput> {
    const run = async (): Promise<RunOutput> => {
      if (batch.count === 0) return { features: new Float32Array(0) };
      const started = performance.now();
      try {
        return await this.runtime.run(batch.tensor, batch.count);
      } finally {
        this.inferenceMs += performance.now() - started;
      }
    };
    const task = this.queue.then(run, run);
    this.queue = task.catch(() => undefined);
    return task;
  }

  /** Waits for queued inference, then releases the model. */
  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    await this.runtime.close();
  }
}
