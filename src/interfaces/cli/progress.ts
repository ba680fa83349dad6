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
  return {
    update(done, total, detail = '') {
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
      if (started !== undefined) bar.stop();
    },
  };
}

/** One progress bar per stage, stopped when the next stage starts. */
export function stagedProgress() {
  let current: { stage: string; bar: Progress } | undefined;
  return {
    update(stage: string, unit: string, done: number, total: number, detail?: string) {
      if (current?.stage !== stage) {
        current?.bar.stop();
        current = { stage, bar: progressBar(unit) };
      }
      current.bar.update(done, total, detail);
    },
    stop() {
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
