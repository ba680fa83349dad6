/** Evaluates an existing index: leave-one-out over its products, and optionally outside query photos. */

import { resolve } from 'node:path';
import type { EmbedderOptions, EmbeddingSpec } from '../embeddings/embedder.js';
import type { QueryPrep } from '../images/query-prep.js';
import { isPostgresUrl } from '../index/postgres/connection.js';
import type { FusionWeights, SimilarityKind } from '../similarity/model.js';
import type { SimilarityTuning } from '../similarity/open.js';
import { SPLIT_NAME } from '../similarity/split.js';
import { EvalIndex } from './eval-index.js';
import type { KnnBackend } from './knn.js';
import { type LeaveOneOutResult, leaveOneOut } from './leave-one-out.js';
import { K, type Label, type MeanMetric } from './metrics.js';
import { evaluateQueries, type QueryEvaluation, selectQueryPhotos } from './queries.js';
import { evaluateStreet, type StreetEvaluation, type StreetMetrics } from './street.js';

/** The metrics of one evaluation, as printed with --json and stored by the sweep. */
export interface EvalSummary {
  index: string;
  products: number;
  distinctPhotos: number;
  spec: EmbeddingSpec;
  /** The similarity searched with, its fused score's weights and how query photos were prepared. */
  similarity: SimilarityKind;
  weights: FusionWeights;
  shopperWeights: FusionWeights;
  queryPrep: QueryPrep;
  shopperQueryPrep: QueryPrep;
  /** The fixed product split: leave-one-out and query-photo figures are over held-out products. */
  split: string;
  date: string;
  leaveOneOut: {
    k: number;
    products: number;
    heldOut: number;
    fallbacks: number;
    seconds: number;
    /** Held-out products as queries, against the whole catalogue. */
    precision: Record<Label, MeanMetric>;
    /** Every product as a query (training side included). */
    precisionAll: Record<Label, MeanMetric>;
  };
  queries?: {
    dir: string;
    inFolder: number;
    inIndex: number;
    heldOut: number;
    used: number;
    failed: number;
    recallAt1: number | null;
    recallAt5: number | null;
    meanReciprocalRank: number | null;
    articleTypePrecision: MeanMetric;
    embedSeconds: number;
    searchSeconds: number;
  };
  street?: {
    dir: string;
    column: string;
    mapped: number;
    failed: number;
    tune: StreetMetrics;
    report: StreetMetrics;
    all: StreetMetrics;
    perLabel: ({ label: string } & StreetMetrics)[];
    seconds: number;
  };
}

export interface Evaluation {
  summary: EvalSummary;
  index: EvalIndex;
  leaveOneOut: LeaveOneOutResult;
  queries?: QueryEvaluation;
  street?: StreetEvaluation;
}

export interface EvaluateOptions {
  indexDir: string;
  queriesDir?: string;
  /** Shoppers' photos with class labels (see street.ts). */
  streetDir?: string;
  /** Which similarity to evaluate (default: the index's own). */
  similarity?: SimilarityKind;
  /** Other fusion weights or query preparation than the learned model's own. */
  tuning?: SimilarityTuning;
  /** Leave-one-out over held-out products only (5x faster; no figures over all products). */
  heldOutOnly?: boolean;
  /** At most this many query photos (default 1000). */
  maxQueries?: number;
  /** Chooses the query photos (and the report's random sample). */
  seed?: number;
  embedder?: Pick<EmbedderOptions, 'device' | 'batchSize' | 'threads'>;
  backend?: KnnBackend;
  onStage?: (stage: 'leave-one-out' | 'embedding' | 'street' | 'done', detail?: string) => void;
  onProgress?: (stage: 'leave-one-out' | 'embedding' | 'street', done: number, total: number) => void;
}

export const DEFAULT_MAX_QUERIES = 1000;

/** Runs the evaluation; the caller closes `evaluation.index` once done with it (e.g. after the report). */
export async function evaluate(options: EvaluateOptions): Promise<Evaluation> {
  const location = isPostgresUrl(options.indexDir) ? options.indexDir : resolve(options.indexDir);
  const index = await EvalIndex.open(location, {
    threads: options.embedder?.threads,
    backend: options.backend,
    similarity: options.similarity,
    tuning: options.tuning,
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
      heldOutOnly: options.heldOutOnly,
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
    let street: StreetEvaluation | undefined;
    if (options.streetDir) {
      options.onStage?.('street', options.streetDir);
      street = await evaluateStreet(index, options.streetDir, {
        embedder: options.embedder,
        onProgress: (done, total) => options.onProgress?.('street', done, total),
      });
    }
    options.onStage?.('done');
    const summary: EvalSummary = {
      index: index.dir,
      products: index.count,
      distinctPhotos: index.groups.length,
      spec: index.recommender.manifest.spec,
      similarity: index.recommender.manifest.similarity,
      weights: index.recommender.manifest.weights,
      shopperWeights: index.recommender.similarity.shopperWeights,
      queryPrep: index.recommender.similarity.queryPrep,
      shopperQueryPrep: index.recommender.similarity.shopperQueryPrep,
      split: SPLIT_NAME,
      date: new Date().toISOString(),
      leaveOneOut: {
        k: loo.k,
        products: loo.products,
        heldOut: loo.heldOut,
        fallbacks: loo.fallbacks,
        seconds: loo.seconds,
        precision: loo.precision,
        precisionAll: loo.precisionAll,
      },
      ...(queries
        ? {
            queries: {
              dir: queries.dir,
              inFolder: queries.inFolder,
              inIndex: queries.inIndex,
              heldOut: queries.heldOut,
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
      ...(street
        ? {
            street: {
              dir: street.dir,
              column: street.column,
              mapped: street.mapped,
              failed: street.failed.length,
              tune: street.parts.tune,
              report: street.parts.report,
              all: street.parts.all,
              perLabel: street.perLabel,
              seconds: street.seconds,
            },
          }
        : {}),
    };
    return { summary, index, leaveOneOut: loo, queries, street };
  } catch (err) {
    await index.close();
    throw err;
  }
}
