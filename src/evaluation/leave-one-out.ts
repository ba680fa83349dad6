/**
 * Leave-one-out over a whole index: every product is a query against the rest, as "more like this"
 * would answer it (its own photo and identical copies excluded, identical photos collapsed), and
 * its 5 results are judged by label agreement. Products sharing a photo share their results, so
 * one search per distinct photo, all of them batched.
 */
import type { EvalIndex, Neighbour } from './eval-index.js';
import {
  K,
  LABELS,
  type Label,
  type LabelPrecision,
  labelPrecision,
  Mean,
  type MeanMetric,
} from './metrics.js';

export interface LooCase {
  row: number;
  results: Neighbour[];
  precision: LabelPrecision;
}

export interface LeaveOneOutResult {
  k: number;
  /** Products evaluated (every product of the index). */
  products: number;
  /** Distinct photos searched. */
  searched: number;
  /** Queries whose batched neighbours ran short and went through Recommender.nearest. */
  fallbacks: number;
  precision: Record<Label, MeanMetric>;
  cases: LooCase[];
  seconds: number;
}

export interface LeaveOneOutOptions {
  k?: number;
  /** Extra neighbours fetched to survive exclusions and collapsing (default 16). */
  margin?: number;
  onProgress?: (done: number, total: number) => void;
}

export async function leaveOneOut(
  index: EvalIndex,
  options: LeaveOneOutOptions = {},
): Promise<LeaveOneOutResult> {
  const started = performance.now();
  const k = options.k ?? K;
  const { dim, groups } = index;
  const searchK = Math.min(index.count, k + index.maxGroup + (options.margin ?? 16));
  const found = await index.knn.search(
    {
      count: groups.length,
      read: (start, size) => {
        const block = new Float32Array(size * dim);
        for (let i = 0; i < size; i++) {
          const row = (groups[start + i] as number[])[0] as number;
          block.set(index.vectors.subarray(row * dim, (row + 1) * dim), i * dim);
        }
        return block;
      },
    },
    searchK,
    options.onProgress,
  );
  let fallbacks = 0;
  const perGroup: Neighbour[][] = [];
  for (const [group, rows] of groups.entries()) {
    const { neighbours, complete } = index.collapse(found, group, k, group);
    if (!complete) fallbacks += 1;
    perGroup.push(complete ? neighbours : await index.nearest(index.vector(rows[0] as number), k, group));
  }

  const means = Object.fromEntries(LABELS.map((l) => [l, new Mean()])) as Record<Label, Mean>;
  const cases = index.items.map((item, row): LooCase => {
    const results = perGroup[index.groupOf[row] as number] as Neighbour[];
    const precision = labelPrecision(
      item.metadata,
      results.map((n) => index.item(n.row).metadata),
    );
    for (const label of LABELS) means[label].add(precision[label]);
    return { row, results, precision };
  });
  return {
    k,
    products: index.count,
    searched: groups.length,
    fallbacks,
    precision: Object.fromEntries(LABELS.map((l) => [l, means[l].result])) as Record<Label, MeanMetric>,
    cases,
    seconds: (performance.now() - started) / 1000,
  };
}
