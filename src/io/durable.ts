/**
 * Durable writes: a file is written whole or not at all. Every writer of the project goes through
 * here: the data goes to a temporary sibling, is fsynced, renamed over the target, and the folder
 * is fsynced so that the rename itself survives a power cut.
 */
import { randomBytes } from 'node:crypto';
import { lstat, open, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** The temporary names this module writes: `<name>.<random>.tmp` (cleaned up by their owners). */
export const TEMP_SUFFIX = /\.[0-9a-f]{8}\.tmp$/;

/** Fsyncs a folder (its entries: created, renamed or removed files). */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** A temporary sibling of `path`, named as TEMP_SUFFIX says. */
function tempPath(path: string): string {
  return join(dirname(path), `${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
}

/** Fsyncs a file, or a folder and everything in it. */
async function syncTree(path: string): Promise<void> {
  const st = await lstat(path);
  if (st.isSymbolicLink()) return;
  if (st.isDirectory()) {
    for (const name of await readdir(path)) await syncTree(join(path, name));
  }
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Like writeDurably, for content that something else writes to a path (a native library's save, an
 * unpacked folder): `write` fills the temporary sibling it is given, which is then fsynced (a folder
 * with all it holds) and renamed over `path`. A folder can replace only an absent or empty one.
 */
export async function writeDurablyWith(
  path: string,
  write: (tmp: string) => void | Promise<void>,
  options: { syncFolder?: boolean } = {},
): Promise<void> {
  const tmp = tempPath(path);
  try {
    await write(tmp);
    await syncTree(tmp);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
  if (options.syncFolder ?? true) await syncDir(dirname(path));
}

/** Writes `data` to `path` atomically and durably. */
export async function writeDurably(
  path: string,
  data: string | Uint8Array,
  options: { syncFolder?: boolean } = {},
): Promise<void> {
  const tmp = tempPath(path);
  try {
    const handle = await open(tmp, 'wx');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  if (options.syncFolder ?? true) await syncDir(dirname(path));
}

/** Writes a value as pretty JSON, atomically and durably. */
export function writeJsonDurably(
  path: string,
  value: unknown,
  options?: { syncFolder?: boolean },
): Promise<void> {
  return writeDurably(path, `${JSON.stringify(value, null, 2)}\n`, options);
}
