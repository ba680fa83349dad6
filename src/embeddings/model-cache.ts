/**
 * Converts the weights to ONNX once per option set and caches the result beside a manifest
 * (source integrity, converter version, options, checksum). A later call with the same options
 * reuses the cached file; any change in source or converter rebuilds it.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { cacheDir } from '../config.js';
import { writeDurably, writeJsonDurably } from '../io/durable.js';
import { FileFormatError, readJsonFile } from '../io/json-file.js';
import { log } from '../log.js';
import { type Calibration, calibrate, calibrationPhotos, calibrationSource } from './calibration.js';
import { type ConvertOptions, convertToOnnx } from './onnx-builder.js';
import {
  CONVERTER_VERSION,
  INPUT_SIZE,
  INPUT_SIZES,
  MODEL_ID,
  POOLINGS,
  PRECISIONS,
  type Precision,
  WEIGHTS_SOURCE,
} from './spec.js';
import { readLayersModel } from './tfjs-layers.js';
import { ensureWeights } from './weights.js';

export { CONVERTER_VERSION, MODEL_ID } from './spec.js';

/** A manifest of another model or weights does not parse: the model is rebuilt. */
const ModelManifestSchema = z.object({
  model: z.literal(MODEL_ID),
  converterVersion: z.number().int(),
  source: z.object({
    package: z.literal(WEIGHTS_SOURCE.package),
    version: z.literal(WEIGHTS_SOURCE.version),
    integrity: z.literal(WEIGHTS_SOURCE.integrity),
  }),
  options: z.object({
    pooling: z.enum(POOLINGS),
    head: z.boolean(),
    // Manifests written before int8 and other input sizes existed: fp32, 224.
    precision: z.enum(PRECISIONS).default('fp32'),
    inputSize: z.number().int().default(INPUT_SIZE),
  }),
  /** int8: how the activation ranges were measured, and the ranges. */
  calibration: z
    .object({
      method: z.literal('minmax'),
      source: z.string(),
      photos: z.number().int().positive(),
      photoListSha256: z.string(),
      ranges: z.record(z.string(), z.tuple([z.number(), z.number()])),
    })
    .optional(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().nonnegative(),
  createdAt: z.string(),
});
export type ModelManifest = z.infer<typeof ModelManifestSchema>;

export interface CachedModel {
  path: string;
  manifest: ModelManifest;
  /** True when this call converted the model, false when the cache served it. */
  converted: boolean;
}

/** What ensureModel builds: the pooling, the head, the precision and the input side. */
export interface ModelOptions {
  pooling: ConvertOptions['pooling'];
  head: boolean;
  precision?: Precision;
  inputSize?: number;
}

function modelName(options: ModelOptions): string {
  const size = options.inputSize ?? INPUT_SIZE;
  return (
    `${MODEL_ID}-${options.pooling}${options.head ? '-head' : ''}` +
    `${size === INPUT_SIZE ? '' : `-${size}`}${options.precision === 'int8' ? '-int8' : ''}`
  );
}

function sameBuild(m: ModelManifest, options: ModelOptions): boolean {
  return (
    m.converterVersion === CONVERTER_VERSION &&
    m.options.pooling === options.pooling &&
    m.options.head === options.head &&
    m.options.precision === (options.precision ?? 'fp32') &&
    m.options.inputSize === (options.inputSize ?? INPUT_SIZE)
  );
}

/** The manifest, or undefined when it is absent or unreadable (the model is then rebuilt). */
async function readManifest(path: string): Promise<ModelManifest | undefined> {
  try {
    return await readJsonFile(path, ModelManifestSchema, { optional: true });
  } catch (err) {
    if (!(err instanceof FileFormatError)) throw err;
    log.info({ reason: err.message }, 'cached model manifest not usable; converting again');
    return undefined;
  }
}

export async function ensureModel(options: ModelOptions): Promise<CachedModel> {
  const inputSize = options.inputSize ?? INPUT_SIZE;
  if (!(INPUT_SIZES as readonly number[]).includes(inputSize))
    throw new Error(`input size ${inputSize} is not one of ${INPUT_SIZES.join(', ')}`);
  const precision = options.precision ?? 'fp32';
  if (precision === 'int8' && options.head) throw new Error('the classifier head is available in fp32 only');
  const dir = join(cacheDir, 'models');
  const name = modelName(options);
  const path = join(dir, `${name}.onnx`);
  const manifestPath = join(dir, `${name}.json`);
  const cached = await readManifest(manifestPath);
  if (cached && sameBuild(cached, options) && existsSync(path))
    return { path, manifest: cached, converted: false };

  const weights = await ensureWeights();
  const started = performance.now();
  const layers = await readLayersModel(weights.modelDir);
  const base = { pooling: options.pooling, head: options.head, inputSize };
  let calibration: Calibration | undefined;
  let bytes: Uint8Array;
  if (precision === 'int8') {
    const graph = convertToOnnx(layers, { ...base, calibrate: true });
    calibration = await calibrate(graph, inputSize, calibrationPhotos(calibrationSource()));
    bytes = convertToOnnx(layers, { ...base, precision, ranges: calibration.ranges });
  } else bytes = convertToOnnx(layers, base);
  await mkdir(dir, { recursive: true });
  const manifest: ModelManifest = {
    model: MODEL_ID,
    converterVersion: CONVERTER_VERSION,
    source: WEIGHTS_SOURCE,
    options: { pooling: options.pooling, head: options.head, precision, inputSize },
    ...(calibration ? { calibration } : {}),
    sha256: createHash('sha256').update(bytes).digest('hex'),
    bytes: bytes.length,
    createdAt: new Date().toISOString(),
  };
  // Model first, manifest last: a manifest only ever describes a complete model file.
  await writeDurably(path, bytes);
  await writeJsonDurably(manifestPath, manifest);
  log.info(
    { path, precision, inputSize, ms: Math.round(performance.now() - started) },
    'converted ResNet-50 to ONNX',
  );
  return { path, manifest, converted: true };
}
