/** A progress bar on stderr: done/total, rate and ETA; plain periodic lines where stderr is not a terminal. */
import cliProgress from 'cli-progress';

export interface Progress {
  /** `detail`: a few words shown after the ETA (e.g. stage timings). */
  update(done: number, total: number, detail?: string): void;
  stop(): void;
}

/**
 * A duration as a progress line shows it, rounded to the whole second first (so never "2m60s"):
 * "42s", "2m05s", "1h07m".
 */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  const minutes = Math.round(s / 60);
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

/** How long a rate must be measured, and over how many units, before an ETA is shown. */
export const ETA_MIN_SECONDS = 3;
export const ETA_MIN_UNITS = 2;
/** The rate is taken over about the last this many seconds. */
const RATE_WINDOW_SECONDS = 30;

/**
 * The rate (units a second, over the recent past) and the time left, from (time, done) samples:
 * none until enough has been measured (a few seconds and a few units since the first sample,
 * which may not start at 0 when a run resumes).
 */
export class EtaEstimator {
  private readonly samples: { t: number; done: number }[] = [];

  /** Records that `done` units are done at `seconds` (any clock, in seconds). */
  add(seconds: number, done: number): void {
    this.samples.push({ t: seconds, done });
    // Keep the window, and the first sample for as long as nothing else is older than the window.
    while (this.samples.length > 2 && seconds - (this.samples[1] as { t: number }).t >= RATE_WINDOW_SECONDS) {
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
    if (seconds < ETA_MIN_SECONDS || units < ETA_MIN_UNITS) return undefined;
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

export function progressBar(unit: string): Progress {
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      // Rate and ETA are this module's own (cli-progress's {eta_formatted} can print "2m60s", and an ETA from nothing).
      format: `{bar} {value}/{total} ${unit}{speed}{timeLeft} {detail}`,
      noTTYOutput: true,
      notTTYSchedule: 10_000,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  const estimator = new EtaEstimator();
  const payload = (done: number, total: number, detail: string) => {
    estimator.add(performance.now() / 1000, done);
    const rate = estimator.rate();
    const eta = done >= total ? undefined : estimator.eta(total);
    return {
      // Nothing until they can be measured.
      speed: rate === undefined ? '' : ` | ${rate.toFixed(1)} ${unit}/s`,
      timeLeft: eta === undefined ? '' : ` | ETA ${formatDuration(eta)}`,
      detail,
    };
  };
  let started = false;
  let stopped = false;
  return {
    update(done, total, detail = '') {
      // (A bar restarted after stop() would keep its timer, and the process, alive.)
      if (stopped) return;
      if (!started) {
        started = true;
        bar.start(total, done, payload(done, total, detail));
        return;
      }
      bar.setTotal(total);
      bar.update(done, payload(done, total, detail));
    },
    stop() {
      stopped = true;
      if (started) bar.stop();
    },
  };
}

/**
 * One progress bar per stage, stopped when the next stage starts. `close()` ends the display for
 * good: an update that comes later (from work still running after an error) shows nothing, and
 * no bar's timer is left to keep the process alive. Every command closes it on every exit path.
 */
export function stagedProgress() {
  let current: { stage: string; bar: Progress } | undefined;
  let closed = false;
  return {
    update(stage: string, unit: string, done: number, total: number, detail?: string) {
      if (closed) return;
      if (current?.stage !== stage) {
        current?.bar.stop();
        current = { stage, bar: progressBar(unit) };
      }
      current.bar.update(done, total, detail);
    },
    /** Stops the current stage's bar (the next update starts another). */
    stop() {
      current?.bar.stop();
      current = undefined;
    },
    /** Stops the display for good. */
    close() {
      closed = true;
      current?.bar.stop();
      current = undefined;
    },
  };
}

type Staged = ReturnType<typeof stagedProgress>;
type SimilarityStage = 'colours' | 'learning';

/** The similarity layer's stage callbacks: a log line as each stage starts, then its own progress bar. */
export function similarityProgress(
  progress: Staged,
  info: (message: string) => void,
  listener?: (stage: SimilarityStage, done: number, total: number) => void,
): {
  onStage: (stage: SimilarityStage, detail: string) => void;
  onProgress: (stage: SimilarityStage, done: number, total: number) => void;
} {
  return {
    onStage: (stage, detail) => {
      progress.stop();
      info(`${stage === 'colours' ? 'colour descriptors' : 'learning the similarity'}: ${detail}`);
      listener?.(stage, 0, 0);
    },
    onProgress: (stage, done, total) => {
      progress.update(stage, stage === 'colours' ? 'photos (colour)' : 'epochs (learning)', done, total);
      listener?.(stage, done, total);
    },
  };
}
