/**
 * The embedded index on disk, a plain file contract:
 *
 *   <dir>/manifest.json         what the index is: embedding spec, count, and which data files hold it
 *   <dir>/vectors-<gen>.f32     count x dim float32 little-endian, row i = items[i]
 *   <dir>/items-<gen>.json      [{id, file, hash, bytes, mtimeMs, metadata}], row order
 *   <dir>/skipped.json          photos the last run could not read, with the reason
 *
 * The manifest records the embedding spec and the catalogue's schema (src/catalogue/schema.ts).
 *
 * A commit writes a new generation's data files completely (and fsyncs them), then replaces
 * manifest.json by an atomic rename, then removes the previous generation. A kill at any moment
 * leaves the manifest pointing at a complete generation.
 */
import { open, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { z } from 'zod';
import { catalogueSchemaZ } from '../catalogue/schema.js';
import { EmbeddingSpecSchema } from '../embeddings/spec-schema.js';
import { syncDir, TEMP_SUFFIX, writeDurably } from '../io/durable.js';
import { FileFormatError, parseJson, readJsonFile } from '../io/json-file.js';
import type { IndexItem } from './port.js';

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
});
export type IndexManifest = z.infer<typeof manifestZ>;

const itemsZ = z.array(
  z.object({
    id: z.string(),
    file: z.string(),
    hash: z.string(),
    bytes: z.number(),
    mtimeMs: z.number(),
    metadata: z.record(z.string(), z.string()),
  }),
);

export interface IndexData {
  manifest: IndexManifest;
  items: IndexItem[];
  /** count x dim, in a buffer of its own (never a view: usearch misreads views). */
  vectors: Float32Array;
}

export class IndexError extends Error {}

export const manifestPath = (dir: string) => join(dir, 'manifest.json');

export async function readManifest(dir: string): Promise<IndexManifest | undefined> {
  const path = manifestPath(dir);
  const raw = await readJsonFile(path, z.looseObject({ format: z.unknown(), version: z.unknown() }), {
    optional: true,
  }).catch(asIndexError);
  if (!raw) return undefined;
  if (raw.format !== INDEX_FORMAT) throw new IndexError(`${path} is not a lookalike index manifest`);
  if (raw.version !== INDEX_VERSION) {
    throw new IndexError(
      `${dir}: index format version ${raw.version} is not supported (expected ${INDEX_VERSION}); rebuild it`,
    );
  }
  try {
    return parseJson(path, JSON.stringify(raw), manifestZ);
  } catch (err) {
    return asIndexError(err);
  }
}

/** A damaged file of the index is an IndexError naming it (the CLI says to rebuild). */
function asIndexError(err: unknown): never {
  if (err instanceof FileFormatError)
    throw new IndexError(`${err.message} (rebuild the index with --rebuild)`);
  throw err;
}

export async function loadIndex(dir: string): Promise<IndexData> {
  const manifest = await readManifest(dir);
  if (!manifest) {
    throw new IndexError(`no index at ${dir} (build one with: lookalike index <images-dir> --out ${dir})`);
  }
  // The vectors stream straight into their own buffer on libuv's threads while the items parse here.
  const [vectors, items] = await Promise.all([
    readVectors(join(dir, manifest.vectorsFile), manifest.count * manifest.dim),
    readJsonFile(join(dir, manifest.itemsFile), itemsZ).catch(asIndexError),
  ]);
  if (!vectors || items.length !== manifest.count) {
    throw new IndexError(
      `${dir}: data files do not match the manifest (${manifest.count} x ${manifest.dim})`,
    );
  }
  return { manifest, items, vectors };
}

/** Reads a float32 file into a new array, in parallel chunks; undefined when its size is not `floats`. */
async function readVectors(path: string, floats: number): Promise<Float32Array | undefined> {
  const handle = await open(path, 'r');
  try {
    if ((await handle.stat()).size !== floats * 4) return undefined;
    const vectors = new Float32Array(floats);
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
            if (bytesRead === 0) throw new IndexError(`${path} ended early`);
            at += bytesRead;
          }
        }),
      ),
    );
    return vectors;
  } finally {
    await handle.close();
  }
}

/** Writes a new generation and switches the manifest to it atomically; then removes stale files. */
export async function commitIndex(
  dir: string,
  manifest: Omit<IndexManifest, 'generation' | 'vectorsFile' | 'itemsFile' | 'count' | 'format' | 'version'>,
  items: IndexItem[],
  vectors: Float32Array,
  extraFiles: ExtraFile[] = [],
): Promise<IndexManifest> {
  const previous = await readManifest(dir);
  const generation = (previous?.generation ?? 0) + 1;
  const tag = String(generation).padStart(6, '0');
  const next: IndexManifest = {
    format: INDEX_FORMAT,
    version: INDEX_VERSION,
    ...manifest,
    count: items.length,
    generation,
    vectorsFile: `vectors-${tag}.f32`,
    itemsFile: `items-${tag}.json`,
  };
  if (vectors.length !== items.length * next.dim) throw new Error('vectors and items differ in count');
  const quiet = { syncFolder: false };
  await writeDurably(
    join(dir, next.vectorsFile),
    new Uint8Array(vectors.buffer, vectors.byteOffset, vectors.byteLength),
    quiet,
  );
  await writeDurably(join(dir, next.itemsFile), JSON.stringify(items), quiet);
  for (const extra of extraFiles) await writeDurably(join(dir, extra.name), extra.data, quiet);
  // The data files' entries are durable before the manifest names them.
  await syncDir(dir);
  await writeDurably(manifestPath(dir), `${JSON.stringify(next, null, 2)}\n`);
  await removeStale(dir, next);
  return next;
}

/** The data files an index writes: of the vectors, and of the similarity layer on top of them. */
const DATA_FILE =
  /^(vectors-\d+\.f32|items-\d+\.json|colours-[0-9a-f]{16}\.f32|similarity-[0-9a-f]{16}\.json|projection-[0-9a-f]{16}\.f32|manifest\.json|skipped\.json)$/;

/** Removes data files of other generations and leftovers of interrupted writes. */
export async function removeStale(dir: string, manifest: IndexManifest | undefined): Promise<void> {
  const keep = new Set([
    'manifest.json',
    'skipped.json',
    manifest?.vectorsFile,
    manifest?.itemsFile,
    ...(manifest?.similarity?.files ?? []),
  ]);
  for (const name of await readdir(dir)) {
    if (keep.has(name)) continue;
    if (DATA_FILE.test(name) || (TEMP_SUFFIX.test(name) && DATA_FILE.test(name.replace(TEMP_SUFFIX, '')))) {
      await rm(join(dir, name), { force: true });
    }
  }
}
