/**
 * Converts a Keras layer graph (read from a TF.js layers model) into an ONNX graph for
 * onnxruntime: NCHW layout, BatchNormalization folded into the preceding convolutions, the
 * classifier head replaced by a selectable global pooling, and optionally the original head kept
 * as a second output for sanity checks.
 *
 * With `precision: 'int8'` it emits a statically quantised QDQ graph: every convolution reads its
 * input through QuantizeLinear/DequantizeLinear (uint8, asymmetric, with ranges calibrated on
 * photos), its weights as per-output-channel symmetric int8 and its bias as int32, which
 * onnxruntime's CPU provider fuses into QLinearConv (u8s8 kernels: AVX2, AVX-512 and VNNI). The
 * global pooling of the last feature map stays in float32. With `calibrate: true` it emits the
 * float32 graph with every tensor that int8 quantises as an extra output, to measure their ranges.
 *
 * Written by hand because no maintained JavaScript library converts TF.js layers models to ONNX
 * (tf2onnx is Python and needs TensorFlow); the protobuf encoding itself comes from onnx-proto.
 */
import onnxProto, { type onnx as OnnxTypes } from 'onnx-proto';
import { quantiseBias, quantiseWeights, quantParams, type Range } from './quantise.js';
import {
  FEATURES_OUTPUT,
  INPUT_NAME,
  INPUT_SIZE,
  type Pooling,
  PROBABILITIES_OUTPUT,
  type Precision,
} from './spec.js';
import type { KerasLayer, LayersModel, Tensor } from './tfjs-layers.js';

const { onnx } = onnxProto;

/** Generalised-mean pooling exponent. */
export const GEM_P = 3;
const OPSET = 13;
const { INT8, UINT8, INT32 } = onnx.TensorProto.DataType;

export interface ConvertOptions {
  pooling: Pooling;
  /** Also output the ImageNet class probabilities of the original classifier head. */
  head: boolean;
  /** Side of the square input (default 224). */
  inputSize?: number;
  /** Default fp32; int8 needs `ranges`. */
  precision?: Precision;
  /** Calibrated range of each tensor that int8 quantises, by tensor name (see `calibrate`). */
  ranges?: Record<string, Range>;
  /** Emit the fp32 graph with every tensor that int8 would quantise as an extra output. */
  calibrate?: boolean;
}

/** Shape of one sample: [C, H, W] for maps, [F] for vectors. */
type Shape = number[];

/** A quantised tensor: the QuantizeLinear output and the names of its scale and zero point. */
interface Quantised {
  tensor: string;
  scale: string;
  zeroPoint: string;
  scaleValue: number;
}

interface Value {
  name: string;
  shape: Shape;
  /** Set in int8 graphs for tensors that are quantised: consumers read them through DequantizeLinear. */
  q?: Quantised;
}

class GraphBuilder {
  readonly nodes: OnnxTypes.INodeProto[] = [];
  readonly initializers: OnnxTypes.ITensorProto[] = [];
  private counter = 0;

  fresh(prefix: string): string {
    this.counter += 1;
    return `${prefix}__${this.counter}`;
  }

  floatTensor(name: string, dims: number[], data: Float32Array): string {
    this.initializers.push({
      name,
      dims,
      dataType: onnx.TensorProto.DataType.FLOAT,
      rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    });
    return name;
  }

  typedTensor(name: string, dims: number[], dataType: number, data: ArrayBufferView): string {
    this.initializers.push({
      name,
      dims,
      dataType,
      rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    });
    return name;
  }

  int64Tensor(name: string, values: number[]): string {
    const data = new BigInt64Array(values.map((v) => BigInt(v)));
    this.initializers.push({
      name,
      dims: [values.length],
      dataType: onnx.TensorProto.DataType.INT64,
      rawData: new Uint8Array(data.buffer),
    });
    return name;
  }

  scalar(name: string, value: number): string {
    this.initializers.push({
      name,
      dims: [],
      dataType: onnx.TensorProto.DataType.FLOAT,
      rawData: new Uint8Array(new Float32Array([value]).buffer),
    });
    return name;
  }

