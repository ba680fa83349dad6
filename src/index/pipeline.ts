/**
 * One indexing pipeline for every store: plan (list the catalogue, read its metadata under its
 * schema, hash the photos unless their size and time are unchanged, one embedding per distinct
 * content), then embed, then write to a sink: an index folder (with checkpoints) or PostgreSQL
 * (with claimed jobs, shared by any number of workers). As clip-retrieval's runner composes a
 * reader, a mapper and a writer, the same code runs on one machine or many; each stage is timed.
 */
import { join, resolve } from 'node:path';
import pLimit from 'p-limit';
import {
  type CatalogueProduct,
  type CatalogueSource,
  readCatalogue,
  type Skipped,
} from '../catalogue/catalogue.js';
import { hashFile } from '../catalogue/listing.js';
import type { CatalogueSchema } from '../catalogue/schema.js';
import { Embedder, type EmbedderOptions, embeddingSpec } from '../embeddings/embedder.js';
import type { EmbeddingSpec } from '../embeddings/spec.js';
import { isImageError } from '../images/errors.js';
import type { StoreKind } from './port.js';

/** What a store holds of a product already (to skip hashing unchanged photos). */
export interface KnownPhoto {
  file: string;
  bytes: number;
  mtimeMs: number;
  hash: string;
}

export interface PlannedProduct extends CatalogueProduct {
  hash: string;
}

export interface PlannedCatalogue {
  imagesDir: string;
  metadataPath?: string;
  schema: CatalogueSchema;
  products: PlannedProduct[];
  /** Left out while planning (no photo, unreadable photo, duplicate id). */
  skipped: Skipped[];
}

/** A photo to embed: one per distinct content. */
export interface Job {
  hash: string;
  id: string;
  file: string;
}

export interface JobResult {
  job: Job;
  vector?: Float32Array;
  error?: { code: string; reason: string };
}

export interface PlanSummary {
  /** Products in the catalogue. */
  total: number;
  /** Photos waiting to be embedded (by any worker). */
  toEmbed: number;
  /** Products whose vector the store already holds. */
  reused: number;
  /** Products in the store that are gone from the catalogue. */
  removed: number;
}

export interface SinkSummary {
  kind: StoreKind;
  /** Products the store holds now. */
  count: number;
  /** False when nothing changed and the store was left as it was. */
  committed: boolean;
  /** Everything left out, planning and embedding, sorted by file. */
  skipped: Skipped[];
  /** What the store is now, in a few words (for the CLI's summary line). */
  description: string;
}

/**
 * The write side of a store: an indexing run's sink. Calls come in this order: begin, plan, then
 * claim and write until claim gives nothing, then finish (or abort after an error).
 */
export interface IndexSink {
  /** Where, for messages. */
  readonly location: string;
  /**
   * Aborted when the run must stop at once (an index folder's lock was lost to another run): the
   * pipeline stops embedding and throws its reason.
   */
  readonly signal?: AbortSignal;
  /** Takes the store for the run and checks the spec; what it already holds, by product id. */
  begin(spec: EmbeddingSpec): Promise<Map<string, KnownPhoto>>;
  /** Records what the catalogue now is; says how much there is to embed. */
  plan(catalogue: PlannedCatalogue): Promise<PlanSummary>;
  /** The next photos to embed, at most `max`; none once all the work is done (by anyone). */
  claim(max: number): Promise<Job[]>;
  /** Stores the results of the last claim durably. */
  write(results: JobResult[]): Promise<void>;
  /** The whole run's progress (all workers): photos finished and in all. */
  progress(): Promise<{ done: number; total: number }>;
  /** Makes the run's work visible (commits the generation, builds the graph). */
  finish(): Promise<SinkSummary>;
  /** Ends the run after an error: gives back claimed work, releases the store. */
  abort(): Promise<void>;
}

/** Seconds spent per stage (decode and inference overlap: the next batch decodes during inference). */
export interface StageTimings {
  plan: number;
  decode: number;
  inference: number;
  write: number;
  finish: number;
}

export interface IndexingOptions {
  /** Where the vectors go: an index folder or PostgreSQL (location/open.ts: openWriter). */
  sink: IndexSink;
  source: CatalogueSource;
  embedder?: EmbedderOptions;
  /** Photos per claim: a checkpoint of an index folder, a transaction with PostgreSQL. */
  claimSize?: number;
  /** Stops the run between batches (what is written so far stays as checkpoints). */
  signal?: AbortSignal;
  /**
   * Prepare the model (fetch, convert, load) while the catalogue is planned, rather than once
   * there is something to embed: the first photos are embedded sooner, at the cost of loading a
   * model that a run with nothing to embed does not need.
   */
  eagerModel?: boolean;
  onPlan?: (plan: PlanSummary & { schema: CatalogueSchema; schemaSource: string }) => void;
  onProgress?: (done: number, total: number, timings: StageTimings) => void;
}

