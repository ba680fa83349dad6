/** A progress bar on stderr: done/total, rate and ETA; plain periodic lines where stderr is not a terminal. */
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, total: number): void;
  stop(): void;
}

export function progressBar(unit: string): Progress {
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `{bar} {value}/{total} ${unit} | {rate} ${unit}/s | ETA {eta_formatted}`,
      noTTYOutput: true,
      notTTYSchedule: 10_000,
      etaBuffer: 200,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let started: number | undefined;
  return {
    update(done, total) {
      if (started === undefined) {
        started = performance.now();
        bar.start(total, done, { rate: '0.0' });
        return;
      }
      const seconds = (performance.now() - started) / 1000;
      bar.setTotal(total);
      bar.update(done, { rate: seconds > 0 ? (done / seconds).toFixed(1) : '0.0' });
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
    update(stage: string, unit: string, done: number, total: number) {
      if (current?.stage !== stage) {
        current?.bar.stop();
        current = { stage, bar: progressBar(unit) };
      }
      current.bar.update(done, total);
    },
    stop() {
      current?.bar.stop();
      current = undefined;
    },
  };
}
