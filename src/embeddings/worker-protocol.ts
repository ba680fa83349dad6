/** Messages between the main thread (runtime.ts) and the inference worker. */
import type { Device, ThreadSettings } from './runtime.js';

export type WorkerRequest =
  | { type: 'init'; modelPath: string; device: Device; threads: ThreadSettings }
  | { type: 'run'; id: number; input: Float32Array; batch: number; size: number }
  | { type: 'close' };

export type WorkerReply =
  | { type: 'ready'; device: Device; fallbackReason?: string }
  | { type: 'result'; id: number; features: Float32Array; probabilities?: Float32Array }
  | { type: 'error'; id?: number; message: string }
  /** The model is released: the worker can be terminated. */
  | { type: 'closed' };
