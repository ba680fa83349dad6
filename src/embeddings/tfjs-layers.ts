/**
 * Reads a TF.js "layers-model" (model.json + binary weight shards) into plain data: the Keras
 * layer graph and a map of named float32 tensors.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { readJsonFile } from '../io/json-file.js';

export interface KerasLayer {
  name: string;
  className: string;
  config: Record<string, unknown>;
  /** Names of the layers feeding this one (first inbound node). */
  inputs: string[];
}

export interface Tensor {
  shape: number[];
  data: Float32Array;
}

export interface LayersModel {
  layers: KerasLayer[];
  inputLayer: string;
  outputLayer: string;
  weights: Map<string, Tensor>;
}

/** [layerName, nodeIndex, tensorIndex, kwargs?]: one inbound connection of a Keras functional layer. */
const InboundRefSchema = z.tuple([z.string(), z.number(), z.number()], z.unknown());
/** [layerName, nodeIndex, tensorIndex] of a model input or output. */
const EndpointSchema = z.tuple([z.string(), z.number(), z.number()]);

const RawConfigSchema = z.object({
  layers: z.array(
    z.object({
      name: z.string(),
      class_name: z.string(),
      config: z.record(z.string(), z.unknown()),
      inbound_nodes: z.array(z.array(InboundRefSchema)),
    }),
  ),
  input_layers: z.array(EndpointSchema),
  output_layers: z.array(EndpointSchema),
});

const TopologySchema = z.object({ class_name: z.string(), config: RawConfigSchema });

/** model.json of a TF.js layers model (the parts read here). */
const ModelJsonSchema = z.object({
  format: z.string().optional(),
  modelTopology: z.union([z.object({ model_config: TopologySchema }), TopologySchema]),
  weightsManifest: z.array(
    z.object({
      paths: z.array(z.string()),
      weights: z.array(
        z.object({
          name: z.string(),
          shape: z.array(z.number().int().nonnegative()),
          dtype: z.string(),
          quantization: z.unknown().optional(),
        }),
      ),
    }),
  ),
});

export async function readLayersModel(modelDir: string): Promise<LayersModel> {
  const json = await readJsonFile(join(modelDir, 'model.json'), ModelJsonSchema);
  const topology =
    'model_config' in json.modelTopology ? json.modelTopology.model_config : json.modelTopology;
  if (topology.class_name !== 'Model' && topology.class_name !== 'Functional') {
    throw new Error(`expected a functional Keras model, got ${topology.class_name}`);
  }
  const cfg = topology.config;
  if (cfg.input_layers.length !== 1 || cfg.output_layers.length !== 1) {
    throw new Error('expected a model with one input and one output');
  }
  const layers: KerasLayer[] = cfg.layers.map((l) => ({
    name: l.name,
    className: l.class_name,
    config: l.config,
    inputs: (l.inbound_nodes[0] ?? []).map((ref) => ref[0]),
  }));

  const weights = new Map<string, Tensor>();
  for (const group of json.weightsManifest) {
    const shards = await Promise.all(group.paths.map((p) => readFile(join(modelDir, p))));
    const buf = Buffer.concat(shards);
    let offset = 0;
    for (const spec of group.weights) {
      if (spec.dtype !== 'float32' || spec.quantization) {
        throw new Error(`weight ${spec.name}: only unquantised float32 weights are supported`);
      }
      const count = spec.shape.reduce((a, b) => a * b, 1);
      const bytes = buf.subarray(offset, offset + count * 4);
      if (bytes.length !== count * 4) throw new Error(`weight ${spec.name}: shards are too short`);
      // Copy into an aligned buffer of its own.
      const data = new Float32Array(count);
      new Uint8Array(data.buffer).set(bytes);
      weights.set(spec.name, { shape: spec.shape, data });
      offset += count * 4;
    }
    if (offset !== buf.length)
      throw new Error(`weights manifest does not cover the shards (${offset} of ${buf.length} bytes)`);
  }
  const [input] = cfg.input_layers;
  const [output] = cfg.output_layers;
  return { layers, inputLayer: input?.[0] ?? '', outputLayer: output?.[0] ?? '', weights };
}
