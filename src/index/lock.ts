/**
 * Exclusive use of an index folder across processes (proper-lockfile), released on exit or when stale.
 *
 * A holder that stops refreshing its lock for longer than the stale time (a process stopped with
 * SIGSTOP, a machine that slept) can lose it to another run. It must then stop writing at once:
 * the lock's `signal` is aborted as soon as proper-lockfile notices, and `assertHeld()`, called
 * before every write, also compares the owner token that each holder writes beside the lock.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { readInputFile } from '../io/input-file.js';
import { IndexError } from './store.js';

export interface FolderLock {
  /** Lock file name inside the folder. */
  file: string;
  /** What holds the lock, for the message when it is taken: "another <what> is using <dir>". */
  what: string;
  /** A lock not refreshed for this long is taken over (a killed holder). */
  staleMs: number;
}

/** A lock that was taken over by another process: this one must stop writing. */
export class LockLostError extends IndexError {}

export interface HeldLock {
  /** Aborted (with a LockLostError) when the lock is lost. */
  readonly signal: AbortSignal;
  /** Throws the LockLostError when the lock is no longer this process's. */
  assertHeld(): Promise<void>;
  /** Gives the lock back (nothing to do when it was lost). */
  release(): Promise<void>;
}

interface Owner {
  token: string;
  pid: number;
  host: string;
}

const describeOwner = (o: Partial<Owner> | undefined) =>
  o?.pid ? ` (process ${o.pid}${o.host ? ` on ${o.host}` : ''})` : '';

export async function lockFolder(dir: string, { file, what, staleMs }: FolderLock): Promise<HeldLock> {
  const controller = new AbortController();
  const ownerPath = join(dir, `${file}.owner`);
  const me: Owner = { token: randomBytes(8).toString('hex'), pid: process.pid, host: hostname() };
  const lose = (detail: string) => {
    if (!controller.signal.aborted) {
      controller.abort(
        new LockLostError(
          `lost the ${what} lock on ${dir}: ${detail}; this run stopped without writing anything more ` +
            `(it was paused or stalled for longer than ${staleMs / 1000} s; run it again once the other run is done)`,
        ),
      );
    }
  };
  // Once the lock is lost, the lock folder is the new holder's: never remove it (proper-lockfile
  // would on release and at exit, were it not told yet that the lock is lost).
  const guardedFs = {
    ...fs,
    rmdir: (path: fs.PathLike, callback: (err: NodeJS.ErrnoException | null) => void) =>
      controller.signal.aborted ? callback(null) : fs.rmdir(path, callback),
    rmdirSync: (path: fs.PathLike) => {
      if (!controller.signal.aborted) fs.rmdirSync(path);
    },
  };
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(dir, {
      fs: guardedFs,
      lockfilePath: join(dir, file),
      stale: staleMs,
      update: Math.max(1_000, Math.floor(staleMs / 5)),
      // Retry for a little longer than the stale time, so that a killed holder's lock can be taken over.
      retries: { retries: 10, minTimeout: 1_000, maxTimeout: Math.max(3_000, Math.floor(staleMs / 6)) },
      onCompromised: (err) => lose(`it was taken over (${err.message})`),
    });
  } catch (err) {
    const holder = await readOwner(ownerPath);
    throw new IndexError(
      `another ${what}${describeOwner(holder)} is using ${dir} (${(err as Error).message})`,
    );
  }
  try {
    await writeFile(ownerPath, JSON.stringify(me));
  } catch (err) {
    await release().catch(() => undefined);
    throw new IndexError(`cannot write in ${dir}: ${(err as Error).message}`);
  }
  return {
    signal: controller.signal,
    async assertHeld() {
      if (!controller.signal.aborted) {
        const owner = await readOwner(ownerPath);
        if (owner?.token !== me.token) lose(`another ${what}${describeOwner(owner)} took it over`);
      }
      controller.signal.throwIfAborted();
    },
    async release() {
      if (!controller.signal.aborted) {
        const owner = await readOwner(ownerPath);
        if (owner?.token !== me.token) lose(`another ${what}${describeOwner(owner)} took it over`);
      }
      // A lost lock is the new holder's: nothing of it is removed.
      if (controller.signal.aborted) return;
      await rm(ownerPath, { force: true });
      await release();
    },
  };
}

async function readOwner(path: string): Promise<Partial<Owner> | undefined> {
  try {
    const value = JSON.parse((await readInputFile(path, { maxBytes: 4096 })).toString('utf8')) as unknown;
    return typeof value === 'object' && value !== null ? (value as Partial<Owner>) : undefined;
  } catch {
    return undefined;
  }
}
