/** A progress bar on stderr: done/total, rate and ETA; plain periodic lines where stderr is not a terminal. */
import cliProgress from 'cli-progress';
import { ETA_MIN_SECONDS, EtaEstimator } from '../../index/indexing-progress.js';

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

export { ETA_MIN_SECONDS, EtaEstimator };

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
