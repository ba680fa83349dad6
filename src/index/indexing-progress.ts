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

/** How long a progress bar's rate must be measured, and over how many units, before an ETA is shown. */
export const ETA_MIN_SECONDS = 3;
export const ETA_MIN_UNITS = 2;
/** A progress bar's rate is taken over about the last this many seconds. */
const RATE_WINDOW_SECONDS = 30;

/**
 * The rate (units a second, over the recent past) and the time left, from (time, done) samples:
 * none until enough has been measured (a few seconds and a few units since the first sample,
 * which may not start at 0 when a run resumes).
 */
export class EtaEstimator {
  private readonly samples: { t: number; done: number }[] = [];

  /**
   * @param windowSeconds the rate is taken over about the last this many seconds;
   * @param minSeconds, minUnits how long, and over how many units, before there is a rate
   *   (defaults: a progress bar's).
   */
  constructor(
    private readonly windowSeconds = RATE_WINDOW_SECONDS,
    private readonly minSeconds = ETA_MIN_SECONDS,
    private readonly minUnits = ETA_MIN_UNITS,
  ) {}

  /** Records that `done` units are done at `seconds` (any clock, in seconds). */
  add(seconds: number, done: number): void {
    this.samples.push({ t: seconds, done });
    // Keep the window, and the first sample for as long as nothing else is older than the window.
    while (this.samples.length > 2 && seconds - (this.samples[1] as { t: number }).t >= this.windowSeconds) {
      this.samples.shift();
    }
  }

  /** Units a second, or undefined while it cannot be measured. */
  rate(): number | undefined {
    const first = this.samples[0];
    const last = this.samples.at(-1);
    if (!first || !last) return undefined;
    const seconds = last.t - first.t;
    const units = last.done - first.done;
    if (seconds < this.minSeconds || units < this.minUnits) return undefined;
    return units / seconds;
  }

  /** Seconds left to reach `total`, or undefined while the rate cannot be measured. */
  eta(total: number): number | undefined {
    const rate = this.rate();
    const last = this.samples.at(-1);
    if (rate === undefined || !last || rate <= 0) return undefined;
    return Math.max(0, total - last.done) / rate;
  }
}

/** The rate is over the last minute, and none before 5 s and 2 photos (the first batch includes loading the model). */
const WINDOW_SECONDS = 60;
const MIN_SECONDS = 5;
const MIN_PHOTOS = 2;

export class IndexingTracker {
  private state: IndexingState = 'starting';
  private indexed = 0;
  private total = 0;
  private searchable = 0;
  private error?: string;
  private readonly estimator = new EtaEstimator(WINDOW_SECONDS, MIN_SECONDS, MIN_PHOTOS);

  constructor(private readonly now: () => number = () => performance.now()) {}

  photos(done: number, total: number): void {
    this.state = 'indexing';
    this.indexed = done;
    this.total = total;
    this.estimator.add(this.now() / 1000, done);
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
    return this.estimator.rate() ?? null;
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
