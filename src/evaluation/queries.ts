/**
 * Evaluation with outside query photos of catalogue products (e.g. the same products photographed
 * at another resolution): is the product itself found (recall@1, recall@5, its rank), and do the
 * other results share its kind (the schema's kind column)?
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { IMAGE_EXTENSIONS, listPhotos } from '../catalogue/listing.js';
import type { EmbedderOptions } from '../embeddings/embedder.js';
import { isImageError } from '../images/errors.js';
import { isHeldOut } from '../similarity/split.js';
import { type EvalIndex, type Neighbour, NO_GROUP } from './eval-index.js';
import { K, Mean, meanReciprocalRank, precision, recallAt } from './metrics.js';
import { sampleIds } from './random.js';
import type { QueryFigures } from './summary.js';

export interface QueryPhoto {
  id: string;
  path: string;
  /** The product's row in the index. */
  row: number;
}

export interface QuerySelection {
  dir: string;
  /** Photos in the folder. */
  inFolder: number;
  /** Of those, photos named after a product of the index. */
  inIndex: number;
  /** Of those, photos of products on the held-out side of the split (the ones sampled from). */
  heldOut: number;
  /** The ones used (at most the cap, chosen with the seed). */
  photos: QueryPhoto[];
}

export class QueryError extends Error {}

/** The query photos of a folder whose product id is in the index: all, or `max` of them chosen with the seed. */
export async function selectQueryPhotos(
  dir: string,
  index: EvalIndex,
  max: number,
  seed: number,
): Promise<QuerySelection> {
  const folder = resolve(dir);
  if (!existsSync(folder)) throw new QueryError(`no such query folder: ${folder}`);
  const files = (await listPhotos(folder)).map((p) => ({ id: p.stem, file: p.file }));
  if (files.length === 0) {
    throw new QueryError(
      `no photos in the query folder ${folder} (looked for ${[...IMAGE_EXTENSIONS].join(' ')})`,
    );
  }
  const inIndex = files.filter((f) => index.rowById.has(f.id));
  // Only products on the held-out side: nothing was learned from them.
  const byId = new Map(
    inIndex
      .filter((f) => isHeldOut(index.item(index.rowById.get(f.id) as number).hash))
      .map((f) => [f.id, f]),
  );
  if (inIndex.length === 0) {
    throw new QueryError(
      `none of the ${files.length} photos in ${folder} is named after a product of the index at ${index.dir} ` +
        '(query photos must be named <product-id>.<ext>, e.g. 15970.jpg)',
    );
  }
  const photos = sampleIds([...byId.keys()], max, seed).map((id) => ({
    id,
    path: join(folder, byId.get(id)?.file as string),
    row: index.rowById.get(id) as number,
  }));
  return { dir: folder, inFolder: files.length, inIndex: inIndex.length, heldOut: byId.size, photos };
}

export interface QueryCase {
  id: string;
  path: string;
  row: number;
  /** 1-based rank of the product's photo among the distinct photos of the index. */
  rank: number;
  /** The 5 best results (the product itself among them where found). */
  results: Neighbour[];
  /** The 5 best results other than the product and its identical copies. */
  others: Neighbour[];
  /** Kind-column precision of `others` (undefined without a kind column or the product's kind). */
  precision?: number;
}

export interface QueryEvaluation extends Omit<QueryFigures, 'failed'> {
  failed: { id: string; path: string; reason: string }[];
  cases: QueryCase[];
}

export interface QueryEvalOptions {
  /** Device, batch size and threads; pooling, resize and channel order always come from the index. */
  embedder?: Pick<EmbedderOptions, 'device' | 'batchSize' | 'threads'>;
  onEmbedProgress?: (done: number, total: number) => void;
}

/** Queries whose product is not among the searched neighbours are searched again this many at a time, fully. */
const DEEP_BLOCK = 64;

