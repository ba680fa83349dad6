/**
 * Activation ranges for int8: a few hundred catalogue photos run through the float32 calibration
 * graph (onnx-builder's `calibrate` mode), recording each quantised tensor's smallest and largest
 * value.
 *
 * Min/max rather than a percentile: the quantised tensors are post-ReLU maps and residual sums of a
 * BatchNorm-folded network whose largest values are the strongest features (the final max pooling
 * keeps exactly the peaks), so clipping them costs more than the coarser step of the full range;
 * and min/max needs one pass, no histogram, and is deterministic. The quality that this gives is
 * measured by `lookalike eval` (README, "Input size and precision").
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { datasetsDir } from '../config.js';
import { isImageError } from '../images/errors.js';
import { decodeToRgb } from '../images/preprocess.js';
import { log } from '../log.js';
import { rgbToTensor, tensorFloats } from './input-tensor.js';
import type { Range } from './quantise.js';
import { FEATURES_OUTPUT, INPUT_NAME } from './spec.js';

/** Photos the ranges are measured on. */
export const CALIBRATION_PHOTOS = 256;
const BATCH = 4;
const PHOTO = /\.(jpe?g|png|webp)$/i;

export interface Calibration {
  method: 'minmax';
  /** The folder the photos came from, and how many were used. */
  source: string;
  photos: number;
  /** sha256 of the chosen file names, one per line: the same photos give the same ranges. */
  photoListSha256: string;
  ranges: Record<string, Range>;
}

/** Catalogue photos: LOOKALIKE_CALIBRATION_PHOTOS, or the fashion-small catalogue beside the project. */
export function calibrationSource(): string {
  return process.env.LOOKALIKE_CALIBRATION_PHOTOS ?? join(datasetsDir, 'fashion-small', 'images');
}

/** `count` photos spread evenly over the folder's files in name order: the same folder, the same choice. */
export function calibrationPhotos(dir: string, count = CALIBRATION_PHOTOS): string[] {
  if (!existsSync(dir)) {
    throw new Error(
      `int8 needs catalogue photos to calibrate on, and ${dir} does not exist: set LOOKALIKE_CALIBRATION_PHOTOS to a folder of a few hundred product photos`,
    );
  }
  const files = readdirSync(dir)
    .filter((f) => PHOTO.test(f))
    .sort();
  if (files.length === 0) throw new Error(`no photos to calibrate int8 on in ${dir}`);
  const step = files.length / Math.min(count, files.length);
  return Array.from({ length: Math.min(count, files.length) }, (_, i) =>
    join(dir, files[Math.floor(i * step)] as string),
  );
}

function widen(ranges: Map<string, Range>, name: string, data: Float32Array): void {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as number;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const r = ranges.get(name);
  ranges.set(name, r ? [Math.min(r[0], lo), Math.max(r[1], hi)] : [lo, hi]);
}

/** Runs the calibration graph over the chosen photos (stretched to `inputSize`, Keras BGR means). */
export async function calibrate(
  graph: Uint8Array,
  inputSize: number,
  photos: string[],
): Promise<Calibration> {
  const started = performance.now();
  const session = await ort.InferenceSession.create(graph, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
  });
  const ranges = new Map<string, Range>();
  let used = 0;
  try {
    for (let i = 0; i < photos.length; i += BATCH) {
      const decoded = await Promise.all(
        photos.slice(i, i + BATCH).map((p) => decodeToRgb(p, 'stretch', p, inputSize).catch((e) => e)),
      );
      const good = decoded.filter((d): d is Buffer => !isImageError(d) && Buffer.isBuffer(d));
      if (good.length === 0) continue;
      const floats = tensorFloats(inputSize);
      const input = new Float32Array(good.length * floats);
      for (const [j, rgb] of good.entries()) rgbToTensor(rgb, false, input, j * floats, inputSize);
      widen(ranges, INPUT_NAME, input);
      const out = await session.run({
        [INPUT_NAME]: new ort.Tensor('float32', input, [good.length, 3, inputSize, inputSize]),
      });
      for (const [name, tensor] of Object.entries(out))
        if (name !== FEATURES_OUTPUT) widen(ranges, name, tensor.data as Float32Array);
      used += good.length;
    }
  } finally {
    await session.release();
  }
  if (used === 0) throw new Error('none of the calibration photos could be decoded');
  const names = photos.map((p) => p.split(/[\\/]/).pop()).join('\n');
  log.info(
    { photos: used, ms: Math.round(performance.now() - started) },
    'calibrated int8 activation ranges',
  );
  return {
    method: 'minmax',
    source: calibrationSource(),
    photos: used,
    photoListSha256: createHash('sha256').update(names).digest('hex'),
    ranges: Object.fromEntries(ranges),
  };
}
