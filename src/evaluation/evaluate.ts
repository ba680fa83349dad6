/** Evaluates an existing index: leave-one-out over its products, and optionally outside query photos. */

import { resolve } from 'node:path';
import type { EmbedderOptions, EmbeddingSpec } from '../embeddings/embedder.js';
import { isPostgresUrl } from '../index/postgres/connection.js';
import { EvalIndex } from './eval-index.js';
import type { KnnBackend } from './knn.js';
import { type LeaveOneOutResult, leaveOneOut } from './leave-one-out.js';
import { K, type Label, type MeanMetric } from './metrics.js';
import { evaluateQueries, type QueryEvaluation, selectQueryPhotos } from './queries.js';

/** The metrics of one evaluation, as printed with --json and stored by the sweep. */
export interface EvalSummary {
  index: string;
  products: number;
  distinctPhotos: number;
  spec: EmbeddingSpec;
  date: string;
  leaveOneOut: {
    k: number;
    products: number;
    fallbacks: number;
    seconds: number;
    precision: Record<Label, MeanMetric>;
  };
  queries?: {
    dir: string;
    inFolder: number;
    inIndex: number;
    used: number;
    failed: number;
    recallAt1: number | null;
    recallAt5: number | null;
    meanReciprocalRank: number | null;
    articleTypePrecision: MeanMetric;
    embedSeconds: number;
    searchSeconds: number;
  };
}

export interface Evaluation {
  summary: EvalSummary;
  index: EvalIndex;
  leaveOneOut: LeaveOneOutResult;
  queries?: QueryEvaluation;
}

export interface EvaluateOptions {
  indexDir: string;
  queriesDir?: string;
  /** At most this many query photos (default 1000). */
  maxQueries?: number;
  /** Chooses the query photos (and the report's random sample). */
  seed?: number;
  embedder?: Pick<EmbedderOptions, 'device' | 'batchSize' | 'threads'>;
  backend?: KnnBackend;
  onStage?: (stage: 'leave-one-out' | 'embedding' | 'done', detail?: string) => void;
  onProgress?: (stage: 'leave-one-out' | 'embedding', done: number, total: number) => void;
}

export const DEFAULT_MAX_QUERIES = 1000;

/** Runs the evaluation; the caller closes `evaluation.index` once done with it (e.g. after the report). */
export async function evaluate(options: EvaluateOptions): Promise<Evaluation> {
  const location = isPostgresUrl(options.indexDir) ? options.indexDir : resolve(options.indexDir);
  const index = await EvalIndex.open(location, {
    threads: options.embedder?.threads,
    backend: options.backend,
  });
  try {
    const seed = options.seed ?? 1;
    // Check the query folder before the long part.
    const selection = options.queriesDir
      ? await selectQueryPhotos(options.queriesDir, index, options.maxQueries ?? DEFAULT_MAX_QUERIES, seed)
      : undefined;
    options.onStage?.('leave-one-out', `${index.count} products`);
    const loo = await leaveOneOut(index, {
      k: K,
      onProgress: (done, total) => options.onProgress?.('leave-one-out', done, total),
    });
    let queries: QueryEvaluation | undefined;
    if (selection) {
      options.onStage?.('embedding', `${selection.photos.length} query photos`);
      queries = await evaluateQueries(index, selection, {
        embedder: options.embedder,
        onEmbedProgress: (done, total) => options.onProgress?.('embedding', done, total),
      });
    }
    options.onStage?.('done');
    const summary: EvalSummary = {
      index: index.dir,
      products: index.count,
      distinctPhotos: index.groups.length,
      spec: index.recommender.manifest.spec,
      date: new Date().toISOString(),
      leaveOneOut: {
        k: loo.k,
        products: loo.products,
        fallbacks: loo.fallbacks,
        seconds: loo.seconds,
        precision: loo.precision,
      },
      ...(queries
        ? {
            queries: {
              dir: queries.dir,
              inFolder: queries.inFolder,
              inIndex: queries.inIndex,
              used: queries.used,
              failed: queries.failed.length,
              recallAt1: queries.recallAt1,
              recallAt5: queries.recallAt5,
              meanReciprocalRank: queries.meanReciprocalRank,
              articleTypePrecision: queries.articleTypePrecision,
              embedSeconds: queries.embedSeconds,
              searchSeconds: queries.searchSeconds,
            },
          }
        : {}),
    };
    return { summary, index, leaveOneOut: loo, queries };
  } catch (err) {
    await index.close();
    throw err;
  }
}
