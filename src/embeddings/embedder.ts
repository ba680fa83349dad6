/**
 * The user-facing embedding API: photos in, L2-normalised 2048-d ResNet-50 vectors out, each
 * batch decoded on libuv's threads while the previous batch runs through the network.
 *
 * Concurrent calls share inference calls: batches that are waiting when the network becomes free
 * run together (up to `batchSize` photos), and a lone small batch waits up to `batchWaitMs` for
 * batches that other calls are decoding at that moment. A call made while nothing else is being
 * decoded runs at once, so a single request never waits.
 */
import { z } from 'zod';
import { type ImageError, isImageError } from '../images/errors.js';
import type { RgbImage } from '../images/foreground.js';
import { decodeToRgb, resizeRgb } from '../images/preprocess.js';
import { readJsonFile } from '../io/json-file.js';
import { rgbToTensor, tensorFloats } from './input-tensor.js';
import { ensureModel } from './model-cache.js';
import { createRuntime, type Device, type RunOutput, type Runtime, type ThreadSettings } from './runtime.js';
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
  /** onnxruntime intra-op threads (default: one per CPU available). */
  threads?: number;
  /** Let idle onnxruntime threads spin (default false; see runtime.ts). */
  spinning?: boolean;
  /**
   * Milliseconds a batch smaller than `batchSize` waits for batches other calls are decoding, so
   * that they share one inference call (default 5; 0: never waits, though batches that queue while
   * the network is busy still run together).
   */
  batchWaitMs?: number;
  /** Load the ImageNet classifier head too, for `classify`. */
  head?: boolean;
}

/** A photo: a file path, or bytes with an optional label used in error messages. */
export type PhotoInput = string | { data: Buffer; label?: string };

/**
 * What the embedder takes: a photo, or sRGB pixels this process decoded itself (a prepared query
 * photo), resized as a photo would be.
 */
export type ImageInput = PhotoInput | { pixels: RgbImage; label?: string };

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

/** Default of `batchWaitMs`: 5, or LOOKALIKE_BATCH_WAIT_MS (for benchmarks comparing waits). */
export const DEFAULT_BATCH_WAIT_MS = waitFromEnv(process.env.LOOKALIKE_BATCH_WAIT_MS) ?? 5;

function waitFromEnv(value: string | undefined): number | undefined {
  const n = Number(value);
  return value && Number.isFinite(n) && n >= 0 ? n : undefined;
}

interface Job {
  batch: DecodedBatch;
  resolve: (out: RunOutput) => void;
  reject: (err: unknown) => void;
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
  private readonly batchWaitMs: number;
  private readonly floats: number;
  /** Decoded batches waiting for the network, in arrival order. */
  private pending: Job[] = [];
  /** One inference call at a time: concurrent callers queue in `pending`, so memory stays bounded. */
  private running: Promise<void> | undefined;
  private waitTimer: NodeJS.Timeout | undefined;
  /** decodeBatch calls in progress: batches that may soon join a waiting one. */
  private decoding = 0;
  private decodeMs = 0;
  private inferenceMs = 0;
  private inferenceCalls = 0;
  private imagesInferred = 0;

  private constructor(init: {
    spec: EmbeddingSpec;
    device: Device;
    batchSize: number;
    runtime: Runtime;
    labels?: string[];
    seedCompat: boolean;
    batchWaitMs: number;
  }) {
    this.spec = init.spec;
    this.device = init.device;
    this.batchSize = init.batchSize;
    this.runtime = init.runtime;
    this.labels = init.labels;
    this.seedCompat = init.seedCompat;
    this.batchWaitMs = init.batchWaitMs;
    this.floats = tensorFloats(init.spec.inputSize);
  }

