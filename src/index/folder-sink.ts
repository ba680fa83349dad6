/**
 * The index folder as an indexing run's sink: incremental (only new or changed photos are
 * embedded; products gone from the catalogue are dropped; identical photos are embedded once),
 * resumable (each claim's vectors are a checkpoint), crash-safe (a generation is committed
 * atomically) and tolerant of bad photos (skipped and reported in skipped.json).
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Skipped } from '../catalogue/catalogue.js';
import { describeSpec, type EmbeddingSpec, sameSpec } from '../embeddings/spec.js';
import { writeJsonDurably } from '../io/durable.js';
import { log } from '../log.js';
import { Checkpoint, clearCheckpoints } from './checkpoint.js';
import { type HeldLock, lockFolder } from './lock.js';
import type {
  IndexSink,
  Job,
  JobResult,
  KnownPhoto,
  PlannedCatalogue,
  PlanSummary,
  SinkSummary,
} from './pipeline.js';
import type { IndexItem } from './port.js';
import {
  commitIndex,
  type DerivedSpec,
  type ExtraFile,
  type IndexData,
  IndexError,
  type IndexManifest,
  inspectManifest,
  loadIndex,
  readManifest,
  tidyIndexFolder,
} from './store.js';

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

export interface FolderSinkOptions {
  /** Ignore the existing index and its checkpoints: embed everything again. */
  rebuild?: boolean;
  /** Other index folders whose vectors may be reused for identical photos (same spec only). */
  seedFrom?: string[];
  /** A layer computed from the new generation before it is committed (the similarity). */
  derive?: (input: DeriveInput) => Promise<Derived>;
  /**
   * Publish partial generations while the run goes on, so that a server searches what is embedded
   * so far: only where the folder holds no complete index yet (a complete one stays as it is until
   * the run commits). See PublishOptions.
   */
  publish?: PublishOptions;
}

export interface PublishOptions {
  /** Photos embedded before the first partial generation; the next ones each time the count doubles. */
  first: number;
  /** Told after each partial generation is committed (the server reloads). */
  onPublished?: (generation: number, count: number) => void;
}

export const INDEX_LOCK = { file: '.lock', what: 'indexing run', staleMs: 10_000 } as const;

export class FolderSink implements IndexSink {
  private lock?: HeldLock;
  /** Aborted when the run must stop: the indexing lock was lost to another run. */
  private readonly stop = new AbortController();
  private spec?: EmbeddingSpec;
  private existing?: IndexData;
  private checkpoint?: Checkpoint;
  /** Vectors by content hash: from the previous index, checkpoints and seeds, then this run. */
  private readonly vectors = new Map<string, Float32Array>();
  private catalogue?: PlannedCatalogue;
  private queue: Job[] = [];
  private readonly failed = new Map<string, { code: string; reason: string }>();
  private done = 0;
  private total = 0;
  /** Photos done at which the next partial generation is published. */
  private nextPublish = 0;
  /** Products in the last partial generation. */
  private published = 0;

  constructor(
    private readonly dir: string,
    private readonly options: FolderSinkOptions = {},
  ) {}

  get location(): string {
    return this.dir;
  }

  get signal(): AbortSignal {
    return this.stop.signal;
  }

  async begin(spec: EmbeddingSpec): Promise<Map<string, KnownPhoto>> {
    this.spec = spec;
    try {
      await mkdir(this.dir, { recursive: true });
    } catch (err) {
      throw new IndexError(`cannot make the index folder ${this.dir}: ${(err as Error).message}`);
    }
    this.lock = await lockFolder(this.dir, INDEX_LOCK);
    this.lock.signal.addEventListener('abort', () => this.stop.abort(this.lock?.signal.reason), {
      once: true,
    });
    // A damaged manifest stops a run, but not a --rebuild (which starts from scratch).
    const found = await inspectManifest(this.dir);
    if (found.damaged && !this.options.rebuild) throw found.damaged.error;
    await tidyIndexFolder(this.dir, found.manifest, found.damaged !== undefined);
    const manifest = this.options.rebuild ? undefined : found.manifest;
    if (manifest && !sameSpec(manifest.spec, spec)) {
      throw new IndexError(
        `the index at ${this.dir} was built with ${describeSpec(manifest.spec)}, not ${describeSpec(spec)}; ` +
          'pass --rebuild to re-embed everything with the new options, or choose another --out',
      );
    }
    this.existing = manifest ? await loadIndex(this.dir) : undefined;
    if (this.options.rebuild) await clearCheckpoints(this.dir);
    this.checkpoint = await Checkpoint.open(this.dir, spec);
    for (const [hash, v] of await this.checkpoint.load(spec.dim)) this.vectors.set(hash, v);
    const known = new Map<string, KnownPhoto>();
    if (this.existing) this.adopt(this.existing, known);
    for (const seedDir of this.options.seedFrom ?? []) {
      const seed = await readManifest(seedDir).catch(() => undefined);
      if (!seed || !sameSpec(seed.spec, spec) || resolve(seedDir) === this.dir) continue;
      // A seed only saves work: a damaged one is left out, with a word.
      const data = await loadIndex(seedDir).catch((err: unknown) => {
        if (!(err instanceof IndexError)) throw err;
        log.warn(`not reusing the vectors of ${seedDir}: ${err.message}`);
        return undefined;
      });
      if (data) this.adopt(data);
    }
    return known;
  }

