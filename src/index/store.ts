/**
 * The embedded index on disk, a plain file contract:
 *
 *   <dir>/manifest.json         what the index is: embedding spec, count, and which data files hold it
 *   <dir>/vectors-<gen>.f32     count x dim float32 little-endian, row i = items[i]
 *   <dir>/items-<gen>.json      [{id, file, hash, bytes, mtimeMs, metadata}], row order
 *   <dir>/skipped.json          photos the last run could not read, with the reason
 *
 * The manifest records the embedding spec, the catalogue's schema (src/catalogue/schema.ts) and
 * a checksum (CRC-32) of every data file. Loading checks them, and that every vector is finite
 * and of unit length (or zero); a damaged file is an IndexError naming it.
 *
 * A commit records in a journal (journal.ts) the files it will create, writes the new
 * generation's data files completely (and fsyncs them), then replaces manifest.json by an atomic
 * rename, then removes the previous generation's files. A kill at any moment leaves the manifest
 * pointing at a complete generation; the next run removes what the journal names and no manifest
 * does. Files that neither a manifest nor a journal names are never touched.
 */

import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { z } from 'zod';
import { catalogueSchemaZ } from '../catalogue/schema.js';
import { EmbeddingSpecSchema } from '../embeddings/spec-schema.js';
import { syncDir, writeDurably } from '../io/durable.js';
import { InputFileError, readInputFile } from '../io/input-file.js';
import { FileFormatError, MAX_JSON_BYTES, parseJson } from '../io/json-file.js';
import { checksumOf, checkVectorsFileAside, findBadVector } from './integrity.js';
import { indexItemZ } from './item-schema.js';
import { recordJournal, removeOwn, settleJournal } from './journal.js';
import type { IndexItem } from './port.js';
import { discardWal } from './wal.js';

export { checksumOf, findBadVector } from './integrity.js';
export type { IndexItem } from './port.js';

export const INDEX_FORMAT = 'lookalike-index';
export const INDEX_VERSION = 1;

/**
 * What a layer built on top of the vectors (the similarity) records in the manifest. The index
 * itself only keeps the files it names alive and passes it through; see src/similarity.
 */
const derivedSpecZ = z.looseObject({ kind: z.string(), files: z.array(z.string()).optional() });
export type DerivedSpec = z.infer<typeof derivedSpecZ>;

/** A data file written with a generation, before its manifest. */
export interface ExtraFile {
  name: string;
  data: Uint8Array;
}

/** `crc32:<8 hex digits>`: the CRC-32 (as zlib and most tools compute it) of a file's bytes. */
const checksumZ = z.string().regex(/^crc32:[0-9a-f]{8}$/);

const manifestZ = z.object({
  format: z.literal(INDEX_FORMAT),
  version: z.number().int(),
  spec: EmbeddingSpecSchema,
  dim: z.number().int().positive(),
  count: z.number().int().nonnegative(),
  generation: z.number().int().positive(),
  vectorsFile: z.string().regex(/^vectors-\d+\.f32$/),
  itemsFile: z.string().regex(/^items-\d+\.json$/),
  /** Absolute path of the catalogue's photos. */
  imagesDir: z.string(),
  metadataPath: z.string().optional(),
  /** The catalogue's schema (absent in indexes made before schemas: detected from the items). */
  schema: catalogueSchemaZ.optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
  /** How many photos the last run skipped (see skipped.json). */
  skipped: z.number().int().nonnegative(),
  /** The similarity the vectors are searched with (absent in indexes made before similarities). */
  similarity: derivedSpecZ.optional(),
  /** Checksum of each data file, by name (absent in indexes made before checksums). */
  checksums: z.record(z.string(), checksumZ).optional(),
  /**
   * A generation published while an indexing run is still going (serve while it indexes): it
   * holds the products embedded so far, searched with the original similarity until the run ends.
   */
  building: z.object({ total: z.number().int().nonnegative() }).optional(),
});
export type IndexManifest = z.infer<typeof manifestZ>;

const itemsZ = z.array(indexItemZ);

export interface IndexData {
  manifest: IndexManifest;
  items: IndexItem[];
  /** count x dim, in a buffer of its own (never a view: usearch misreads views). */
  vectors: Float32Array;
}