  static async create(options: EmbedderOptions = {}): Promise<Embedder> {
    const pooling = options.pooling ?? 'max';
    const head = options.head ?? false;
    if (head && options.precision === 'int8')
      throw new Error('classify runs in fp32 only (--precision fp32)');
    // The classifier head exists in fp32 only.
    const spec = embeddingSpec(head ? { ...options, precision: options.precision ?? 'fp32' } : options);
    const model = await ensureModel({ pooling, head, precision: spec.precision, inputSize: spec.inputSize });
    const runtime = await createRuntime(model.path, {
      device: options.device ?? 'cpu',
      threads: options.threads,
      spinning: options.spinning,
      inputSize: spec.inputSize,
    });
    const labels = head
      ? Object.values(await readJsonFile((await ensureWeights()).labelsPath, LabelsSchema))
      : undefined;
    return new Embedder({
      spec,
      device: runtime.device,
      batchSize: Math.max(1, options.batchSize ?? 16),
      runtime,
      labels,
      seedCompat: options.seedCompat ?? false,
      batchWaitMs: Math.max(0, options.batchWaitMs ?? DEFAULT_BATCH_WAIT_MS),
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

  /** The onnxruntime thread settings in use. */
  get threads(): ThreadSettings {
    return this.runtime.threads;
  }

  /**
   * Milliseconds spent so far decoding batches and running them through the network (wall time of
   * each; decoding overlaps inference), and the inference calls made and photos they took.
   * Callers take differences.
   */
  timings(): { decodeMs: number; inferenceMs: number; inferenceCalls: number; imagesInferred: number } {
    return {
      decodeMs: this.decodeMs,
      inferenceMs: this.inferenceMs,
      inferenceCalls: this.inferenceCalls,
      imagesInferred: this.imagesInferred,
    };
  }

  private async decodeBatch(images: ImageInput[]): Promise<DecodedBatch> {
    const started = performance.now();
    this.decoding += 1;
    try {
      const size = this.spec.inputSize;
      const decoded = await Promise.all(
        images.map(async (input) => {
          try {
            if (typeof input !== 'string' && 'pixels' in input) {
              return await resizeRgb(input.pixels, this.spec.resize, size);
            }
            return await decodeToRgb(
              typeof input === 'string' ? input : input.data,
              this.spec.resize,
              labelOf(input),
              size,
            );
          } catch (err) {
            if (isImageError(err)) return err;
            throw err;
          }
        }),
      );
      const good = decoded.filter((d) => !isImageError(d)).length;
      const tensor = new Float32Array(good * this.floats);
      let count = 0;
      const slots = decoded.map((d) => {
        if (isImageError(d)) return d;
        rgbToTensor(d as Uint8Array, this.seedCompat, tensor, count * this.floats, size);
        count += 1;
        return count - 1;
      });
      return { tensor, slots, count };
    } finally {
      this.decoding -= 1;
      this.decodeMs += performance.now() - started;
    }
  }

  private infer(batch: DecodedBatch): Promise<RunOutput> {
    if (batch.count === 0) return Promise.resolve({ features: new Float32Array(0) });
    return new Promise<RunOutput>((resolve, reject) => {
      this.pending.push({ batch, resolve, reject });
      this.schedule();
    });
  }

  private pendingImages(): number {
    return this.pending.reduce((n, job) => n + job.batch.count, 0);
  }

  /** Runs the waiting batches now, or waits (bounded) for batches that are being decoded. */
  private schedule(): void {
    if (this.running || this.pending.length === 0) return;
    if (this.pendingImages() >= this.batchSize || this.decoding === 0 || this.batchWaitMs === 0) {
      this.flush();
      return;
    }
    this.waitTimer ??= setTimeout(() => this.flush(), this.batchWaitMs);
  }

  /** Runs the waiting batches, oldest first, up to `batchSize` photos (at least one batch), in one call. */
  private flush(): void {
    clearTimeout(this.waitTimer);
    this.waitTimer = undefined;
    if (this.running || this.pending.length === 0) return;
    const jobs: Job[] = [];
    let count = 0;
    while (this.pending.length > 0) {
      const next = this.pending[0] as Job;
      if (jobs.length > 0 && count + next.batch.count > this.batchSize) break;
      jobs.push(next);
      this.pending.shift();
      count += next.batch.count;
    }
    this.running = this.runJobs(jobs, count).finally(() => {
      this.running = undefined;
      // Batches that arrived during the call have waited already: they go next, together.
      this.flush();
    });
  }

  private async runJobs(jobs: Job[], count: number): Promise<void> {
    let input: Float32Array;
    if (jobs.length === 1) input = (jobs[0] as Job).batch.tensor;
    else {
      input = new Float32Array(count * this.floats);
      let at = 0;
      for (const job of jobs) {
        input.set(job.batch.tensor, at);
        at += job.batch.tensor.length;
      }
    }
    const started = performance.now();
    this.inferenceCalls += 1;
    this.imagesInferred += count;
    try {
      const out = await this.runtime.run(input, count);
      let at = 0;
      for (const job of jobs) {
        const n = job.batch.count;
        job.resolve({
          features: out.features.subarray(at * EMBEDDING_DIM, (at + n) * EMBEDDING_DIM),
          probabilities: out.probabilities?.subarray(at * 1000, (at + n) * 1000),
        });
        at += n;
      }
    } catch (err) {
      for (const job of jobs) job.reject(err);
    } finally {
      this.inferenceMs += performance.now() - started;
    }
  }

  /** Waits for queued inference, then releases the model. */
  async close(): Promise<void> {
    while (this.running || this.pending.length > 0) {
      this.flush();
      await this.running;
    }
    await this.runtime.close();
  }
}