export async function evaluateQueries(
  index: EvalIndex,
  selection: QuerySelection,
  options: QueryEvalOptions = {},
): Promise<QueryEvaluation> {
  const { dim } = index;
  let started = performance.now();
  // Through the recommender: prepared and fused exactly as a photo query of the app is.
  const embedded = await index.recommender.queryVectors(
    selection.photos.map((p) => p.path),
    options.embedder,
    options.onEmbedProgress,
  );
  const embedSeconds = (performance.now() - started) / 1000;
  started = performance.now();

  const failed: QueryEvaluation['failed'] = [];
  const photos: QueryPhoto[] = [];
  const vectors: Float32Array[] = [];
  selection.photos.forEach((photo, i) => {
    const result = embedded[i];
    if (isImageError(result)) failed.push({ id: photo.id, path: photo.path, reason: result.reason });
    else if (result) {
      photos.push(photo);
      vectors.push(result);
    }
  });
  const queries = new Float32Array(photos.length * dim);
  vectors.forEach((v, i) => {
    queries.set(index.searchVector(v), i * dim);
  });

  const found = await index.knn.search(queries, index.width(K) + index.maxGroup + 32);
  const cases: QueryCase[] = [];
  for (const [i, photo] of photos.entries()) {
    const own = index.groupOf[photo.row] as number;
    const all = index.collapse(found, i, Number.POSITIVE_INFINITY, NO_GROUP).neighbours;
    const vector = vectors[i] as Float32Array;
    const top = index.top(found, i, K, NO_GROUP, vector);
    const others = index.top(found, i, K, own, vector);
    const results = top.complete ? top.neighbours : await index.nearest(vector, K, NO_GROUP);
    // 0 until found: a product beyond the first neighbours is ranked by a full search below. Within
    // the first K, its rank among the results as ranked (colour within kind may move it, or out).
    const shown = results.findIndex((n) => index.groupOf[n.row] === own) + 1;
    const raw = all.findIndex((n) => index.groupOf[n.row] === own) + 1;
    cases.push({
      id: photo.id,
      path: photo.path,
      row: photo.row,
      rank: shown > 0 ? shown : raw > 0 && raw <= K ? K + 1 : raw,
      results,
      others: others.complete ? others.neighbours : await index.nearest(vector, K, own),
    });
  }

  // The exact rank of products not among the first neighbours: a full search of those queries.
  const deep = cases.flatMap((c, i) => (c.rank === 0 ? [i] : []));
  for (let start = 0; start < deep.length; start += DEEP_BLOCK) {
    const chunk = deep.slice(start, start + DEEP_BLOCK);
    const block = new Float32Array(chunk.length * dim);
    chunk.forEach((q, j) => {
      block.set(index.searchVector(vectors[q] as Float32Array), j * dim);
    });
    const full = await index.knn.search(block, index.count);
    chunk.forEach((q, j) => {
      const c = cases[q] as QueryCase;
      const own = index.groupOf[c.row] as number;
      const all = index.collapse(full, j, Number.POSITIVE_INFINITY, NO_GROUP).neighbours;
      c.rank = all.findIndex((n) => index.groupOf[n.row] === own) + 1;
    });
  }

  const mean = new Mean();
  const kind = index.labels.kind;
  if (kind !== null) {
    for (const c of cases) {
      c.precision = precision(
        index.item(c.row).metadata[kind],
        c.others.map((n) => index.item(n.row).metadata[kind]),
      );
      mean.add(c.precision);
    }
  }
  const allRanks = cases.map((c) => c.rank);
  return {
    dir: selection.dir,
    inFolder: selection.inFolder,
    inIndex: selection.inIndex,
    heldOut: selection.heldOut,
    used: cases.length,
    failed,
    recallAt1: recallAt(allRanks, 1),
    recallAt5: recallAt(allRanks, 5),
    meanReciprocalRank: meanReciprocalRank(allRanks),
    kindPrecision: mean.result,
    cases,
    embedSeconds,
    searchSeconds: (performance.now() - started) / 1000,
  };
}
