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
import { type ConvertOptions, convertToOnnx } from './onnx-builder.js';
import { CONVERTER_VERSION, MODEL_ID, POOLINGS, WEIGHTS_SOURCE } from './spec.js';
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
  options: z.object({ pooling: z.enum(POOLINGS), head: z.boolean() }),
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

function modelName(options: ConvertOptions): string {
  return `${MODEL_ID}-${options.pooling}${options.head ? '-head' : ''}`;
}

function sameBuild(m: ModelManifest, options: ConvertOptions): boolean {
  return (
    m.converterVersion === CONVERTER_VERSION &&
    m.options.pooling === options.pooling &&
    m.options.head === options.head
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

export async function ensureModel(options: ConvertOptions): Promise<CachedModel> {
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
  const bytes = convertToOnnx(layers, options);
  await mkdir(dir, { recursive: true });
  const manifest: ModelManifest = {
    model: MODEL_ID,
    converterVersion: CONVERTER_VERSION,
    source: WEIGHTS_SOURCE,
    options: { pooling: options.pooling, head: options.head },
    sha256: createHash('sha256').update(bytes).digest('hex'),
    bytes: bytes.length,
    createdAt: new Date().toISOString(),
  };
  // Model first, manifest last: a manifest only ever describes a complete model file.
  await writeDurably(path, bytes);
  await writeJsonDurably(manifestPath, manifest);
  log.info({ path, ms: Math.round(performance.now() - started) }, 'converted ResNet-50 to ONNX');
  return { path, manifest, converted: true };
}
