/**
 * Converts the weights to ONNX once per option set and caches the result beside a manifest
 * (source integrity, converter version, options, checksum). A later call with the same options
 * reuses the cached file; any change in source or converter rebuilds it.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cacheDir } from '../config.js';
import { log } from '../log.js';
import { type ConvertOptions, convertToOnnx } from './onnx-builder.js';
import { readLayersModel } from './tfjs-layers.js';
import { ensureWeights, WEIGHTS_SOURCE } from './weights.js';

/** Bump when the converter's output changes, so that cached models are rebuilt. */
export const CONVERTER_VERSION = 1;
export const MODEL_ID = 'resnet50-imagenet-keras';

export interface ModelManifest {
  model: typeof MODEL_ID;
  converterVersion: number;
  source: typeof WEIGHTS_SOURCE;
  options: ConvertOptions;
  sha256: string;
  bytes: number;
  createdAt: string;
}

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
    m.model === MODEL_ID &&
    m.converterVersion === CONVERTER_VERSION &&
    m.source.integrity === WEIGHTS_SOURCE.integrity &&
    m.options.pooling === options.pooling &&
    m.options.head === options.head
  );
}

async function readManifest(path: string): Promise<ModelManifest | undefined> {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(await readFile(path, 'utf8')) as ModelManifest;
  } catch {
    return undefined;
  }
}

/** Writes a file atomically: a temporary sibling renamed into place. */
async function writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, path);
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
  await writeAtomic(path, bytes);
  await writeAtomic(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  log.info({ path, ms: Math.round(performance.now() - started) }, 'converted ResNet-50 to ONNX');
  return { path, manifest, converted: true };
}
