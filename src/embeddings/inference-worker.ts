/**
 * Runs the onnxruntime session in a worker thread: session.run blocks its thread for the whole
 * forward pass, and here that is not the main thread, which stays free to decode the next batch,
 * serve HTTP requests and draw progress. It loads only onnxruntime and the spec (never the
 * converter or the weights code).
 */
import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { ThreadSettings } from './runtime.js';
import { FEATURES_OUTPUT, INPUT_NAME, PROBABILITIES_OUTPUT } from './spec.js';
import type { WorkerReply, WorkerRequest } from './worker-protocol.js';

const port = parentPort;
if (!port) throw new Error('inference-worker must run as a worker thread');

let session: ort.InferenceSession | undefined;

/**
 * The session's threads, as runtime.ts chose them: intra-op threads (onnxruntime counts physical
 * cores by default, which can be fewer than the CPUs this process may use), one inter-op thread
 * (the graph runs sequentially), and whether idle threads spin.
 */
function cpuOptions(t: ThreadSettings): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: t.intraOp,
    interOpNumThreads: t.interOp,
    extra: {
      session: {
        'intra_op.allow_spinning': t.spinning ? '1' : '0',
        'inter_op.allow_spinning': t.spinning ? '1' : '0',
      },
    },
  };
}

const reply = (message: WorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

port.on('message', async (msg: WorkerRequest) => {
  try {
    if (msg.type === 'init') {
      if (msg.device === 'cuda') {
        try {
          // Fatal-only logging: onnxruntime's own error about the missing CUDA library is replaced by our message.
          session = await ort.InferenceSession.create(msg.modelPath, {
            ...cpuOptions(msg.threads),
            executionProviders: ['cuda'],
            logSeverityLevel: 4,
          });
          reply({ type: 'ready', device: 'cuda' });
          return;
        } catch (err) {
          session = await ort.InferenceSession.create(msg.modelPath, cpuOptions(msg.threads));
          reply({
            type: 'ready',
            device: 'cpu',
            fallbackReason: (err as Error).message.split('\n')[0] ?? 'unknown',
          });
          return;
        }
      }
      session = await ort.InferenceSession.create(msg.modelPath, cpuOptions(msg.threads));
      reply({ type: 'ready', device: 'cpu' });
    } else if (msg.type === 'run') {
      if (!session) throw new Error('inference worker used before init');
      const input = new ort.Tensor('float32', msg.input, [msg.batch, 3, msg.size, msg.size]);
      const out = await session.run({ [INPUT_NAME]: input });
      const featuresOut = out[FEATURES_OUTPUT];
      if (!featuresOut) throw new Error('the model has no features output');
      const features = (featuresOut.data as Float32Array).slice();
      const probabilities = (out[PROBABILITIES_OUTPUT]?.data as Float32Array | undefined)?.slice();
      const transfer = [features.buffer as ArrayBuffer];
      if (probabilities) transfer.push(probabilities.buffer as ArrayBuffer);
      reply({ type: 'result', id: msg.id, features, probabilities }, transfer);
    } else if (msg.type === 'close') {
      try {
        await session?.release();
      } finally {
        session = undefined;
        reply({ type: 'closed' });
        port.close();
      }
    }
  } catch (err) {
    reply({ type: 'error', id: msg.type === 'run' ? msg.id : undefined, message: (err as Error).message });
  }
});