  /** Takes the vectors of an index (the previous generation, or a seed) by content hash. */
  private adopt(data: IndexData, known?: Map<string, KnownPhoto>): void {
    const dim = data.manifest.dim;
    data.items.forEach((item, row) => {
      known?.set(item.id, item);
      if (!this.vectors.has(item.hash))
        this.vectors.set(item.hash, data.vectors.subarray(row * dim, (row + 1) * dim));
    });
  }

  async plan(catalogue: PlannedCatalogue): Promise<PlanSummary> {
    this.catalogue = catalogue;
    if (catalogue.products.length === 0 && catalogue.skipped.length === 0) {
      throw new IndexError(`no photos in ${catalogue.imagesDir}`);
    }
    const queued = new Set<string>();
    for (const p of catalogue.products) {
      if (this.vectors.has(p.hash) || queued.has(p.hash)) continue;
      queued.add(p.hash);
      this.queue.push({ hash: p.hash, id: p.id, file: p.file });
    }
    this.total = this.queue.length;
    this.nextPublish = this.options.publish?.first ?? 0;
    const current = new Set(catalogue.products.map((p) => p.id));
    return {
      total: catalogue.products.length,
      toEmbed: this.queue.length,
      reused: catalogue.products.filter((p) => this.vectors.has(p.hash)).length,
      removed: this.existing?.items.filter((i) => !current.has(i.id)).length ?? 0,
    };
  }

  async claim(max: number): Promise<Job[]> {
    return this.queue.splice(0, max);
  }

  async write(results: JobResult[]): Promise<void> {
    await this.lock?.assertHeld();
    const fresh: [string, Float32Array][] = [];
    for (const r of results) {
      if (r.vector) {
        this.vectors.set(r.job.hash, r.vector);
        fresh.push([r.job.hash, r.vector]);
      } else if (r.error) this.failed.set(r.job.hash, r.error);
    }
    await this.checkpoint?.save(fresh);
    this.done += results.length;
    if (this.publishing && this.done >= this.nextPublish && this.done < this.total) {
      await this.publishPartial();
      this.nextPublish = Math.max(this.done * 2, this.done + 1);
    }
  }

  /** Partial generations are published where no complete index would be replaced by one. */
  private get publishing(): boolean {
    return (
      this.options.publish !== undefined && (!this.existing || this.existing.manifest.building !== undefined)
    );
  }

  /** The catalogue's products that have vectors (in catalogue order), and those that could not be embedded. */
  private assemble(): { items: IndexItem[]; rows: Float32Array[]; skipped: Skipped[] } {
    const catalogue = this.catalogue as PlannedCatalogue;
    const skipped: Skipped[] = [...catalogue.skipped];
    const items: IndexItem[] = [];
    const rows: Float32Array[] = [];
    for (const p of catalogue.products) {
      const vector = this.vectors.get(p.hash);
      if (!vector) {
        const failure = this.failed.get(p.hash) ?? { code: 'unknown', reason: 'not embedded' };
        skipped.push({ id: p.id, file: p.file, ...failure });
        continue;
      }
      items.push({
        id: p.id,
        file: p.file,
        hash: p.hash,
        bytes: p.bytes,
        mtimeMs: p.mtimeMs,
        metadata: p.metadata,
      });
      rows.push(vector);
    }
    skipped.sort((a, b) => a.file.localeCompare(b.file) || a.id.localeCompare(b.id));
    return { items, rows, skipped };
  }

  /** Commits the products embedded so far as a partial generation, searched with the original similarity. */
  private async publishPartial(): Promise<void> {
    await this.lock?.assertHeld();
    const catalogue = this.catalogue as PlannedCatalogue;
    const spec = this.spec as EmbeddingSpec;
    const { items, rows } = this.assemble();
    if (items.length === 0 || items.length === this.published) return;
    const vectors = new Float32Array(items.length * spec.dim);
    rows.forEach((v, i) => {
      vectors.set(v, i * spec.dim);
    });
    const manifest = await this.commit(
      {
        createdAt: this.existing?.manifest.createdAt,
        skipped: 0,
        similarity: { kind: 'original' },
        building: { total: catalogue.products.length },
      },
      items,
      vectors,
    );
    this.published = items.length;
    log.info(
      `published ${items.length} of ${catalogue.products.length} products (generation ${manifest.generation})`,
    );
    this.options.publish?.onPublished?.(manifest.generation, items.length);
  }

