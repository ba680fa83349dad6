/**
 * The embedded index on disk, a plain file contract:
 *
 *   <dir>/manifest.json         what the index is: embedding spec, count, and which data files hold it
 *   <dir>/vectors-<gen>.f32     count x dim float32 little-endian, row i = items[i]
 *   <dir>/items-<gen>.json      [{id, file, hash, bytes, mtimeMs, metadata}], row order
 *   <dir>/skipped.json          photos the last run could not read, with the reason
 *
 * A commit writes a new generation's data files completely (and fsyncs them), then replaces
 * manifest.json by an atomic rename, then removes the previous generation. A kill at any moment
 * leaves the manifest pointing at a complete generation.
 */
import { existsSync } from 'node:fs';
import { open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import pLimit from 'p-limit';
import type { EmbeddingSpec } from '../embeddings/embedder.js';
import type { Metadata } from './catalogue.js';

export const INDEX_FORMAT = 'lookalike-index';
export const INDEX_VERSION = 1;

export interface IndexItem {
  id: string;
  /** Photo path relative to the manifest's imagesDir. */
  file: string;
  /** SHA-256 of the photo's bytes. */
  hash: string;
  bytes: number;
  mtimeMs: number;
  metadata: Metadata;
}

/**
 * What a layer built on top of the vectors (the similarity) records in the manifest. The index
 * itself only keeps the files it names alive and passes it through; see src/similarity.
 */
export interface DerivedSpec {
  kind: string;
  /** Data files of this layer that belong to the generation. */
  files?: string[];
  [key: string]: unknown;
}

/** A data file written with a generation, before its manifest. */
export interface ExtraFile {
  name: string;
  data: Uint8Array;
}

export interface IndexManifest {
  format: typeof INDEX_FORMAT;
  version: number;
  spec: EmbeddingSpec;
  dim: number;
  count: number;
  generation: number;
  vectorsFile: string;
  itemsFile: string;
  /** Absolute path of the catalogue's photos. */
  imagesDir: string;
  metadataPath?: string;
  createdAt: string;
  updatedAt: string;
  /** How many photos the last run skipped (see skipped.json). */
  skipped: number;
  /** The similarity the vectors are searched with (absent in indexes made before similarities). */
  similarity?: DerivedSpec;
}

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
  if (!existsSync(path)) return undefined;
  const manifest = JSON.parse(await readFile(path, 'utf8')) as IndexManifest;
  if (manifest.format !== INDEX_FORMAT) throw new IndexError(`${path} is not a lookalike index manifest`);
  if (manifest.version !== INDEX_VERSION) {
    throw new IndexError(
      `${dir}: index format version ${manifest.version} is not supported (expected ${INDEX_VERSION}); rebuild it`,
    );
  }
  return manifest;
}

export async function loadIndex(dir: string): Promise<IndexData> {
  const manifest = await readManifest(dir);
  if (!manifest) {
    throw new IndexError(`no index at ${dir} (build one with: lookalike index <images-dir> --out ${dir})`);
  }
  // The vectors stream straight into their own buffer on libuv's threads while the items parse here.
  const [vectors, items] = await Promise.all([
    readVectors(join(dir, manifest.vectorsFile), manifest.count * manifest.dim),
    readFile(join(dir, manifest.itemsFile), 'utf8').then((text) => JSON.parse(text) as IndexItem[]),
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

/** Writes a file whole or not at all: a temporary sibling, fsynced, then renamed into place. */
export async function writeDurably(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.tmp`;
  const handle = await open(tmp, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
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
  await writeDurably(
    join(dir, next.vectorsFile),
    new Uint8Array(vectors.buffer, vectors.byteOffset, vectors.byteLength),
  );
  await writeDurably(join(dir, next.itemsFile), JSON.stringify(items));
  for (const extra of extraFiles) await writeDurably(join(dir, extra.name), extra.data);
  await writeDurably(manifestPath(dir), `${JSON.stringify(next, null, 2)}\n`);
  await syncDir(dir);
  await removeStale(dir, next);
  return next;
}

/** The data files an index writes: of the vectors, and of the similarity layer on top of them. */
const DATA_FILE =
  /^(vectors-\d+\.f32|items-\d+\.json|colours-[0-9a-f]{16}\.f32|similarity-[0-9a-f]{16}\.json|projection-[0-9a-f]{16}\.f32)(\.tmp)?$/;

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
    if (DATA_FILE.test(name) || /\.tmp$/.test(name)) {
      await rm(join(dir, name), { force: true });
    }
  }
}
