/** Waiting on events (file system changes, a child's output, its exit), never on fixed sleeps. */
import type { ChildProcess } from 'node:child_process';
import { existsSync, watch } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { basename, dirname } from 'node:path';

/** Resolves with the first entry of `dir` that `test` accepts, as soon as there is one. */
export function untilEntry(dir: string, test: (name: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let done = false;
    const watcher = watch(dir, () => void check());
    watcher.on('error', (err) => finish(undefined, err));
    const finish = (name: string | undefined, err?: unknown) => {
      if (done) return;
      done = true;
      watcher.close();
      if (name !== undefined) resolve(name);
      else reject(err);
    };
    const check = async () => {
      const found = (await readdir(dir).catch(() => [] as string[])).find(test);
      if (found !== undefined) finish(found);
    };
    void check();
  });
}

/** Resolves once `path` exists (its parent folder must exist). */
export async function untilExists(path: string): Promise<void> {
  if (existsSync(path)) return;
  await untilEntry(dirname(path), (name) => name === basename(path));
}

export interface Watched {
  child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  stdout: () => string;
  stderr: () => string;
  /** The exit code (or the signal's name). */
  exited: Promise<number | string>;
  /** Resolves once stderr matches. */
  untilStderr: (pattern: RegExp) => Promise<void>;
}

/** Follows a child process's output and exit. */
export function watchChild(child: ChildProcess): Watched {
  let out = '';
  let err = '';
  const waiting: { pattern: RegExp; resolve: () => void }[] = [];
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString();
    for (const w of [...waiting]) {
      if (w.pattern.test(err)) {
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve();
      }
    }
  });
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    untilStderr: (pattern) =>
      pattern.test(err)
        ? Promise.resolve()
        : Promise.race([
            new Promise<void>((resolve) => waiting.push({ pattern, resolve })),
            exited.then((code) => {
              throw new Error(`exited (${code}) before its output matched ${pattern}:\n${err}`);
            }),
          ]),
  };
}
