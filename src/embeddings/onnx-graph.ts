/**
 * Small ONNX graphs written directly (matrix products, top-k) for onnxruntime to run: a value
 * declaration and a one-graph model, shared by the evaluation's batched kNN and the learning's
 * matrix products.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export const INT_ATTRIBUTE = onnx.AttributeProto.AttributeType.INT;
export const FLOAT_TENSOR = onnx.TensorProto.DataType.FLOAT;
export const INT64_TENSOR = onnx.TensorProto.DataType.INT64;

/** A graph input or output: its element type and dimensions (numbers, or names of free ones). */
export function tensorValue(name: string, elemType: number, dims: (number | string)[]) {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  };
}

type Node = {
  opType: string;
  input: string[];
  output: string[];
  attribute?: { name: string; type: number; i: number }[];
};

/** An opset-13 model of one graph, encoded. */
export function graphModel(spec: {
  producer: string;
  name: string;
  nodes: Node[];
  inputs: ReturnType<typeof tensorValue>[];
  outputs: ReturnType<typeof tensorValue>[];
}): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 7,
    producerName: spec.producer,
    opsetImport: [{ domain: '', version: 13 }],
    graph: { name: spec.name, node: spec.nodes, input: spec.inputs, output: spec.outputs },
  });
  return onnx.ModelProto.encode(model).finish();
}