  node(
    opType: string,
    inputs: string[],
    output: string,
    attrs: Record<string, number | number[]> = {},
  ): string {
    const attribute: OnnxTypes.IAttributeProto[] = Object.entries(attrs).map(([name, v]) =>
      Array.isArray(v)
        ? { name, type: onnx.AttributeProto.AttributeType.INTS, ints: v }
        : Number.isInteger(v)
          ? { name, type: onnx.AttributeProto.AttributeType.INT, i: v }
          : { name, type: onnx.AttributeProto.AttributeType.FLOAT, f: v },
    );
    this.nodes.push({ opType, input: inputs, output: [output], name: output, attribute });
    return output;
  }
}

function pair(v: unknown, what: string): [number, number] {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number'))
    return [v[0] as number, v[1] as number];
  throw new Error(`unexpected ${what}: ${JSON.stringify(v)}`);
}

/** TensorFlow's padding for one spatial axis: returns [before, after, outputSize]. */
function axisPadding(size: number, kernel: number, stride: number, dilation: number, mode: string) {
  const effective = (kernel - 1) * dilation + 1;
  if (mode === 'valid') return [0, 0, Math.floor((size - effective) / stride) + 1] as const;
  if (mode !== 'same') throw new Error(`unsupported padding mode ${mode}`);
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + effective - size, 0);
  const before = Math.floor(total / 2);
  return [before, total - before, out] as const;
}

function weight(model: LayersModel, name: string): Tensor {
  const t = model.weights.get(name);
  if (!t) throw new Error(`missing weight ${name}`);
  return t;
}

/** Folds a BatchNormalization layer into conv weights [O, I, KH, KW] and bias [O], in place. */
function foldBatchNorm(model: LayersModel, bn: KerasLayer, kernel: Float32Array, bias: Float32Array): void {
  const axis = bn.config.axis;
  const channelAxis = Array.isArray(axis) ? axis[0] : axis;
  if (channelAxis !== 3 && channelAxis !== -1)
    throw new Error(`${bn.name}: only channels-last BatchNorm is supported`);
  const eps = Number(bn.config.epsilon ?? 1e-3);
  const out = bias.length;
  const gamma = bn.config.scale === false ? null : weight(model, `${bn.name}/gamma`).data;
  const beta = bn.config.center === false ? null : weight(model, `${bn.name}/beta`).data;
  const mean = weight(model, `${bn.name}/moving_mean`).data;
  const variance = weight(model, `${bn.name}/moving_variance`).data;
  const per = kernel.length / out;
  for (let o = 0; o < out; o++) {
    const scale = (gamma ? (gamma[o] as number) : 1) / Math.sqrt((variance[o] as number) + eps);
    for (let i = o * per; i < (o + 1) * per; i++) kernel[i] = (kernel[i] as number) * scale;
    bias[o] = ((bias[o] as number) - (mean[o] as number)) * scale + (beta ? (beta[o] as number) : 0);
  }
}

/** Keras conv kernel [KH, KW, I, O] -> ONNX [O, I, KH, KW]. */
function toOihw(t: Tensor): Float32Array {
  const [kh, kw, ci, co] = t.shape as [number, number, number, number];
  const out = new Float32Array(t.data.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < ci; i++)
        for (let o = 0; o < co; o++) {
          out[((o * ci + i) * kh + y) * kw + x] = t.data[((y * kw + x) * ci + i) * co + o] as number;
        }
  return out;
}

function activation(g: GraphBuilder, kind: unknown, input: string, output: string, where: string): string {
  switch (kind) {
    case undefined:
    case 'linear':
      return g.node('Identity', [input], output);
    case 'relu':
      return g.node('Relu', [input], output);
    case 'softmax':
      return g.node('Softmax', [input], output, { axis: -1 });
    case 'sigmoid':
      return g.node('Sigmoid', [input], output);
    case 'tanh':
      return g.node('Tanh', [input], output);
    default:
      throw new Error(`${where}: unsupported activation ${String(kind)}`);
  }
}

