/**
 * Leave-one-out over a whole index: every product is a query against the rest (its own photo and
 * identical copies excluded, identical photos collapsed), and its 5 results are judged by label
 * agreement on every facet of the catalogue's schema. With a learned similarity the query is the
 * product's photo, described as an uploaded photo would be (its catalogue labels unused); the
 * headline figures are over held-out products. Products sharing a photo share their results, so
 * one search per distinct photo, all of them batched.
 */
import { isHeldOut } from '../similarity/split.js';
import type { EvalIndex, Neighbour } from './eval-index.js';
import { K, LabelMeans, type LabelPrecision, labelPrecision } from './metrics.js';
import type { LeaveOneOutFigures } from './summary.js';

export interface LooCase {
  row: number;
  results: Neighbour[];
  /** Per label column of the catalogue's schema. */
  precision: LabelPrecision;
}

export interface LeaveOneOutResult extends LeaveOneOutFigures {
  /** Distinct photos searched. */
  searched: number;
  cases: LooCase[];
}

/** The figures of a leave-one-out run, without its cases (what a summary keeps). */
export function leaveOneOutFigures({
  searched: _searched,
  cases: _cases,
  ...figures
}: LeaveOneOutResult): LeaveOneOutFigures {
  return figures;
}

export interface LeaveOneOutOptions {
  k?: number;
  /** Extra neighbours fetched to survive exclusions and collapsing (default 16). */
  margin?: number;
  /** Query held-out products only (5x faster); precisionAll then covers them alone too. */
  heldOutOnly?: boolean;
  onProgress?: (done: number, total: number) => void;
}

export async function leaveOneOut(
  index: EvalIndex,
  options: LeaveOneOutOptions = {},
): Promise<LeaveOneOutResult> {
  const started = performance.now();
  const k = options.k ?? K;
  const { dim, groups } = index;
  // With a learned similarity, a product is queried as its photo would be: its labels are not used.
  const similarity = index.recommender.similarity;
  const queryOf = (row: number): Float32Array =>
    similarity.asPhotoQuery(index.vectors.subarray(row * dim, (row + 1) * dim));
  const searchK = Math.min(index.count, index.width(k) + index.maxGroup + (options.margin ?? 16));
  // The groups (distinct photos) that are queried: identical photos are on one side of the split.
  const queried = groups
    .map((_, g) => g)
    .filter((g) => !options.heldOutOnly || isHeldOut(index.item((groups[g] as number[])[0] as number).hash));
  const found = await index.knn.search(
    {
      count: queried.length,
      read: (start, size) => {
        const block = new Float32Array(size * dim);
        for (let i = 0; i < size; i++) {
          const row = (groups[queried[start + i] as number] as number[])[0] as number;
          block.set(index.searchVector(queryOf(row)), i * dim);
        }
        return block;
      },
    },
    searchK,
    options.onProgress,
  );
  let fallbacks = 0;
  const perGroup = new Map<number, Neighbour[]>();
  for (const [i, group] of queried.entries()) {
    const first = (groups[group] as number[])[0] as number;
    const { neighbours, complete } = index.top(found, i, k, group, queryOf(first));
    if (!complete) fallbacks += 1;
    perGroup.set(group, complete ? neighbours : await index.nearest(queryOf(first).slice(), k, group));
  }

  const { columns } = index.labels;
  const means = new LabelMeans(columns);
  const meansAll = new LabelMeans(columns);
  let heldOut = 0;
  const cases = index.items.flatMap((item, row): LooCase[] => {
    const results = perGroup.get(index.groupOf[row] as number);
    if (!results) return [];
    const precision = labelPrecision(
      item.metadata,
      results.map((n) => index.item(n.row).metadata),
      columns,
    );
    meansAll.add(precision);
    if (isHeldOut(item.hash)) {
      heldOut += 1;
      means.add(precision);
    }
    return [{ row, results, precision }];
  });
  return {
    k,
    products: cases.length,
    heldOut,
    searched: queried.length,
    fallbacks,
    precision: means.result,
    precisionAll: meansAll.result,
    cases,
    seconds: (performance.now() - started) / 1000,
  };
}
