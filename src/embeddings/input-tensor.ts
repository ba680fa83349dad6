/**
 * Decoded pixels -> the CHW float tensor that ResNet-50 expects (Keras "caffe" preprocessing).
 * Decoding and resizing are images/ work; the means and channel order belong to the model.
 */
import { decodeToRgb } from '../images/preprocess.js';
import { CAFFE_MEANS_BGR, INPUT_SIZE, type PreprocessOptions } from './spec.js';

/** Floats in one model input of side `size` (3 x size x size). */
export function tensorFloats(size: number = INPUT_SIZE): number {
  return size * size * 3;
}

/** Floats in one 224x224 model input. */
export const TENSOR_FLOATS = tensorFloats(INPUT_SIZE);

/**
 * Writes the CHW float tensor (3 x size x size) of interleaved R,G,B bytes, Keras "caffe" style:
 * channel 0 = B - 103.939, 1 = G - 116.779, 2 = R - 123.68. With `seedCompat` it reproduces the original
 * system's mistake instead: channel 0 = R - 103.939, 1 = G - 116.779, 2 = B - 123.68.
 *
 * @param out where to write (default: a new array); `offset` (in floats) selects a slot of a batch buffer.
 * @param size side of the square image (default 224).
 * @returns `out`.
 */
export function rgbToTensor(
  rgb: Uint8Array,
  seedCompat: boolean,
  out?: Float32Array,
  offset = 0,
  size: number = INPUT_SIZE,
): Float32Array {
  const plane = size * size;
  const floats = plane * 3;
  if (rgb.length !== floats) {
    throw new RangeError(`rgbToTensor: expected ${floats} bytes (${size}x${size}x3), got ${rgb.length}`);
  }
  const dst = out ?? new Float32Array(floats);
  if (!Number.isInteger(offset) || offset < 0 || offset + floats > dst.length) {
    throw new RangeError(
      `rgbToTensor: offset ${offset} + ${floats} floats does not fit an output of ${dst.length} floats`,
    );
  }
  const [m0, m1, m2] = CAFFE_MEANS_BGR;
  // Source byte (within a pixel) for channels 0 and 2: B and R normally, R and B in seed-compat mode.
  const s0 = seedCompat ? 0 : 2;
  const s2 = seedCompat ? 2 : 0;
  const o0 = offset;
  const o1 = offset + plane;
  const o2 = offset + 2 * plane;
  for (let i = 0, j = 0; i < plane; i++, j += 3) {
    dst[o0 + i] = (rgb[j + s0] as number) - m0;
    dst[o1 + i] = (rgb[j + 1] as number) - m1;
    dst[o2 + i] = (rgb[j + s2] as number) - m2;
  }
  return dst;
}

/** decodeToRgb + rgbToTensor: a photo to one model input (3 x size x size floats). Throws ImageError only. */
export async function preprocess(
  input: string | Buffer,
  opts: PreprocessOptions & { inputSize?: number },
  label?: string,
): Promise<Float32Array> {
  const size = opts.inputSize ?? INPUT_SIZE;
  return rgbToTensor(await decodeToRgb(input, opts.resize, label, size), opts.seedCompat, undefined, 0, size);
}
