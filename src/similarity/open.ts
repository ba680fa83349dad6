/** Opens the similarity an index folder is searched with, and its products' search vectors. */

import type { QueryPrep } from '../images/query-prep.js';
import type { SearchVectors } from '../index/hnsw.js';
import { type IndexData, IndexError, loadIndex } from '../index/store.js';
import { Similarity } from './composer.js';
import { recordedSimilarity } from './derive.js';
import { type FusionWeights, readColours, readSimilarity, type SimilarityKind } from './model.js';

/** Fusion weights and query preparation other than the model's own (to measure levers with eval). */
export interface SimilarityTuning {
  weights?: FusionWeights;
  shopperWeights?: FusionWeights;
  query?: QueryPrep;
  shopperQuery?: QueryPrep;
}

export interface OpenedSimilarity {
  similarity: Similarity;
  /** count x similarity.dim search vectors, row order, in a buffer of their own. */
  vectors: Float32Array;
  /** count x COLOUR_DIM (learned similarity only). */
  colours?: Float32Array;
}

/**
 * The index's similarity: its learned one when it has one (unless `choice` is 'original'), else
 * the original (visual vectors alone). Asking for 'learned' of an index without one is an error.
 */
export async function openSimilarity(
  dir: string,
  data: IndexData,
  choice?: SimilarityKind,
  tuning: SimilarityTuning = {},
): Promise<OpenedSimilarity> {
  const recorded = recordedSimilarity(data.manifest.similarity);
  const dim = data.manifest.dim;
  if (choice === 'learned' && recorded?.kind !== 'learned') {
    throw new IndexError(
      `the index at ${dir} has no learned similarity (make one: lookalike learn --index ${dir})`,
    );
  }
  if (choice === 'original' || recorded?.kind !== 'learned') {
    return { similarity: Similarity.original(dim), vectors: data.vectors };
  }
  const model = await readSimilarity(dir, recorded.id);
  if (!model)
    throw new IndexError(`the learned similarity ${recorded.id} of ${dir} is missing; run lookalike learn`);
  const colours = await readColours(dir, recorded.coloursFile, data.manifest.count);
  if (!colours)
    throw new IndexError(`${dir}/${recorded.coloursFile} is missing or damaged; run lookalike learn`);
  const file = {
    ...model.file,
    weights: tuning.weights ?? model.file.weights,
    shopperWeights: tuning.shopperWeights ?? model.file.shopperWeights,
    query: tuning.query ?? model.file.query,
    shopperQuery: tuning.shopperQuery ?? model.file.shopperQuery,
  };
  const similarity = Similarity.learned(dim, { ...model, file });
  return {
    similarity,
    vectors: await similarity.composeAll(
      data.vectors,
      colours,
      data.items.map((i) => i.metadata),
    ),
    colours,
  };
}

/** The search vectors of an index folder, for building its HNSW graph. */
export async function searchVectors(dir: string, choice?: SimilarityKind): Promise<SearchVectors> {
  const data = await loadIndex(dir);
  const { similarity, vectors } = await openSimilarity(dir, data, choice);
  return {
    vectors,
    dim: similarity.dim,
    similarity: similarity.learned ? similarity.learned.file.id : 'original',
  };
}