export class IndexError extends Error {}

export const manifestPath = (dir: string) => join(dir, 'manifest.json');

export async function readManifest(dir: string): Promise<IndexManifest | undefined> {
  const found = await inspectManifest(dir);
  if (found.damaged) throw found.damaged.error;
  return found.manifest;
}

/** A manifest that cannot be used, and the data file names still legible in it. */
export interface DamagedManifest {
  error: IndexError;
  /** Data file names found in its text (a --rebuild removes them once it has committed). */
  names: string[];
}

/** Names of index data files in a text (what a damaged manifest still says). */
const DATA_NAMES =
  /"((?:vectors-\d+\.f32)|(?:items-\d+\.json)|(?:colours|projection)-[0-9a-f]{16}\.f32|similarity-[0-9a-f]{16}\.json)"/g;

/**
 * The manifest of a folder, or what is wrong with it: `damaged` when it is not readable as a
 * manifest of this version (a --rebuild may replace it). A manifest of something else than a
 * lookalike index is always refused (the folder is not ours).
 */
export async function inspectManifest(
  dir: string,
): Promise<{ manifest?: IndexManifest; damaged?: DamagedManifest }> {
  const path = manifestPath(dir);
  let text: string;
  try {
    text = (await readInputFile(path, { maxBytes: MAX_JSON_BYTES, what: 'the manifest' })).toString('utf8');
  } catch (err) {
    if (!(err instanceof InputFileError)) throw err;
    if (err.code === 'missing') return {};
    return {
      damaged: { error: new IndexError(`${err.message} (rebuild the index with --rebuild)`), names: [] },
    };
  }
  const names = () => [...new Set([...text.matchAll(DATA_NAMES)].map((m) => m[1] as string))];
  let raw: { format?: unknown; version?: unknown };
  try {
    raw = parseJson(path, text, z.looseObject({ format: z.unknown(), version: z.unknown() }).partial());
  } catch (err) {
    if (err instanceof FileFormatError) return { damaged: { error: damagedError(err), names: names() } };
    throw err;
  }
  if (raw.format !== INDEX_FORMAT) {
    throw new IndexError(
      `${path} is not a lookalike index manifest: ${dir} holds something else (choose another folder)`,
    );
  }
  if (raw.version !== INDEX_VERSION) {
    const error = new IndexError(
      `${dir}: index format version ${String(raw.version)} is not supported (expected ${INDEX_VERSION}); rebuild it with --rebuild`,
    );
    return { damaged: { error, names: names() } };
  }
  try {
    return { manifest: parseJson(path, text, manifestZ) };
  } catch (err) {
    if (err instanceof FileFormatError) return { damaged: { error: damagedError(err), names: names() } };
    throw err;
  }
}

const damagedError = (err: FileFormatError) =>
  new IndexError(`${err.message} (rebuild the index with --rebuild)`);

/** A damaged file of the index is an IndexError naming it (the CLI says to rebuild). */
function asIndexError(err: unknown): never {
  if (err instanceof FileFormatError) throw damagedError(err);
  throw err;
}

/** A data file that is not what the manifest says. */
const damaged = (path: string, what: string) =>
  new IndexError(`${path} is damaged: ${what} (rebuild the index with --rebuild)`);

/**
 * Throws an IndexError naming `name` when bytes read from an index folder do not match the
 * checksum its manifest records for them (nothing to check in a manifest without checksums).
 */
export function verifyChecksum(dir: string, manifest: IndexManifest, name: string, data: Uint8Array): void {
  const expected = manifest.checksums?.[name];
  if (expected === undefined) return;
  const actual = checksumOf(data);
  if (actual !== expected)
    throw damaged(join(dir, name), `its checksum is ${actual}, the manifest records ${expected}`);
}

export interface LoadOptions {
  /**
   * Check every vector (finite, unit length) even when the manifest has checksums (which are
   * always checked; the vectors were checked when committed). Default: only without checksums.
   */
  checkVectors?: boolean;
}

