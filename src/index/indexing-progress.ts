/**
 * Progress of an indexing run as a server reports it while it indexes in the background: what
 * is done, how fast (over the last minute), and when it should end. Written here rather than taken
 * from the progress-bar library: cli-progress draws a bar on a terminal and does not expose its
 * rate or ETA as numbers.
 */

export type IndexingState = 'starting' | 'indexing' | 'learning' | 'done' | 'failed';

export interface IndexingProgress {
  state: IndexingState;
  /** Photos embedded so far in this run. */
  indexed: number;
  /** Photos to embed in this run. */
  total: number;
  /** Products that searches cover now. */
  searchable: number;
  /** Photos per second (over the last minute), null until it can be measured. */
  rate: number | null;
  /** Seconds left, null until it can be estimated. */
  etaSeconds: number | null;
  error?: string;
}

/** Samples older than this are forgotten by the rate. */
const WINDOW_MS = 60_000;
/** No rate before this much time and this many photos (the first batch includes loading the model). */
const MIN_SPAN_MS = 5_000;
const MIN_PHOTOS = 2;

export class IndexingTracker {
  private state: IndexingState = 'starting';
  private indexed = 0;
  private total = 0;
  private searchable = 0;
  private error?: string;
  private samples: { at: number; done: number }[] = [];

  constructor(private readonly now: () => number = () => performance.now()) {}

  photos(done: number, total: number): void {
    this.state = 'indexing';
    this.indexed = done;
    this.total = total;
    const at = this.now();
    this.samples.push({ at, done });
    while (this.samples.length > 2 && at - (this.samples[1] as { at: number }).at >= WINDOW_MS)
      this.samples.shift();
  }

  learning(): void {
    this.state = 'learning';
  }

  published(searchable: number): void {
    this.searchable = searchable;
  }

  done(searchable: number): void {
    this.state = 'done';
    this.indexed = this.total;
    this.searchable = searchable;
  }

  failed(error: string): void {
    this.state = 'failed';
    this.error = error;
  }

  /** Photos per second over the window, or null before enough time and photos. */
  rate(): number | null {
    const first = this.samples[0];
    const last = this.samples.at(-1);
    if (!first || !last) return null;
    const span = last.at - first.at;
    const photos = last.done - first.done;
    if (span < MIN_SPAN_MS || photos < MIN_PHOTOS) return null;
    return (photos * 1000) / span;
  }

  snapshot(): IndexingProgress {
    const rate = this.state === 'indexing' ? this.rate() : null;
    const left = this.total - this.indexed;
    return {
      state: this.state,
      indexed: this.indexed,
      total: this.total,
      searchable: this.searchable,
      rate: rate === null ? null : Math.round(rate * 10) / 10,
      etaSeconds: rate === null ? null : Math.ceil(left / rate),
      ...(this.error ? { error: this.error } : {}),
    };
  }
}