export interface IndexingResult extends SinkSummary {
  location: string;
  schema: CatalogueSchema;
  total: number;
  /** Distinct photos this run embedded. */
  embedded: number;
  reused: number;
  removed: number;
  seconds: number;
  timings: StageTimings;
}

/** Hashes of the catalogue's photos: the store's where size, time and path are unchanged, else read. */
async function planCatalogue(
  products: CatalogueProduct[],
  imagesDir: string,
  known: Map<string, KnownPhoto>,
  skipped: Skipped[],
): Promise<PlannedProduct[]> {
  const limit = pLimit(16);
  const planned = await Promise.all(
    products.map((p) =>
      limit(async (): Promise<PlannedProduct | undefined> => {
        const k = known.get(p.id);
        if (k && k.file === p.file && k.bytes === p.bytes && k.mtimeMs === p.mtimeMs)
          return { ...p, hash: k.hash };
        try {
          return { ...p, hash: await hashFile(join(imagesDir, p.file)) };
        } catch (err) {
          skipped.push({ id: p.id, file: p.file, code: 'unreadable', reason: (err as Error).message });
          return undefined;
        }
      }),
    ),
  );
  return planned.filter((p): p is PlannedProduct => p !== undefined);
}

export async function runIndexing(options: IndexingOptions): Promise<IndexingResult> {
  const started = performance.now();
  const timings: StageTimings = { plan: 0, decode: 0, inference: 0, write: 0, finish: 0 };
  const lap = (stage: keyof StageTimings, since: number) => {
    timings[stage] += (performance.now() - since) / 1000;
    return performance.now();
  };
  const imagesDir = resolve(options.source.imagesDir);
  const metadataPath = options.source.metadataPath ? resolve(options.source.metadataPath) : undefined;
  const sink = options.sink;
  let embedder: Embedder | undefined;
  let early: Promise<Embedder> | undefined;
  try {
    if (options.eagerModel) {
      early = Embedder.create(options.embedder);
      // (Awaited below; a failure surfaces there, not as an unhandled rejection.)
      early.catch(() => undefined);
    }
    let t = performance.now();
    const known = await sink.begin(embeddingSpec(options.embedder));
    const catalogue = await readCatalogue({ ...options.source, imagesDir, metadataPath });
    const skipped = [...catalogue.skipped];
    const products = await planCatalogue(catalogue.products, imagesDir, known, skipped);
    const plan = await sink.plan({ imagesDir, metadataPath, schema: catalogue.schema, products, skipped });
    t = lap('plan', t);
    options.onPlan?.({ ...plan, schema: catalogue.schema, schemaSource: catalogue.schemaSource });

    let embedded = 0;
    for (;;) {
      sink.signal?.throwIfAborted();
      options.signal?.throwIfAborted();
      const jobs = await sink.claim(options.claimSize ?? 512);
      if (jobs.length === 0) break;
      if (!embedder) {
        embedder = await (early ?? Embedder.create(options.embedder));
        early = undefined;
      }
      const results: JobResult[] = [];
      const before = embedder.timings();
      for await (const batch of embedder.embedBatches(jobs.map((j) => join(imagesDir, j.file)))) {
        sink.signal?.throwIfAborted();
        options.signal?.throwIfAborted();
        for (const r of batch) {
          const job = jobs[results.length] as Job;
          results.push(
            isImageError(r) ? { job, error: { code: r.code, reason: r.message } } : { job, vector: r },
          );
        }
      }
      const after = embedder.timings();
      timings.decode += (after.decodeMs - before.decodeMs) / 1000;
      timings.inference += (after.inferenceMs - before.inferenceMs) / 1000;
      t = performance.now();
      await sink.write(results);
      t = lap('write', t);
      embedded += results.filter((r) => r.vector).length;
      const progress = await sink.progress();
      options.onProgress?.(progress.done, progress.total, timings);
    }
    await embedder?.close();
    embedder = undefined;
    sink.signal?.throwIfAborted();
    t = performance.now();
    const summary = await sink.finish();
    lap('finish', t);
    return {
      ...summary,
      location: sink.location,
      schema: catalogue.schema,
      total: plan.total,
      embedded,
      reused: plan.reused,
      removed: plan.removed,
      seconds: (performance.now() - started) / 1000,
      timings,
    };
  } catch (err) {
    await sink.abort().catch(() => undefined);
    throw err;
  } finally {
    await embedder?.close();
    // A model prepared early that had nothing to embed.
    if (early) await early.then((e) => e.close()).catch(() => undefined);
  }
}

/** "plan 1.2 s, decode 3.4 s, ..." (stages under 0.05 s left out). */
export function describeTimings(timings: StageTimings): string {
  return Object.entries(timings)
    .filter(([, s]) => s >= 0.05)
    .map(([stage, s]) => `${stage} ${s.toFixed(1)} s`)
    .join(', ');
}
