/**
 * Bounds the uploads in progress, in two stages:
 *
 * 1. Receiving: an upload's body is read in full before it asks for the model, under a body
 *    timeout and a minimum rate (plugins/uploads.ts). A bounded number are received at once, and
 *    the bytes held by all uploads are bounded too: beyond either bound the server answers 503.
 * 2. The model: a few uploads whose body has arrived run at once; more wait, up to a bound, and
 *    beyond it the server answers 503 at once.
 *
 * So a client that trickles its body holds a receiving place (for a while, and little memory),
 * never a turn of the model; and a client that hangs up gives its place back at once.
 */
import { EventEmitter } from 'node:events';
import { ApiError } from './api-error.js';

export interface UploadLimits {
  /** Uploads processed by the model at once. */
  concurrency: number;
  /** Uploads received in full that may wait for a turn; more are refused with 503. */
  maxWaiting: number;
  /** Seconds a refused client is told to wait (Retry-After). */
  retryAfterSeconds: number;
  /** Upload bodies being received at once; more are refused with 503 before their body is read. */
  maxReceiving: number;
  /** Bytes of upload bodies held at once (arriving, waiting or being processed); an upload that would go over is refused with 503. */
  maxBufferedBytes: number;
  /** Milliseconds within which a whole upload body must arrive (408 after). */
  bodyTimeoutMs: number;
  /** Slowest accepted upload, in bytes per second on average, once `rateGraceMs` have passed (408 below); 0: none. */
  minBytesPerSecond: number;
  /** Milliseconds an upload may take before the minimum rate applies. */
  rateGraceMs: number;
}

/**
 * `concurrency` matches the embedder's batch (16): uploads that reach the model together share one
 * inference call (embeddings/embedder.ts), so fewer would cap the batches that can form.
 */
export const DEFAULT_UPLOAD_LIMITS: UploadLimits = {
  concurrency: 16,
  maxWaiting: 32,
  retryAfterSeconds: 2,
  maxReceiving: 64,
  maxBufferedBytes: 256 * 1024 * 1024,
  bodyTimeoutMs: 60_000,
  minBytesPerSecond: 2048,
  rateGraceMs: 5_000,
};

/** One upload's place while its body arrives, and the bytes it holds until it is over. */
export interface Admission {
  /**
   * Counts bytes of the body as they arrive.
   * @throws ApiError 503 'busy' when the bytes held by all uploads would go over the bound.
   */
  hold(bytes: number): void;
  /** The body has arrived, or will not: frees the receiving place (the bytes stay held). */
  received(): void;
  /** The upload is over: frees its place and its bytes (safe to call twice). */
  release(): void;
}

/**
 * Emits 'change' whenever the uploads receiving, waiting or running, or the bytes they hold,
 * change (for tests and monitoring).
 */
export class UploadLimiter extends EventEmitter<{ change: [] }> {
  private running = 0;
  private receivingCount = 0;
  private heldBytes = 0;
  private readonly queue: (() => void)[] = [];
  private idleWaiters: (() => void)[] = [];

  constructor(readonly limits: UploadLimits = DEFAULT_UPLOAD_LIMITS) {
    super();
  }

  /** Uploads with a turn of the model. */
  get active(): number {
    return this.running;
  }

  /** Uploads received in full, waiting for a turn. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Uploads whose body is arriving. */
  get receiving(): number {
    return this.receivingCount;
  }

  /** Bytes of upload bodies held now. */
  get bufferedBytes(): number {
    return this.heldBytes;
  }

  private busy(): ApiError {
    const uploads = this.receivingCount + this.running + this.queue.length;
    return new ApiError(
      503,
      'busy',
      `the server is busy with ${uploads} photos; try again in a few seconds`,
      { 'retry-after': String(this.limits.retryAfterSeconds) },
    );
  }

  private changed(): void {
    if (this.receivingCount === 0 && this.running === 0 && this.queue.length === 0) {
      for (const resolve of this.idleWaiters) resolve();
      this.idleWaiters = [];
    }
    this.emit('change');
  }

  /**
   * A place to receive an upload's body, of which it may hold at most `maxHeld` bytes (what it can
   * keep: bytes beyond, which the parser discards, are not counted).
   * @throws ApiError 503 'busy' when as many bodies are arriving as allowed, or the model's
   *   queue is full already (the body would only be refused once read).
   */
  admit(maxHeld = Number.POSITIVE_INFINITY): Admission {
    const { maxReceiving, concurrency, maxWaiting, maxBufferedBytes } = this.limits;
    if (this.receivingCount >= maxReceiving) throw this.busy();
    if (this.running >= concurrency && this.queue.length >= maxWaiting) throw this.busy();
    this.receivingCount += 1;
    this.changed();
    let receiving = true;
    let released = false;
    let held = 0;
    const received = () => {
      if (!receiving) return;
      receiving = false;
      this.receivingCount -= 1;
      this.changed();
    };
    return {
      hold: (bytes) => {
        const more = Math.min(bytes, maxHeld - held);
        if (released || more <= 0) return;
        if (this.heldBytes + more > maxBufferedBytes) throw this.busy();
        held += more;
        this.heldBytes += more;
        this.changed();
      },
      received,
      release: () => {
        if (released) return;
        released = true;
        this.heldBytes -= held;
        held = 0;
        if (receiving) received();
        else this.changed();
      },
    };
  }

  /**
   * Waits for a turn of the model and resolves to the function that ends it (safe to call twice).
   * @param signal gives up the place in the queue when aborted (the client went away).
   * @throws ApiError 503 'busy' when the queue is full; the signal's reason when aborted.
   */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    if (this.running >= this.limits.concurrency) {
      if (this.queue.length >= this.limits.maxWaiting) throw this.busy();
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          const at = this.queue.indexOf(turn);
          if (at >= 0) this.queue.splice(at, 1);
          this.changed();
          reject(signal?.reason);
        };
        const turn = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        this.queue.push(turn);
        signal?.addEventListener('abort', onAbort, { once: true });
        this.changed();
      });
    } else {
      this.running += 1;
      this.changed();
    }
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.queue.shift();
      // The turn passes straight to the next waiter, so `running` stays the same.
      if (next) next();
      else this.running -= 1;
      this.changed();
    };
  }

  /** Resolves once no upload is arriving, running or waiting (e.g. before the model is released). */
  idle(): Promise<void> {
    if (this.receivingCount === 0 && this.running === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}
