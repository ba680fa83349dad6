/**
 * An indexing run as the commands run it (index, learn, serve --catalogue): the pipeline into
 * any store, then the similarity layer (index folders), with one progress bar per stage on
 * stderr and the per-stage timings at the end.
 */
import type { SchemaOverrides } from '../../catalogue/schema.js';
import { describeSchema } from '../../catalogue/schema.js';
import type { EmbedderOptions } from '../../embeddings/embedder.js';
import type { QueryPrep } from '../../images/query-prep.js';
import type { PublishOptions } from '../../index/folder-sink.js';
import { openWriter } from '../../index/location/open.js';
import { describeTimings, type IndexingResult, runIndexing } from '../../index/pipeline.js';
import { readManifest } from '../../index/store.js';
import { log } from '../../log.js';
import { deriveSimilarity, recordedSimilarity } from '../../similarity/derive.js';
import type { TaskSpec } from '../../similarity/learn.js';
import type { FusionWeights, SimilarityKind } from '../../similarity/model.js';
import { similarityProgress, stagedProgress } from './progress.js';
import { shopperExamples } from './shopper-examples.js';

export interface IndexRunOptions {
  imagesDir: string;
  /** An index folder or a postgres:// URL. */
  location: string;
  metadataPath?: string;
  schema?: SchemaOverrides;
  embedder: EmbedderOptions;
  rebuild?: boolean;
  /** Default: the index's own, or learned for a new index folder. */
  similarity?: SimilarityKind;
  relearn?: boolean;
  /** The similarity is changed on purpose (lookalike learn): the index's own does not bind. */
  switchSimilarity?: boolean;
  tasks?: TaskSpec[];
  weights?: FusionWeights;
  query?: QueryPrep;
  epochs?: number;
  /** Labelled shoppers' photos to learn the shopper head from, when a similarity is learned. */
  shopperPhotos?: string;
  /** Photos per checkpoint (index folder) or per transaction (PostgreSQL). */
  claimSize?: number;
  /** Log the plan even when nothing is to be embedded. */
  verbosePlan?: boolean;
  /** Publish partial generations while embedding (serve while it indexes; index folders). */
  publish?: PublishOptions;
  /** Stops the run between batches. */
  signal?: AbortSignal;
  /** Prepare the model while the catalogue is planned (pipeline.ts). */
  eagerModel?: boolean;
  /** Told of each stage's progress, besides the progress bar. */
  onProgress?: (stage: 'photos' | 'colours' | 'learning', done: number, total: number) => void;
}

export async function runIndex(options: IndexRunOptions): Promise<IndexingResult> {
  // (A PostgreSQL URL has no manifest file: readManifest finds none and the kind stays 'auto'.)
  const found = options.rebuild ? undefined : await readManifest(options.location).catch(() => undefined);
  // A partial generation (published while a run went on) binds no similarity: the run decides.
  const existing = found?.building ? undefined : found;
  const kind: SimilarityKind | 'auto' =
    options.similarity ?? recordedSimilarity(existing?.similarity)?.kind ?? 'auto';
  const progress = stagedProgress();
  try {
    const result = await runIndexing({
      source: {
        imagesDir: options.imagesDir,
        metadataPath: options.metadataPath,
        overrides: options.schema,
      },
      embedder: options.embedder,
      claimSize: options.claimSize,
      signal: options.signal,
      eagerModel: options.eagerModel,
      sink: openWriter(options.location, {
        rebuild: options.rebuild,
        publish: options.publish,
        requireDerived: options.similarity === 'learned' || options.relearn,
        derive: deriveSimilarity({
          kind,
          relearn: options.relearn,
          rebuild: options.rebuild || options.switchSimilarity,
          onNotice: (message) => log.warn(message),
          tasks: options.tasks,
          weights: options.weights,
          query: options.query,
          epochs: options.epochs,
          shopper: shopperExamples(options.shopperPhotos, options.embedder),
          ...similarityProgress(progress, (message) => log.info(message), options.onProgress),
        }),
      }),
      onPlan: (p) => {
        log.info(`catalogue schema (${p.schemaSource}): ${describeSchema(p.schema)}`);
        if (options.verbosePlan || p.toEmbed > 0)
          log.info(
            `${p.total} products: ${p.toEmbed} photos to embed, ${p.reused} already embedded, ${p.removed} gone from the catalogue`,
          );
      },
      onProgress: (done, total, timings) => {
        progress.update('photos', 'photos', done, total, describeTimings(timings));
        options.onProgress?.('photos', done, total);
      },
    });
    progress.close();
    const timings = describeTimings(result.timings);
    if (timings) log.info(`stage times: ${timings}`);
    return result;
  } finally {
    // Every way out stops the display (its timer would keep the process alive).
    progress.close();
  }
}
