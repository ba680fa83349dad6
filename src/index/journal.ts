/**
 * What a run may leave behind in a folder that is not only ours (`index --out` may be any folder):
 * before it creates files, a run records their names in a journal under `.work/`, with the names
 * of the files that the commit replaces. Cleaning up then removes only files that a journal names
 * (and their temporary siblings, `<name>.<8 hex>.tmp`), never by a pattern: a file that the
 * manifest does not name and no journal names is someone else's and is left alone.
 */
import { lstat, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { writeJsonDurably } from '../io/durable.js';
import { FileFormatError, readJsonFile } from '../io/json-file.js';

/** The work folder of an index folder: checkpoints and journals. */
export const workDir = (dir: string) => join(dir, '.work');

const journalZ = z.object({
  /** Files the run creates (the commit makes some of them live). */
  files: z.array(z.string()),
  /** Files the commit replaces (live until then). */
  replaced: z.array(z.string()),
});
export type JournalEntry = z.infer<typeof journalZ>;

/** A plain file name (no folder, nothing hidden): what a journal may name. */
const PLAIN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

const journalPath = (dir: string, name: string) => join(workDir(dir), `${name}.json`);

/** Records, durably, the files a run is about to create and those its commit replaces. */
export async function recordJournal(dir: string, name: string, entry: JournalEntry): Promise<void> {
  for (const file of [...entry.files, ...entry.replaced]) {
    if (!PLAIN_NAME.test(file)) throw new Error(`not a plain file name for a journal: ${file}`);
  }
  for (let attempt = 0; ; attempt++) {
    await mkdir(workDir(dir), { recursive: true });
    try {
      await writeJsonDurably(journalPath(dir, name), entry);
      return;
    } catch (err) {
      // (An indexing run that just finished may have removed the empty work folder meanwhile.)
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt > 0) throw err;
    }
  }
}

/**
 * Settles a journal: removes the files it names that are not `live` (and their temporary
 * siblings), then the journal. `live` undefined: which files are live cannot be told (the
 * manifest is damaged), so nothing is removed and the journal is kept.
 */
export async function settleJournal(dir: string, name: string, live: ReadonlySet<string> | undefined) {
  let entry: JournalEntry | undefined;
  try {
    entry = await readJsonFile(journalPath(dir, name), journalZ, { optional: true });
  } catch (err) {
    if (!(err instanceof FileFormatError)) throw err;
    // A journal cut short by a crash names nothing reliably: dropped, nothing else touched.
    await rm(journalPath(dir, name), { force: true });
    return;
  }
  if (!entry || !live) return;
  const named = new Set([...entry.files, ...entry.replaced].filter((f) => PLAIN_NAME.test(f)));
  await removeOwn(
    dir,
    [...named].filter((f) => !live.has(f)),
    [...named],
  );
  await rm(journalPath(dir, name), { force: true });
}

const TEMP = /^(.+)\.[0-9a-f]{8}\.tmp$/;

/**
 * Removes the plain files `names` from a folder, and the temporary files of `writtenNames` (what
 * src/io/durable.ts leaves when a write is cut short). Folders and links are never removed.
 */
export async function removeOwn(
  dir: string,
  names: readonly string[],
  writtenNames: readonly string[] = names,
): Promise<void> {
  const written = new Set(writtenNames);
  const targets = new Set(names);
  for (const entry of await readdir(dir)) {
    const temp = TEMP.exec(entry);
    if (temp && written.has(temp[1] as string)) targets.add(entry);
  }
  for (const target of targets) {
    const path = join(dir, target);
    const st = await lstat(path).catch(() => undefined);
    if (st?.isFile()) await rm(path, { force: true });
  }
}
