/**
 * Evaluates an existing index: leave-one-out over its products, and optionally outside query
 * photos and shoppers' photos. Results are judged by the label columns of the catalogue's schema.
 */

import type { KnnBackend } from '../compute/knn.js';
import type { EmbedderOptions } from '../embeddings/embedder.js';
import type { SimilarityFile, SimilarityKind } from '../similarity/model.js';
import type { SimilarityTuning } from '../similarity/open.js';
import { SPLIT_NAME } from '../similarity/split.js';
import { EvalIndex } from './eval-index.js';
import { type LeaveOneOutResult, leaveOneOut, leaveOneOutFigures } from './leave-one-out.js';
import { K } from './metrics.js';
import { evaluateQueries, type QueryEvaluation, selectQueryPhotos } from './queries.js';
import { evaluateStreet, type StreetEvaluation } from './street.js';
import type { EvalSummary } from './summary.js';

export type { EvalSummary } from './summary.js';

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
  const index = await EvalIndex.open(options.indexDir, {
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
      colourWithinKind: index.recommender.similarity.colourWithinKind,
      ...shopperHeadOf(index.recommender.similarity.learned?.file.shopperHead),
      split: SPLIT_NAME,
      date: new Date().toISOString(),
      labels: index.labels,
      leaveOneOut: leaveOneOutFigures(loo),
      ...(queries ? { queries: queryFigures(queries) } : {}),
      ...(street ? { street: streetFigures(street) } : {}),
    };
    return { summary, index, leaveOneOut: loo, queries, street };
  } catch (err) {
    await index.close();
    throw err;
  }
}

/** What a summary keeps of a query-photo evaluation: its figures, not its cases. */
function queryFigures({ cases: _cases, failed, ...figures }: QueryEvaluation): EvalSummary['queries'] {
  return { ...figures, failed: failed.length };
}

/** What a summary keeps of a street evaluation. */
function streetFigures(street: StreetEvaluation): EvalSummary['street'] {
  return {
    dir: street.dir,
    column: street.column,
    mapped: street.mapped,
    failed: street.failed.length,
    ...street.parts,
    perLabel: street.perLabel,
    seconds: street.seconds,
  };
}

function shopperHeadOf(head: SimilarityFile['shopperHead']): Pick<EvalSummary, 'shopperHead'> {
  return head ? { shopperHead: { source: head.source, part: head.part, photos: head.photos } } : {};
}
