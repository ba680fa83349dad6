/**
 * An indexing run over an index folder as the commands run it (index, learn, serve --catalogue):
 * the vectors, then the similarity layer, with one progress bar per stage on stderr.
 */
import type { EmbedderOptions } from '../../embeddings/embedder.js';
import type { QueryPrep } from '../../images/query-prep.js';
import { type BuildResult, buildIndex } from '../../index/builder.js';
import { readManifest } from '../../index/store.js';
import { log } from '../../log.js';
import { deriveSimilarity, recordedSimilarity } from '../../similarity/derive.js';
import type { TaskSpec } from '../../similarity/learn.js';
import type { FusionWeights, SimilarityKind } from '../../similarity/model.js';
import { stagedProgress } from './progress.js';

export interface FolderIndexOptions {
  imagesDir: string;
  outDir: string;
  metadataPath?: string;
  embedder: EmbedderOptions;
  rebuild?: boolean;
  /** Default: the index's own, or learned for a new index. */
  similarity?: SimilarityKind;
  relearn?: boolean;
  /** The similarity is changed on purpose (lookalike learn): the index's own does not bind. */
  switchSimilarity?: boolean;
  tasks?: TaskSpec[];
  weights?: FusionWeights;
  query?: QueryPrep;
  epochs?: number;
  checkpointEvery?: number;
  /** Log the plan even when nothing is to be embedded. */
  verbosePlan?: boolean;
}

const UNITS = { photos: 'photos', colours: 'photos (colour)', learning: 'epochs (learning)' } as const;

export async function runFolderIndex(options: FolderIndexOptions): Promise<BuildResult> {
  const existing = options.rebuild ? undefined : await readManifest(options.outDir);
  const recorded = recordedSimilarity(existing?.similarity);
  const kind: SimilarityKind | 'auto' = options.similarity ?? recorded?.kind ?? 'auto';
  const progress = stagedProgress();
  const update = (stage: keyof typeof UNITS, done: number, total: number) =>
    progress.update(stage, UNITS[stage], done, total);
  const stages: Record<string, number> = {};
  let stageStart = performance.now();
  let stageName = 'listing and embedding';
  const mark = (next: string) => {
    stages[stageName] = (stages[stageName] ?? 0) + (performance.now() - stageStart) / 1000;
    stageName = next;
    stageStart = performance.now();
  };
  try {
    const result = await buildIndex({
      imagesDir: options.imagesDir,
      outDir: options.outDir,
      metadataPath: options.metadataPath,
      embedder: options.embedder,
      rebuild: options.rebuild,
      checkpointEvery: options.checkpointEvery,
      derive: deriveSimilarity({
        kind,
        relearn: options.relearn,
        rebuild: options.rebuild || options.switchSimilarity,
        onNotice: (message) => log.warn(message),
        tasks: options.tasks,
        weights: options.weights,
        query: options.query,
        epochs: options.epochs,
        onStage: (stage, detail) => {
          progress.stop();
          mark(stage);
          log.info(`${stage === 'colours' ? 'colour descriptors' : 'learning the similarity'}: ${detail}`);
        },
        onProgress: (stage, done, total) => update(stage, done, total),
      }),
      onPlan: (p) => {
        if (options.verbosePlan || p.toEmbed > 0)
          log.info(
            `${p.total} photos: ${p.toEmbed} to embed, ${p.reused} already embedded, ${p.removed} gone from the folder`,
          );
      },
      onProgress: (done, total) => update('photos', done, total),
    });
    mark('done');
    const timings = Object.entries(stages)
      .filter(([, s]) => s >= 0.05)
      .map(([k, s]) => `${k} ${s.toFixed(1)} s`)
      .join(', ');
    if (timings) log.info(`stage times: ${timings}`);
    return result;
  } finally {
    progress.stop();
  }
}
