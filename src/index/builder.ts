/**
 * An indexing run: photos of a catalogue folder in, a committed index out. Incremental (only new
 * or changed photos are embedded; photos that are gone are dropped; identical photos are embedded
 * once), resumable (checkpoints), crash-safe (atomic commit) and tolerant of bad photos (skipped
 * and reported).
 */
import { existsSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import pLimit from 'p-limit';
import {
  describeSpec,
  Embedder,
  type EmbedderOptions,
  type EmbeddingSpec,
  embeddingSpec,
  sameSpec,
} from '../embeddings/embedder.js';
import { isImageError } from '../images/errors.js';
import { type CatalogueFile, hashFile, IMAGE_EXTENSIONS, listCatalogue, readMetadata } from './catalogue.js';
import { Checkpoint, workDir } from './checkpoint.js';
import { lockFolder } from './lock.js';
import {
  commitIndex,
  type DerivedSpec,
  type ExtraFile,
  type IndexData,
  IndexError,
  type IndexItem,
  type IndexManifest,
  loadIndex,
  readManifest,
  removeStale,
} from './store.js';

export interface BuildOptions {
  imagesDir: string;
  outDir: string;
  metadataPath?: string;
  embedder?: EmbedderOptions;
  /** Ignore the existing index and its checkpoints: embed everything again. */
  rebuild?: boolean;
  /** Index only these product ids (a subset of the folder). */
  ids?: ReadonlySet<string>;
  /**
   * Other indexes whose vectors may be reused for identical photos (matched by content hash),
   * where they were made with the same embedding spec; others are ignored.
   */
  seedFrom?: string[];
  /** Photos embedded between checkpoints (default 512). */
  checkpointEvery?: number;
  /** Called as photos are embedded. */
  onProgress?: (done: number, total: number) => void;
  /** Called once the plan is known. */
  onPlan?: (plan: { total: number; toEmbed: number; reused: number; removed: number }) => void;
  /**
   * A layer computed from the new generation before it is committed (the similarity): what it
   * records in the manifest and the files it adds to the generation.
   */
  derive?: (input: DeriveInput) => Promise<Derived>;
}

export interface DeriveInput {
  outDir: string;
  imagesDir: string;
  items: IndexItem[];
  /** count x dim, row order. */
  vectors: Float32Array;
  dim: number;
  /** The index as it was before this run, if any (and not --rebuild). */
  previous?: IndexData;
}

export interface Derived {
  spec: DerivedSpec;
  files: ExtraFile[];
  /** True when the layer is exactly as the previous generation has it. */
  unchanged: boolean;
}

export interface SkippedImage {
  id: string;
  file: string;
  code: string;
  reason: string;
}

export interface BuildResult {
  manifest: IndexManifest;
  /** Photos in the folder (after the id filter). */
  total: number;
  /** Distinct photos embedded by this run. */
  embedded: number;
  /** Photos whose vector came from the previous index or a checkpoint. */
  reused: number;
  /** Products in the previous index that are gone from the folder. */
  removed: number;
  skipped: SkippedImage[];
  /** False when nothing changed and the index was left as it was. */
  committed: boolean;
  seconds: number;
}

async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const tmp = `${path}.tmp`;
  const handle = await open(tmp, 'w');
  try {
    await handle.writeFile(`${JSON.stringify(value, null, 2)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
}

/** Content hashes of the files: from the previous index where size and mtime are unchanged, else read. */
async function resolveHashes(
  files: CatalogueFile[],
  imagesDir: string,
  previous: Map<string, IndexItem>,
  skipped: SkippedImage[],
): Promise<Map<string, string>> {
  const hashes = new Map<string, string>();
  const limit = pLimit(16);
  await Promise.all(
    files.map((f) =>
      limit(async () => {
        const prev = previous.get(f.id);
        if (prev && prev.file === f.file && prev.bytes === f.bytes && prev.mtimeMs === f.mtimeMs) {
          hashes.set(f.id, prev.hash);
          return;
        }
        try {
          hashes.set(f.id, await hashFile(join(imagesDir, f.file)));
        } catch (err) {
          skipped.push({ id: f.id, file: f.file, code: 'unreadable', reason: (err as Error).message });
        }
      }),
    ),
  );
  return hashes;
}

/**
 * Commits the index's current vectors again as a new generation with its derived layer made anew
 * (lookalike learn): the photos are neither listed nor embedded.
 */
export async function rederiveIndex(
  dir: string,
  derive: (input: DeriveInput) => Promise<Derived>,
): Promise<IndexManifest> {
  const outDir = resolve(dir);
  const release = await lockFolder(outDir, { file: '.lock', what: 'indexing run', staleMs: 10_000 });
  try {
    const data = await loadIndex(outDir);
    const { manifest, items, vectors } = data;
    const derived = await derive({
      outDir,
      imagesDir: manifest.imagesDir,
      items,
      vectors,
      dim: manifest.dim,
      previous: data,
    });
    if (derived.unchanged) return manifest;
    const { format, version, generation, vectorsFile, itemsFile, count, ...rest } = manifest;
    return await commitIndex(
      outDir,
      { ...rest, updatedAt: new Date().toISOString(), similarity: derived.spec },
      items,
      vectors,
      derived.files,
    );
  } finally {
    await release();
  }
}

export async function buildIndex(options: BuildOptions): Promise<BuildResult> {
  const started = performance.now();
  const imagesDir = resolve(options.imagesDir);
  const outDir = resolve(options.outDir);
  const metadataPath = options.metadataPath ? resolve(options.metadataPath) : undefined;
  if (!existsSync(imagesDir)) throw new IndexError(`no such folder: ${imagesDir}`);
  await mkdir(outDir, { recursive: true });
  const release = await lockFolder(outDir, { file: '.lock', what: 'indexing run', staleMs: 10_000 });
  try {
    const spec: EmbeddingSpec = embeddingSpec(options.embedder);
    const manifest = options.rebuild ? undefined : await readManifest(outDir);
    if (manifest && !sameSpec(manifest.spec, spec)) {
      throw new IndexError(
        `the index at ${outDir} was built with ${describeSpec(manifest.spec)}, not ${describeSpec(spec)}; ` +
          'pass --rebuild to re-embed everything with the new options, or choose another --out',
      );
    }
    await removeStale(outDir, manifest);
    const existing: IndexData | undefined = manifest ? await loadIndex(outDir) : undefined;

    if (options.rebuild) await rm(workDir(outDir), { recursive: true, force: true });
    const checkpoint = await Checkpoint.open(outDir, spec);
    const vectors = await checkpoint.load(spec.dim);
    const previous = new Map<string, IndexItem>();
    existing?.items.forEach((item, row) => {
      previous.set(item.id, item);
      if (!vectors.has(item.hash))
        vectors.set(item.hash, existing.vectors.subarray(row * spec.dim, (row + 1) * spec.dim));
    });

    for (const dir of options.seedFrom ?? []) {
      const seedManifest = await readManifest(dir).catch(() => undefined);
      if (!seedManifest || !sameSpec(seedManifest.spec, spec) || resolve(dir) === outDir) continue;
      const seed = await loadIndex(dir);
      seed.items.forEach((item, row) => {
        if (!vectors.has(item.hash))
          vectors.set(item.hash, seed.vectors.subarray(row * spec.dim, (row + 1) * spec.dim));
      });
    }

    const files = (await listCatalogue(imagesDir)).filter((f) => !options.ids || options.ids.has(f.id));
    if (files.length === 0)
      throw new IndexError(`no photos in ${imagesDir} (looked for ${[...IMAGE_EXTENSIONS].join(' ')})`);
    const metadata = metadataPath ? await readMetadata(metadataPath) : new Map();
    const skipped: SkippedImage[] = [];
    const hashes = await resolveHashes(files, imagesDir, previous, skipped);

    // One embedding per distinct content.
    const toEmbed = new Map<string, CatalogueFile>();
    for (const f of files) {
      const hash = hashes.get(f.id);
      if (hash && !vectors.has(hash) && !toEmbed.has(hash)) toEmbed.set(hash, f);
    }
    const current = new Set(files.map((f) => f.id));
    const removed = existing ? existing.items.filter((i) => !current.has(i.id)).length : 0;
    const reused = files.filter((f) => {
      const h = hashes.get(f.id);
      return h !== undefined && !toEmbed.has(h) && vectors.has(h);
    }).length;
    options.onPlan?.({ total: files.length, toEmbed: toEmbed.size, reused, removed });

    const failedHashes = new Map<string, SkippedImage>();
    if (toEmbed.size > 0) {
      const embedder = await Embedder.create(options.embedder);
      try {
        const jobs = [...toEmbed.entries()];
        const every = options.checkpointEvery ?? 512;
        let pending: [string, Float32Array][] = [];
        let done = 0;
        for await (const batch of embedder.embedBatches(jobs.map(([, f]) => join(imagesDir, f.file)))) {
          for (const result of batch) {
            const [hash, file] = jobs[done++] as [string, CatalogueFile];
            if (isImageError(result)) {
              failedHashes.set(hash, {
                id: file.id,
                file: file.file,
                code: result.code,
                reason: result.message,
              });
            } else {
              vectors.set(hash, result);
              pending.push([hash, result]);
            }
          }
          if (pending.length >= every) {
            await checkpoint.save(pending);
            pending = [];
          }
          options.onProgress?.(done, jobs.length);
        }
        await checkpoint.save(pending);
      } finally {
        await embedder.close();
      }
    }

    const items: IndexItem[] = [];
    const rows: Float32Array[] = [];
    for (const f of files) {
      const hash = hashes.get(f.id);
      if (!hash) continue; // unreadable, already in skipped
      const vector = vectors.get(hash);
      if (!vector) {
        const failure = failedHashes.get(hash);
        skipped.push({
          id: f.id,
          file: f.file,
          code: failure?.code ?? 'unknown',
          reason: failure?.reason ?? 'not embedded',
        });
        continue;
      }
      items.push({
        id: f.id,
        file: f.file,
        hash,
        bytes: f.bytes,
        mtimeMs: f.mtimeMs,
        metadata: metadata.get(f.id) ?? {},
      });
      rows.push(vector);
    }
    skipped.sort((a, b) => a.file.localeCompare(b.file));

    const sameData =
      existing !== undefined &&
      existing.manifest.imagesDir === imagesDir &&
      existing.manifest.metadataPath === metadataPath &&
      existing.manifest.skipped === skipped.length &&
      JSON.stringify(existing.items) === JSON.stringify(items);
    // The same items in the same order have the same vectors: no need to assemble them again.
    let all: Float32Array;
    if (sameData && existing) all = existing.vectors;
    else {
      all = new Float32Array(items.length * spec.dim);
      rows.forEach((v, i) => {
        all.set(v, i * spec.dim);
      });
    }
    const derived = options.derive
      ? await options.derive({ outDir, imagesDir, items, vectors: all, dim: spec.dim, previous: existing })
      : undefined;
    const unchanged =
      sameData && (derived?.unchanged ?? (existing as IndexData).manifest.similarity === undefined);
    let result = existing?.manifest as IndexManifest;
    if (!unchanged) {
      const now = new Date().toISOString();
      result = await commitIndex(
        outDir,
        {
          spec,
          dim: spec.dim,
          imagesDir,
          ...(metadataPath ? { metadataPath } : {}),
          createdAt: existing?.manifest.createdAt ?? now,
          updatedAt: now,
          skipped: skipped.length,
          ...(derived ? { similarity: derived.spec } : {}),
        },
        items,
        all,
        derived?.files,
      );
    }
    await writeJsonAtomic(join(outDir, 'skipped.json'), skipped);
    await checkpoint.discard();
    return {
      manifest: result,
      total: files.length,
      embedded: toEmbed.size - failedHashes.size,
      reused,
      removed,
      skipped,
      committed: !unchanged,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await release();
  }
}
