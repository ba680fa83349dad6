/**
 * The arithmetic of int8 quantisation: activation parameters from a calibrated range (uint8,
 * asymmetric), per-output-channel symmetric int8 weights, and int32 biases at the scale of
 * input x weight, as onnxruntime's QLinearConv expects them.
 */

/** Smallest and largest value a tensor took over the calibration photos. */
export type Range = [min: number, max: number];

export interface QuantParams {
  scale: number;
  /** uint8 zero point. */
  zeroPoint: number;
}

/** uint8 asymmetric parameters covering `range` and 0 (so that zero padding and ReLU's 0 are exact). */
export function quantParams([min, max]: Range): QuantParams {
  const lo = Math.min(min, 0);
  const hi = Math.max(max, 0);
  const scale = hi - lo > 0 ? (hi - lo) / 255 : 1;
  const zeroPoint = Math.min(255, Math.max(0, Math.round(-lo / scale)));
  return { scale, zeroPoint };
}

/**
 * Symmetric int8 weights, one scale per output channel (the first axis of `kernel`): each
 * channel's largest magnitude maps to 127.
 */
export function quantiseWeights(
  kernel: Float32Array,
  channels: number,
): { values: Int8Array; scales: Float32Array } {
  const per = kernel.length / channels;
  const values = new Int8Array(kernel.length);
  const scales = new Float32Array(channels);
  for (let o = 0; o < channels; o++) {
    let maxAbs = 0;
    for (let i = o * per; i < (o + 1) * per; i++) maxAbs = Math.max(maxAbs, Math.abs(kernel[i] as number));
    const scale = maxAbs > 0 ? maxAbs / 127 : 1;
    scales[o] = scale;
    for (let i = o * per; i < (o + 1) * per; i++)
      values[i] = Math.max(-127, Math.min(127, Math.round((kernel[i] as number) / scale)));
  }
  return { values, scales };
}

/** int32 biases at scale inputScale x weightScale[o], zero point 0. */
export function quantiseBias(
  bias: Float32Array,
  weightScales: Float32Array,
  inputScale: number,
): { values: Int32Array; scales: Float32Array } {
  const values = new Int32Array(bias.length);
  const scales = new Float32Array(bias.length);
  for (let o = 0; o < bias.length; o++) {
    const scale = (weightScales[o] as number) * inputScale;
    scales[o] = scale;
    values[o] = Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.round((bias[o] as number) / scale)));
  }
  return { values, scales };
}
