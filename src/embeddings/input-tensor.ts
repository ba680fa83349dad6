/**
 * Decoded pixels -> the CHW float tensor that ResNet-50 expects (Keras "caffe" preprocessing).
 * Decoding and resizing are images/ work; the means and channel order belong to the model.
 */
import { decodeToRgb } from '../images/preprocess.js';
import { CAFFE_MEANS_BGR, INPUT_SIZE, type PreprocessOptions } from './spec.js';

/** Pixels in one plane, and bytes / floats in one image. */
const PLANE = INPUT_SIZE * INPUT_SIZE;
const RGB_BYTES = PLANE * 3;
export const TENSOR_FLOATS = PLANE * 3;

/**
 * Writes the CHW float tensor (3 x INPUT_SIZE x INPUT_SIZE) of interleaved R,G,B bytes, Keras "caffe" style:
 * channel 0 = B - 103.939, 1 = G - 116.779, 2 = R - 123.68. With `seedCompat` it reproduces the original
 * system's mistake instead: channel 0 = R - 103.939, 1 = G - 116.779, 2 = B - 123.68.
 *
 * @param out where to write (default: a new array); `offset` (in floats) selects a slot of a batch buffer.
 * @returns `out`.
 */
export function rgbToTensor(
  rgb: Uint8Array,
  seedCompat: boolean,
  out?: Float32Array,
  offset = 0,
): Float32Array {
  if (rgb.length !== RGB_BYTES) {
    throw new RangeError(
      `rgbToTensor: expected ${RGB_BYTES} bytes (${INPUT_SIZE}x${INPUT_SIZE}x3), got ${rgb.length}`,
    );
  }
  const dst = out ?? new Float32Array(TENSOR_FLOATS);
  if (!Number.isInteger(offset) || offset < 0 || offset + TENSOR_FLOATS > dst.length) {
    throw new RangeError(
      `rgbToTensor: offset ${offset} + ${TENSOR_FLOATS} floats does not fit an output of ${dst.length} floats`,
    );
  }
  const [m0, m1, m2] = CAFFE_MEANS_BGR;
  // Source byte (within a pixel) for channels 0 and 2: B and R normally, R and B in seed-compat mode.
  const s0 = seedCompat ? 0 : 2;
  const s2 = seedCompat ? 2 : 0;
  const o0 = offset;
  const o1 = offset + PLANE;
  const o2 = offset + 2 * PLANE;
  for (let i = 0, j = 0; i < PLANE; i++, j += 3) {
    dst[o0 + i] = (rgb[j + s0] as number) - m0;
    dst[o1 + i] = (rgb[j + 1] as number) - m1;
    dst[o2 + i] = (rgb[j + s2] as number) - m2;
  }
  return dst;
}

/** decodeToRgb + rgbToTensor: a photo to one model input (3 x 224 x 224 floats). Throws ImageError only. */
export async function preprocess(
  input: string | Buffer,
  opts: PreprocessOptions,
  label?: string,
): Promise<Float32Array> {
  return rgbToTensor(await decodeToRgb(input, opts.resize, label), opts.seedCompat);
}
