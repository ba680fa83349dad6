/**
 * The inference backend: an onnxruntime-node session on CPU, or on CUDA where asked for and
 * available (falling back to CPU with a clear message where it is not), run in a worker thread.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { log } from '../log.js';
import { INPUT_SIZE } from './spec.js';
import type { WorkerReply, WorkerRequest } from './worker-protocol.js';

export const DEVICES = ['cpu', 'cuda'] as const;
export type Device = (typeof DEVICES)[number];

export interface RuntimeOptions {
  device?: Device;
  /** Intra-op threads; default: one per CPU available to the process. */
  threads?: number;
  /** Let idle onnxruntime threads spin (default false: see ThreadSettings). */
  spinning?: boolean;
  /** Side of the square input the model takes (default 224). */
  inputSize?: number;
}

/**
 * The onnxruntime threads of a session. Spinning is off by default: a spinning intra-op thread
 * burns its core between operators, and when another process holds a core the spinners and the
 * worker that must make progress fight over it; `npm run bench:embed -- --contention` measures
 * both settings alone and beside a busy process (README, "Inference").
 */
export interface ThreadSettings {
  intraOp: number;
  interOp: number;
  spinning: boolean;
}

export function threadSettings(options: Pick<RuntimeOptions, 'threads' | 'spinning'> = {}): ThreadSettings {
  return {
    intraOp: options.threads ?? availableParallelism(),
    interOp: 1,
    spinning: options.spinning ?? false,
  };
}

export interface RunOutput {
  features: Float32Array;
  probabilities?: Float32Array;
}

export interface Runtime {
  /** The device actually used. */
  readonly device: Device;
  /** Why the asked-for device was not used, if it was not. */
  readonly fallbackReason?: string;
  /** The thread settings the session was made with. */
  readonly threads: ThreadSettings;
  /** Runs a batch of CHW tensors; the input buffer is handed over to the worker. */
  run(input: Float32Array, batch: number): Promise<RunOutput>;
  close(): Promise<void>;
}

const fromSource = import.meta.url.endsWith('.ts');
const workerUrl = new URL(`./inference-worker.${fromSource ? 'ts' : 'js'}`, import.meta.url);

/** From dist/ the worker is plain JavaScript; from src/ (tests run through tsx) it registers tsx first. */
function startWorker(): Worker {
  if (!fromSource) return new Worker(workerUrl);
  const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(workerUrl.href)}); });`;
  return new Worker(bootstrap, { eval: true });
}

/** How long close() waits for the worker to release its model before terminating it anyway. */
const CLOSE_TIMEOUT_MS = 10_000;

export async function createRuntime(modelPath: string, options: RuntimeOptions = {}): Promise<Runtime> {
  const worker = startWorker();
  const pending = new Map<number, { resolve: (o: RunOutput) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let failure: Error | undefined;
  let onClosed: (() => void) | undefined;

  const ready = new Promise<{ device: Device; fallbackReason?: string }>((resolve, reject) => {
    worker.on('message', (msg: WorkerReply) => {
      if (msg.type === 'ready') resolve(msg);
      else if (msg.type === 'closed') onClosed?.();
      else if (msg.type === 'result') {
        pending.get(msg.id)?.resolve({ features: msg.features, probabilities: msg.probabilities });
        pending.delete(msg.id);
      } else if (msg.type === 'error') {
        const err = new Error(`inference failed: ${msg.message}`);
        if (msg.id === undefined) reject(err);
        else {
          pending.get(msg.id)?.reject(err);
          pending.delete(msg.id);
        }
      }
    });
    worker.on('error', (err) => {
      failure = err;
      reject(err);
      for (const p of pending.values()) p.reject(err);
      pending.clear();
    });
  });
  const post = (msg: WorkerRequest, transfer: ArrayBuffer[] = []) => worker.postMessage(msg, transfer);
  const threads = threadSettings(options);
  const size = options.inputSize ?? INPUT_SIZE;
  post({ type: 'init', modelPath, device: options.device ?? 'cpu', threads });
  const { device, fallbackReason } = await ready;
  if (fallbackReason) {
    log.warn(
      { reason: fallbackReason },
      'CUDA execution provider unavailable (onnxruntime-node needs its CUDA binaries, an NVIDIA GPU and its driver); using the CPU',
    );
  }
  // Idle workers must not keep the process alive.
  worker.unref();

  return {
    device,
    fallbackReason,
    threads,
    run(input, batch) {
      if (failure) return Promise.reject(failure);
      const id = nextId++;
      return new Promise<RunOutput>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.ref();
        post({ type: 'run', id, input, batch, size }, [input.buffer as ArrayBuffer]);
      }).finally(() => {
        if (pending.size === 0) worker.unref();
      });
    },
    async close() {
      // Terminated only once it says the model is released (it used to be terminated at once,
      // so that its native session was torn down with the thread, released or not).
      if (!failure) {
        const closed = new Promise<void>((resolve) => {
          onClosed = resolve;
          worker.once('exit', () => resolve());
        });
        worker.ref();
        post({ type: 'close' });
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          closed,
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, CLOSE_TIMEOUT_MS);
          }),
        ]);
        clearTimeout(timer);
      }
      await worker.terminate();
    },
  };
}
