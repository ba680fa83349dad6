/**
 * The reference: the original TF.js layers model run by @tensorflow/tfjs on its WebAssembly
 * backend (a dev dependency), to check the ONNX conversion against.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import type { Pooling } from '../../src/embeddings/spec.js';

const require = createRequire(import.meta.url);

export interface ReferenceOutput {
  /** Pooled (not normalised) features, by pooling. */
  features: Record<Pooling, Float32Array>;
  /** ImageNet class probabilities of the original head. */
  probabilities: Float32Array;
}

export interface Reference {
  /** Runs one CHW float input (already pre-processed). */
  run(chw: Float32Array): ReferenceOutput;
}

export async function loadReference(modelDir: string): Promise<Reference> {
  const wasmDir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
  setWasmPaths(`${wasmDir}/`);
  await tf.setBackend('wasm');
  await tf.ready();
  const json = JSON.parse(await readFile(join(modelDir, 'model.json'), 'utf8'));
  const group = json.weightsManifest[0];
  const shards = await Promise.all(group.paths.map((p: string) => readFile(join(modelDir, p))));
  const weightData = Buffer.concat(shards);
  const model = await tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: group.weights,
      weightData: weightData.buffer.slice(
        weightData.byteOffset,
        weightData.byteOffset + weightData.byteLength,
      ),
    }),
  );
  const poolLayer = model.layers.find((l) => l.getClassName() === 'GlobalAveragePooling2D');
  if (!poolLayer) throw new Error('no global pooling layer');
  const featureModel = tf.model({
    inputs: model.inputs,
    outputs: [poolLayer.input as tf.SymbolicTensor, model.outputs[0] as tf.SymbolicTensor],
  });
  return {
    run(chw) {
      return tf.tidy(() => {
        const nhwc = tf.tensor4d(chw, [1, 3, 224, 224]).transpose([0, 2, 3, 1]);
        const [map, probs] = featureModel.predict(nhwc) as [tf.Tensor4D, tf.Tensor];
        const data = (t: tf.Tensor) => t.dataSync() as Float32Array;
        return {
          features: {
            max: data(map.max([1, 2])),
            avg: data(map.mean([1, 2])),
            gem: data(
              map
                .maximum(1e-6)
                .pow(3)
                .mean([1, 2])
                .pow(1 / 3),
            ),
          },
          probabilities: data(probs),
        };
      });
    },
  };
}
