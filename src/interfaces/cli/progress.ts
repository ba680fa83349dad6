/** A progress bar on stderr: done/total, rate and ETA; plain periodic lines where stderr is not a terminal. */
import cliProgress from 'cli-progress';

export interface Progress {
  /** `detail`: a few words shown after the ETA (e.g. stage timings). */
  update(done: number, total: number, detail?: string): void;
  stop(): void;
}

export function progressBar(unit: string): Progress {
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `{bar} {value}/{total} ${unit} | {rate} ${unit}/s | ETA {eta_formatted} {detail}`,
      noTTYOutput: true,
      notTTYSchedule: 10_000,
      etaBuffer: 200,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let started: number | undefined;
  let stopped = false;
  return {
    update(done, total, detail = '') {
      // (A bar restarted after stop() would keep its timer, and the process, alive.)
      if (stopped) return;
      if (started === undefined) {
        started = performance.now();
        bar.start(total, done, { rate: '0.0', detail });
        return;
      }
      const seconds = (performance.now() - started) / 1000;
      bar.setTotal(total);
      bar.update(done, { rate: seconds > 0 ? (done / seconds).toFixed(1) : '0.0', detail });
    },
    stop() {
      stopped = true;
      if (started !== undefined) bar.stop();
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
): {
  onStage: (stage: SimilarityStage, detail: string) => void;
  onProgress: (stage: SimilarityStage, done: number, total: number) => void;
} {
  return {
    onStage: (stage, detail) => {
      progress.stop();
      info(`${stage === 'colours' ? 'colour descriptors' : 'learning the similarity'}: ${detail}`);
    },
    onProgress: (stage, done, total) =>
      progress.update(stage, stage === 'colours' ? 'photos (colour)' : 'epochs (learning)', done, total),
  };
}
