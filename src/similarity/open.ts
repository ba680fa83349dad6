/** Opens the similarity a store is searched with, and its products' search vectors. */

import type { QueryPrep } from '../images/query-prep.js';
import type { SearchSpace, StoreContents } from '../index/port.js';
import { IndexError, loadIndex } from '../index/store.js';
import { Similarity } from './composer.js';
import { recordedSimilarity } from './derive.js';
import { type FusionWeights, readColours, readSimilarity, type SimilarityKind } from './model.js';

/** Fusion weights and query preparation other than the model's own (to measure levers with eval). */
export interface SimilarityTuning {
  weights?: FusionWeights;
  shopperWeights?: FusionWeights;
  query?: QueryPrep;
  shopperQuery?: QueryPrep;
  /** With a shopper head: whether the runner-up kind of a shopper's photo gets a result. */
  runnerUp?: boolean;
  /** Whether the colour part re-ranks only within the kinds chosen without it. */
  colourWithinKind?: boolean;
}

export interface OpenedSimilarity {
  similarity: Similarity;
  /** The fused search vectors (learned similarity), or undefined: the stored vectors as they are. */
  space?: SearchSpace;
  /** count x COLOUR_DIM (learned similarity only). */
  colours?: Float32Array;
}

/**
 * The store's similarity: its learned one when it has one (unless `choice` is 'original'), else
 * the original (visual vectors alone). Asking for 'learned' of a store without one is an error.
 */
export async function openSimilarity(
  contents: StoreContents,
  choice?: SimilarityKind,
  tuning: SimilarityTuning = {},
): Promise<OpenedSimilarity> {
  const dir = contents.location;
  const recorded = recordedSimilarity(contents.derived);
  if (choice === 'learned' && recorded?.kind !== 'learned') {
    throw new IndexError(
      `the index at ${dir} has no learned similarity (make one: lookalike learn --index ${dir})`,
    );
  }
  if (choice === 'original' || recorded?.kind !== 'learned')
    return { similarity: Similarity.original(contents.dim) };
  const model = await readSimilarity(dir, recorded.id);
  if (!model)
    throw new IndexError(`the learned similarity ${recorded.id} of ${dir} is missing; run lookalike learn`);
  const colours = await readColours(dir, recorded.coloursFile, contents.items.length);
  if (!colours)
    throw new IndexError(`${dir}/${recorded.coloursFile} is missing or damaged; run lookalike learn`);
  const file = {
    ...model.file,
    weights: tuning.weights ?? model.file.weights,
    shopperWeights: tuning.shopperWeights ?? model.file.shopperWeights,
    query: tuning.query ?? model.file.query,
    shopperQuery: tuning.shopperQuery ?? model.file.shopperQuery,
    colourWithinKind: tuning.colourWithinKind ?? model.file.colourWithinKind,
    shopperHead: model.file.shopperHead && {
      ...model.file.shopperHead,
      runnerUp: tuning.runnerUp ?? model.file.shopperHead.runnerUp,
    },
  };
  const vectors = await contents.vectors();
  const similarity = Similarity.learned(contents.dim, { ...model, file });
  return {
    similarity,
    space: {
      vectors: await similarity.composeAll(
        vectors,
        colours,
        contents.items.map((i) => i.metadata),
      ),
      dim: similarity.dim,
      name: model.file.id,
    },
    colours,
  };
}

/** The search vectors of an index folder, for building its HNSW graph. */
export async function searchVectors(
  dir: string,
  choice?: SimilarityKind,
): Promise<{ vectors: Float32Array; dim: number; similarity: string }> {
  const data = await loadIndex(dir);
  const { space } = await openSimilarity(
    {
      location: dir,
      items: data.items,
      dim: data.manifest.dim,
      vectors: async () => data.vectors,
      derived: data.manifest.similarity,
    },
    choice,
  );
  return space
    ? { vectors: space.vectors, dim: space.dim, similarity: space.name }
    : { vectors: data.vectors, dim: data.manifest.dim, similarity: 'original' };
}
