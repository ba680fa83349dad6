/** Exclusive use of an index folder across processes (proper-lockfile), released on exit or when stale. */
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { log } from '../log.js';
import { IndexError } from './store.js';

export interface FolderLock {
  /** Lock file name inside the folder. */
  file: string;
  /** What holds the lock, for the message when it is taken: "another <what> is using <dir>". */
  what: string;
  /** A lock not refreshed for this long is taken over (a killed holder). */
  staleMs: number;
}

export async function lockFolder(
  dir: string,
  { file, what, staleMs }: FolderLock,
): Promise<() => Promise<void>> {
  try {
    return await lockfile.lock(dir, {
      lockfilePath: join(dir, file),
      stale: staleMs,
      update: Math.max(1_000, Math.floor(staleMs / 5)),
      // Retry for a little longer than the stale time, so that a killed holder's lock can be taken over.
      retries: { retries: 10, minTimeout: 1_000, maxTimeout: Math.max(3_000, Math.floor(staleMs / 6)) },
      onCompromised: (err) => log.warn({ err: err.message }, `${what} lock on ${dir} was compromised`),
    });
  } catch (err) {
    throw new IndexError(`another ${what} is using ${dir} (${(err as Error).message})`);
  }
}