function pool(g: GraphBuilder, pooling: Pooling, input: Value, output: string): Value {
  const pooled = g.fresh('pooled');
  if (pooling === 'max') g.node('GlobalMaxPool', [input.name], pooled);
  else if (pooling === 'avg') g.node('GlobalAveragePool', [input.name], pooled);
  else {
    const clamped = g.node('Max', [input.name, g.scalar('gem_eps', 1e-6)], g.fresh('gem_clamped'));
    const powered = g.node('Pow', [clamped, g.scalar('gem_p', GEM_P)], g.fresh('gem_pow'));
    const mean = g.node('GlobalAveragePool', [powered], g.fresh('gem_mean'));
    g.node('Pow', [mean, g.scalar('gem_inv_p', 1 / GEM_P)], pooled);
  }
  g.node('Flatten', [pooled], output, { axis: 1 });
  return { name: output, shape: [input.shape[0] as number] };
}

/**
 * Builds the ONNX model. The feature map is the input of the model's global pooling layer
 * (for ResNet50: the last ReLU, 7x7x2048).
 */
export function convertToOnnx(model: LayersModel, options: ConvertOptions): Uint8Array {
  const g = new GraphBuilder();
  const values = new Map<string, Value>();
  const consumers = new Map<string, KerasLayer[]>();
  for (const layer of model.layers)
    for (const input of layer.inputs) consumers.set(input, [...(consumers.get(input) ?? []), layer]);

  const poolLayer = model.layers.find(
    (l) => l.className.startsWith('Global') && l.className.endsWith('Pooling2D'),
  );
  if (poolLayer?.inputs.length !== 1) throw new Error('the model has no global pooling layer');
  const featureLayer = poolLayer.inputs[0] as string;

  const input = (name: string): Value => {
    const v = values.get(name);
    if (!v) throw new Error(`layer ${name} used before it was defined`);
    return v;
  };

  const int8 = options.precision === 'int8';
  if ((int8 || options.calibrate) && options.head)
    throw new Error('int8 and calibration graphs have no classifier head');
  if (int8 && !options.ranges) throw new Error('an int8 graph needs calibrated ranges');
  /** The tensors whose ranges int8 needs (calibration graphs output them). */
  const calibrated: Value[] = [];

  /** A value's float tensor for a consumer: the value itself, or a DequantizeLinear of its quantised form. */
  const read = (x: Value): string =>
    x.q
      ? g.node('DequantizeLinear', [x.q.tensor, x.q.scale, x.q.zeroPoint], g.fresh(`${x.name}_dq`))
      : x.name;

  /**
   * Records a layer's output. In int8 graphs it is quantised, unless it is the feature map (pooled
   * in float32) or only feeds activations (which quantise their own output, so that onnxruntime
   * fuses Conv/Add + Relu + QuantizeLinear).
   */
  const publish = (layer: string, v: Value): Value => {
    const next = consumers.get(layer) ?? [];
    const quantise =
      (int8 || options.calibrate) &&
      layer !== featureLayer &&
      !(next.length > 0 && next.every((l) => l.className === 'Activation'));
    let value = v;
    if (quantise && options.calibrate) calibrated.push(v);
    if (quantise && int8) {
      const range = options.ranges?.[v.name];
      if (!range) throw new Error(`no calibrated range for ${v.name}`);
      const p = quantParams(range);
      const scale = g.scalar(`${v.name}_qs`, p.scale);
      const zeroPoint = g.typedTensor(`${v.name}_qz`, [], UINT8, new Uint8Array([p.zeroPoint]));
      const tensor = g.node('QuantizeLinear', [v.name, scale, zeroPoint], `${v.name}_q`);
      value = { ...v, q: { tensor, scale, zeroPoint, scaleValue: p.scale } };
    }
    values.set(layer, value);
    return value;
  };

  /** A value quantised with the parameters of `like` (for ops that keep their input's range). */
  const requantise = (v: Value, like: Value): Value => {
    if (!like.q) return v;
    const tensor = g.node('QuantizeLinear', [v.name, like.q.scale, like.q.zeroPoint], `${v.name}_q`);
    return { ...v, q: { ...like.q, tensor } };
  };

  for (const layer of model.layers) {
    if (values.has(layer.name)) continue; // already emitted (a folded BatchNorm)
    const c = layer.config;
    const out = layer.name;
    switch (layer.className) {
      case 'InputLayer': {
        const shape = c.batch_input_shape as (number | null)[];
        if (shape.length !== 4) throw new Error('expected an image input [N, H, W, C]');
        const side = options.inputSize ?? INPUT_SIZE;
        publish(out, { name: INPUT_NAME, shape: [shape[3] as number, side, side] });
        break;
      }
      case 'ZeroPadding2D': {
        const x = input(layer.inputs[0] as string);
        const p = c.padding;
        const [[t, b], [l, r]] =
          Array.isArray(p) && Array.isArray(p[0])
            ? [pair(p[0], 'padding'), pair(p[1], 'padding')]
            : [pair(p, 'padding'), pair(p, 'padding')];
        g.node('Pad', [read(x), g.int64Tensor(`${out}_pads`, [0, 0, t, l, 0, 0, b, r])], out, {});
        const [ch, h, w] = x.shape as [number, number, number];
        // Zero padding keeps the range (0 is in every quantised range): the input's parameters.
        values.set(out, requantise({ name: out, shape: [ch, h + t + b, w + l + r] }, x));
        break;
      }
      case 'Conv2D': {
        const x = input(layer.inputs[0] as string);
        if (c.data_format !== 'channels_last') throw new Error(`${out}: only channels_last is supported`);
        const [kh, kw] = pair(c.kernel_size, 'kernel_size');
        const [sh, sw] = pair(c.strides, 'strides');
        const [dh, dw] = pair(c.dilation_rate ?? 1, 'dilation_rate');
        const [, h, w] = x.shape as [number, number, number];
        const [pt, pb, oh] = axisPadding(h, kh, sh, dh, String(c.padding));
        const [pl, pr, ow] = axisPadding(w, kw, sw, dw, String(c.padding));
        const kernel = toOihw(weight(model, `${out}/kernel`));
        const filters = Number(c.filters);
        const bias =
          c.use_bias === false ? new Float32Array(filters) : weight(model, `${out}/bias`).data.slice();
        const next = consumers.get(out) ?? [];
        const bn = next.length === 1 && next[0]?.className === 'BatchNormalization' ? next[0] : undefined;
        const act = c.activation ?? 'linear';
        if (bn && act !== 'linear')
          throw new Error(`${out}: cannot fold BatchNorm after a non-linear activation`);
        if (bn) foldBatchNorm(model, bn, kernel, bias);
        const result = bn ? bn.name : out;
        const convOut = act === 'linear' ? result : g.fresh(`${out}_linear`);
        const dims = [filters, x.shape[0] as number, kh, kw];
        let convInputs: string[];
        if (int8 && x.q) {
          const w = quantiseWeights(kernel, filters);
          const wq = g.typedTensor(`${out}_Wq`, dims, INT8, w.values);
          const ws = g.floatTensor(`${out}_Ws`, [filters], w.scales);
          const wz = g.typedTensor(`${out}_Wz`, [filters], INT8, new Int8Array(filters));
          const b = quantiseBias(bias, w.scales, x.q.scaleValue);
          const bq = g.typedTensor(`${out}_Bq`, [filters], INT32, b.values);
          const bs = g.floatTensor(`${out}_Bs`, [filters], b.scales);
          const bz = g.typedTensor(`${out}_Bz`, [filters], INT32, new Int32Array(filters));
          convInputs = [
            read(x),
            g.node('DequantizeLinear', [wq, ws, wz], g.fresh(`${out}_W`), { axis: 0 }),
            g.node('DequantizeLinear', [bq, bs, bz], g.fresh(`${out}_B`), { axis: 0 }),
          ];
        } else {
          convInputs = [
            read(x),
            g.floatTensor(`${out}_W`, dims, kernel),
            g.floatTensor(`${out}_B`, [filters], bias),
          ];
        }
        g.node('Conv', convInputs, convOut, {
          kernel_shape: [kh, kw],
          strides: [sh, sw],
          dilations: [dh, dw],
          pads: [pt, pl, pb, pr],
        });
        if (act !== 'linear') activation(g, act, convOut, result, out);
        const value = publish(result, { name: result, shape: [filters, oh, ow] });
        if (bn) values.set(out, value);
        break;
      }
      case 'BatchNormalization': {
        // Not after a convolution: emit it as is.
        const x = input(layer.inputs[0] as string);
        const ch = x.shape[0] as number;
        const kernel = new Float32Array(ch).fill(1);
        const bias = new Float32Array(ch);
        foldBatchNorm(model, layer, kernel, bias);
        const scale = g.floatTensor(`${out}_scale`, [ch, 1, 1], kernel);
        const shift = g.floatTensor(`${out}_shift`, [ch, 1, 1], bias);
        g.node('Add', [g.node('Mul', [read(x), scale], g.fresh(`${out}_mul`)), shift], out);
        publish(out, { name: out, shape: x.shape });
        break;
      }
      case 'Activation': {
        const x = input(layer.inputs[0] as string);
        activation(g, c.activation, read(x), out, out);
        publish(out, { name: out, shape: x.shape });
        break;
      }
      case 'Add': {
        const xs = layer.inputs.map(input);
        let acc = read(xs[0] as Value);
        xs.slice(1).forEach((x, i) => {
          acc = g.node('Add', [acc, read(x)], i === xs.length - 2 ? out : g.fresh(`${out}_partial`));
        });
        publish(out, { name: out, shape: (xs[0] as Value).shape });
        break;
      }
      case 'MaxPooling2D': {
        const x = input(layer.inputs[0] as string);
        const [kh, kw] = pair(c.pool_size, 'pool_size');
        const [sh, sw] = pair(c.strides ?? c.pool_size, 'strides');
        const [ch, h, w] = x.shape as [number, number, number];
        const [pt, pb, oh] = axisPadding(h, kh, sh, 1, String(c.padding));
        const [pl, pr, ow] = axisPadding(w, kw, sw, 1, String(c.padding));
        g.node('MaxPool', [read(x)], out, {
          kernel_shape: [kh, kw],
          strides: [sh, sw],
          pads: [pt, pl, pb, pr],
        });
        // A maximum stays within its input's range: the input's parameters (onnxruntime then runs it on uint8).
        values.set(out, requantise({ name: out, shape: [ch, oh, ow] }, x));
        break;
      }
      case 'GlobalAveragePooling2D':
      case 'GlobalMaxPooling2D': {
        const x = input(layer.inputs[0] as string);
        values.set(out, pool(g, layer.className === 'GlobalMaxPooling2D' ? 'max' : 'avg', x, out));
        break;
      }
      case 'Dense': {
        const x = input(layer.inputs[0] as string);
        if (x.shape.length !== 1) throw new Error(`${out}: Dense on a feature map is not supported`);
        const k = weight(model, `${out}/kernel`);
        const units = Number(c.units);
        const inputs = [x.name, g.floatTensor(`${out}_W`, k.shape, k.data)];
        if (c.use_bias !== false)
          inputs.push(g.floatTensor(`${out}_B`, [units], weight(model, `${out}/bias`).data));
        const act = c.activation ?? 'linear';
        const gemmOut = act === 'linear' ? out : g.fresh(`${out}_linear`);
        g.node('Gemm', inputs, gemmOut);
        if (act !== 'linear') activation(g, act, gemmOut, out, out);
        values.set(out, { name: out, shape: [units] });
        break;
      }
      default:
        throw new Error(`layer ${out}: unsupported Keras layer ${layer.className}`);
    }
    if (out === featureLayer && !options.head) break;
  }

  const featureMap = input(featureLayer);
  const features = pool(g, options.pooling, featureMap, FEATURES_OUTPUT);
  const outputs: Value[] = [features];
  if (options.head) {
    const probs = input(model.outputLayer);
    g.node('Identity', [probs.name], PROBABILITIES_OUTPUT);
    outputs.push({ name: PROBABILITIES_OUTPUT, shape: probs.shape });
  }

  const valueInfo = (name: string, shape: Shape): OnnxTypes.IValueInfoProto => ({
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: [{ dimParam: 'batch' }, ...shape.map((d) => ({ dimValue: d }))] },
      },
    },
  });
  const inputValue = input(model.inputLayer);
  // Calibration: the quantised tensors as extra outputs (the graph input is measured by the caller).
  const extra = calibrated.filter((v) => v.name !== INPUT_NAME);
  const modelProto = onnx.ModelProto.create({
    irVersion: 7,
    producerName: 'lookalike',
    opsetImport: [{ domain: '', version: OPSET }],
    graph: {
      name: 'resnet50_features',
      node: g.nodes,
      initializer: g.initializers,
      input: [valueInfo(INPUT_NAME, inputValue.shape)],
      output: [...outputs, ...extra].map((o) => valueInfo(o.name, o.shape)),
    },
  });
  return onnx.ModelProto.encode(modelProto).finish();
}