  async progress(): Promise<{ done: number; total: number }> {
    return { done: this.done, total: this.total };
  }

  async finish(): Promise<SinkSummary> {
    await this.lock?.assertHeld();
    const catalogue = this.catalogue as PlannedCatalogue;
    const spec = this.spec as EmbeddingSpec;
    // Everything is searchable (original similarity) while the similarity is learned.
    if (this.publishing && this.options.derive && this.total > 0) await this.publishPartial();
    const { items, rows, skipped } = this.assemble();
    // A partial generation is never the previous index of a layer: the run's result replaces it.
    const existing = this.existing?.manifest.building ? undefined : this.existing;
    const sameData =
      existing !== undefined &&
      existing.manifest.imagesDir === catalogue.imagesDir &&
      existing.manifest.metadataPath === catalogue.metadataPath &&
      JSON.stringify(existing.manifest.schema) === JSON.stringify(catalogue.schema) &&
      existing.manifest.skipped === skipped.length &&
      JSON.stringify(existing.items) === JSON.stringify(items);
    // The same items in the same order have the same vectors: no need to assemble them again.
    let vectors: Float32Array;
    if (sameData && existing) vectors = existing.vectors;
    else {
      vectors = new Float32Array(items.length * spec.dim);
      rows.forEach((v, i) => {
        vectors.set(v, i * spec.dim);
      });
    }
    const derived = await this.options.derive?.({
      outDir: this.dir,
      imagesDir: catalogue.imagesDir,
      items,
      vectors,
      dim: spec.dim,
      previous: existing,
    });
    // Without a derive hook, a layer recorded with the index is kept while the data is the same.
    const kept = derived ? derived.spec : existing?.manifest.similarity;
    // An index made before checksums is committed again to record them (where this run may).
    const upgrade =
      existing !== undefined &&
      existing.manifest.checksums === undefined &&
      (derived !== undefined || kept === undefined || kept.kind === 'original');
    const unchanged = sameData && (derived?.unchanged ?? true) && !upgrade;
    if (!unchanged && !derived && kept && kept.kind !== 'original') {
      throw new IndexError(
        `the index at ${this.dir} has a ${kept.kind} similarity that this run cannot update; index it with lookalike index`,
      );
    }
    let manifest = existing?.manifest as IndexManifest;
    if (!unchanged) {
      manifest = await this.commit(
        {
          createdAt: existing?.manifest.createdAt,
          skipped: skipped.length,
          ...(kept ? { similarity: kept } : {}),
        },
        items,
        vectors,
        derived?.files,
      );
    }
    await this.lock?.assertHeld();
    await writeJsonDurably(join(this.dir, 'skipped.json'), skipped);
    await this.checkpoint?.discard();
    await this.unlock();
    const s = manifest.spec;
    return {
      kind: 'files',
      count: manifest.count,
      committed: !unchanged,
      skipped,
      description:
        `${s.pooling} pooling, ${s.resize}, ${s.channelOrder}, ` +
        `${manifest.similarity?.kind ?? 'original'} similarity, generation ${manifest.generation}`,
    };
  }

  /** Commits a generation of the catalogue planned by this run (the lock checked before the switch). */
  private commit(
    fields: Pick<IndexManifest, 'skipped' | 'similarity' | 'building'> & { createdAt?: string },
    items: IndexItem[],
    vectors: Float32Array,
    files: ExtraFile[] = [],
  ): Promise<IndexManifest> {
    const catalogue = this.catalogue as PlannedCatalogue;
    const spec = this.spec as EmbeddingSpec;
    const now = new Date().toISOString();
    return commitIndex(
      this.dir,
      {
        spec,
        dim: spec.dim,
        imagesDir: catalogue.imagesDir,
        ...(catalogue.metadataPath ? { metadataPath: catalogue.metadataPath } : {}),
        schema: catalogue.schema,
        ...fields,
        createdAt: fields.createdAt ?? now,
        updatedAt: now,
      },
      items,
      vectors,
      files,
      { rebuild: this.options.rebuild, beforeSwitch: () => this.lock?.assertHeld() ?? Promise.resolve() },
    );
  }

  async abort(): Promise<void> {
    await this.unlock();
  }

  private async unlock(): Promise<void> {
    const lock = this.lock;
    this.lock = undefined;
    await lock?.release();
  }
}
