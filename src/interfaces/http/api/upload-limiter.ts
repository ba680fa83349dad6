/**
 * Bounds the uploads in progress. A few run at once (reading the body, decoding, queueing for the
 * model, which itself runs one at a time); more wait without their bodies being read, and beyond
 * a bound the server answers 503 at once, so that a burst of uploads cannot hold unbounded memory.
 */
import { ApiError } from './api-error.js';

export interface UploadLimits {
  /** Uploads read and processed at once. */
  concurrency: number;
  /** Uploads that may wait for a turn; more are refused with 503. */
  maxWaiting: number;
  /** Seconds a refused client is told to wait (Retry-After). */
  retryAfterSeconds: number;
}

export const DEFAULT_UPLOAD_LIMITS: UploadLimits = { concurrency: 2, maxWaiting: 32, retryAfterSeconds: 2 };

export class UploadLimiter {
  private running = 0;
  private readonly queue: (() => void)[] = [];
  private idleWaiters: (() => void)[] = [];

  constructor(readonly limits: UploadLimits = DEFAULT_UPLOAD_LIMITS) {}

  get active(): number {
    return this.running;
  }

  get waiting(): number {
    return this.queue.length;
  }

  /**
   * Waits for a turn and resolves to the function that ends it (safe to call twice).
   * @param signal gives up the place in the queue when aborted (the client went away).
   * @throws ApiError 503 'busy' when the queue is full; the signal's reason when aborted.
   */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    if (this.running >= this.limits.concurrency) {
      if (this.queue.length >= this.limits.maxWaiting) {
        throw new ApiError(
          503,
          'busy',
          `the server is busy with ${this.running + this.queue.length} photos; try again in a few seconds`,
          { 'retry-after': String(this.limits.retryAfterSeconds) },
        );
      }
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          const at = this.queue.indexOf(turn);
          if (at >= 0) this.queue.splice(at, 1);
          reject(signal?.reason);
        };
        const turn = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        this.queue.push(turn);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    } else {
      this.running += 1;
    }
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.queue.shift();
      // The turn passes straight to the next waiter, so `running` stays the same.
      if (next) next();
      else this.running -= 1;
      if (this.running === 0) {
        for (const resolve of this.idleWaiters) resolve();
        this.idleWaiters = [];
      }
    };
  }

  /** Resolves once no upload is running or waiting (e.g. before the model is released). */
  idle(): Promise<void> {
    if (this.running === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}