export async function loadIndex(dir: string, options: LoadOptions = {}): Promise<IndexData> {
  const manifest = await readManifest(dir);
  if (!manifest) {
    throw new IndexError(`no index at ${dir} (build one with: lookalike index <images-dir> --out ${dir})`);
  }
  const checkVectors = options.checkVectors ?? manifest.checksums === undefined;
  // The vectors stream straight into their own buffer on libuv's threads while the items parse here.
  const [vectors, items] = await Promise.all([
    readVectors(dir, manifest, checkVectors),
    readItems(dir, manifest),
  ]);
  if (items.length !== manifest.count) {
    throw damaged(
      join(dir, manifest.itemsFile),
      `${items.length} items, the manifest says ${manifest.count}`,
    );
  }
  return { manifest, items, vectors };
}

async function readItems(dir: string, manifest: IndexManifest): Promise<IndexItem[]> {
  const path = join(dir, manifest.itemsFile);
  let bytes: Buffer;
  try {
    bytes = await readInputFile(path, { maxBytes: MAX_JSON_BYTES, what: 'the index file' });
  } catch (err) {
    if (err instanceof InputFileError)
      throw new IndexError(`${err.message} (rebuild the index with --rebuild)`);
    throw err;
  }
  verifyChecksum(dir, manifest, manifest.itemsFile, bytes);
  try {
    return parseJson(path, bytes.toString('utf8'), itemsZ);
  } catch (err) {
    return asIndexError(err);
  }
}

/**
 * Reads the vectors file into a new array, in parallel chunks on libuv's threads. Its checksum
 * (and, without one, the soundness of every vector) is checked meanwhile by a worker thread that
 * reads the file on its own: the check overlaps the loading instead of adding to it.
 */
async function readVectors(
  dir: string,
  manifest: IndexManifest,
  checkVectors: boolean,
): Promise<Float32Array> {
  const path = join(dir, manifest.vectorsFile);
  const { count, dim } = manifest;
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw damaged(path, 'the file is missing');
    throw new IndexError(`cannot read ${path}: ${(err as Error).message}`);
  }
  let check: Promise<{ checksum: string; bad?: { reason: string } }> | undefined;
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw damaged(path, 'not a regular file');
    if (st.size !== count * dim * 4) {
      throw damaged(
        path,
        `${st.size} bytes, the manifest says ${count} x ${dim} float32 (${count * dim * 4} bytes)`,
      );
    }
    const expected = manifest.checksums?.[manifest.vectorsFile];
    if (expected !== undefined || checkVectors) {
      check = checkVectorsFileAside(path, { dim, checkVectors });
      check.catch(() => undefined); // (awaited below; not unhandled if the read fails first)
    }
    const vectors = new Float32Array(count * dim);
    const bytes = new Uint8Array(vectors.buffer);
    const chunk = 32 * 1024 * 1024;
    const starts: number[] = [];
    for (let at = 0; at < bytes.length; at += chunk) starts.push(at);
    const limit = pLimit(4);
    await Promise.all(
      starts.map((start) =>
        limit(async () => {
          const end = Math.min(start + chunk, bytes.length);
          for (let at = start; at < end; ) {
            const { bytesRead } = await handle.read(bytes, at, end - at, at);
            if (bytesRead === 0) throw damaged(path, 'it ended early');
            at += bytesRead;
          }
        }),
      ),
    );
    const checked = await check?.catch((err: Error) => {
      throw new IndexError(`cannot read ${path}: ${err.message}`);
    });
    if (expected !== undefined && checked && checked.checksum !== expected) {
      throw damaged(path, `its checksum is ${checked.checksum}, the manifest records ${expected}`);
    }
    if (checked?.bad) throw damaged(path, checked.bad.reason);
    return vectors;
  } finally {
    await handle.close();
  }
}

/** Journal of the index's commits (journal.ts). */
const COMMIT_JOURNAL = 'journal';

export interface CommitOptions {
  /**
   * Start from scratch (--rebuild): a previous manifest that is damaged or of another version
   * does not stop the commit (the files it named, unknown, are left where they are).
   */
  rebuild?: boolean;
  /** Called just before the manifest is switched (the indexing lock's last check). */
  beforeSwitch?: () => Promise<void>;
}

/** The data files a manifest keeps alive. */
export function liveFiles(manifest: IndexManifest | undefined): Set<string> {
  return new Set(
    manifest ? [manifest.vectorsFile, manifest.itemsFile, ...(manifest.similarity?.files ?? [])] : [],
  );
}

/** The highest generation number among the data file names of a folder (0 when there is none). */
async function highestGeneration(dir: string): Promise<number> {
  let highest = 0;
  for (const name of await readdir(dir)) {
    const m = /^(?:vectors|items)-(\d+)\./.exec(name);
    if (m) highest = Math.max(highest, Number(m[1]));
  }
  return highest;
}

/** Writes a new generation and switches the manifest to it atomically; then removes the replaced files. */
export async function commitIndex(
  dir: string,
  manifest: Omit<
    IndexManifest,
    'generation' | 'vectorsFile' | 'itemsFile' | 'count' | 'format' | 'version' | 'checksums'
  >,
  items: IndexItem[],
  vectors: Float32Array,
  extraFiles: ExtraFile[] = [],
  options: CommitOptions = {},
): Promise<IndexManifest> {
  const found = await inspectManifest(dir);
  if (found.damaged && !options.rebuild) throw found.damaged.error;
  const previous = found.manifest;
  if (vectors.length !== items.length * manifest.dim) throw new Error('vectors and items differ in count');
  // Never written: vectors that a search would turn into NaN scores.
  const bad = findBadVector(vectors, manifest.dim);
  if (bad) {
    const item = items[bad.row];
    throw new IndexError(
      `refusing to write the index at ${dir}: ${bad.reason}${item ? ` (product ${item.id}, ${item.file})` : ''}`,
    );
  }
  // A generation whose file names are free: nothing that is there is ever overwritten.
  const generation = Math.max(previous?.generation ?? 0, await highestGeneration(dir)) + 1;
  const tag = String(generation).padStart(6, '0');
  const itemsText = Buffer.from(JSON.stringify(items));
  const vectorBytes = new Uint8Array(vectors.buffer, vectors.byteOffset, vectors.byteLength);
  const vectorsFile = `vectors-${tag}.f32`;
  const itemsFile = `items-${tag}.json`;
  // The data files first: a manifest cut short still names them (a --rebuild removes them).
  const next: IndexManifest = {
    format: INDEX_FORMAT,
    version: INDEX_VERSION,
    generation,
    vectorsFile,
    itemsFile,
    checksums: Object.fromEntries([
      [vectorsFile, checksumOf(vectorBytes)],
      [itemsFile, checksumOf(itemsText)],
      ...extraFiles.map((f) => [f.name, checksumOf(f.data)]),
    ]),
    count: items.length,
    ...manifest,
  };
  // (A damaged manifest's files, as far as it still names them, are replaced as well.)
  const replaced = [...new Set([...liveFiles(previous), ...(found.damaged?.names ?? [])])];
  await recordJournal(dir, COMMIT_JOURNAL, {
    files: [vectorsFile, itemsFile, ...extraFiles.map((f) => f.name)],
    replaced,
  });
  const quiet = { syncFolder: false };
  await writeDurably(join(dir, vectorsFile), vectorBytes, quiet);
  await writeDurably(join(dir, itemsFile), itemsText, quiet);
  for (const extra of extraFiles) await writeDurably(join(dir, extra.name), extra.data, quiet);
  // The data files' entries are durable before the manifest names them.
  await syncDir(dir);
  await options.beforeSwitch?.();
  await writeDurably(manifestPath(dir), `${JSON.stringify(next, null, 2)}\n`);
  await settleJournal(dir, COMMIT_JOURNAL, liveFiles(next));
  // A rebuild starts from scratch: the API's changes (wal.ts) are set aside with the old generation.
  if (options.rebuild) await discardWal(dir, generation);
  return next;
}

/**
 * Tidies an index folder before a run: what an interrupted commit left (the files its journal
 * names that the manifest does not), and interrupted writes of the manifest and skipped.json.
 * Nothing is removed while the manifest is damaged (which files are live cannot be told).
 */
export async function tidyIndexFolder(dir: string, manifest: IndexManifest | undefined, damaged = false) {
  await settleJournal(dir, COMMIT_JOURNAL, damaged ? undefined : liveFiles(manifest));
  await removeOwn(dir, [], ['manifest.json', 'skipped.json']);
}
