/** The quality measures: precision@k of a label, means over queries, recall of the product itself. */

/** The metadata labels whose agreement with the query's is measured. */
export const LABELS = ['articleType', 'subCategory', 'baseColour', 'gender'] as const;
export type Label = (typeof LABELS)[number];

/** How many results are judged per query. */
export const K = 5;

/** A mean over the queries it applies to (null when none did). */
export interface MeanMetric {
  value: number | null;
  queries: number;
}

export class Mean {
  private sum = 0;
  private n = 0;

  add(x: number | undefined): void {
    if (x === undefined) return;
    this.sum += x;
    this.n += 1;
  }

  get result(): MeanMetric {
    return { value: this.n === 0 ? null : this.sum / this.n, queries: this.n };
  }
}

/**
 * Share of the results whose label equals the query's; undefined (the query is skipped) when the
 * query has no such label or there are no results. A result without the label does not match.
 */
export function precision(
  query: string | undefined,
  results: readonly (string | undefined)[],
): number | undefined {
  if (!query || results.length === 0) return undefined;
  return results.filter((r) => r === query).length / results.length;
}

export type LabelPrecision = Partial<Record<Label, number>>;

/** Per-label precision of one query's results. */
export function labelPrecision(
  query: Readonly<Record<string, string>>,
  results: readonly Readonly<Record<string, string>>[],
): LabelPrecision {
  const out: LabelPrecision = {};
  for (const label of LABELS) {
    const p = precision(
      query[label],
      results.map((r) => r[label]),
    );
    if (p !== undefined) out[label] = p;
  }
  return out;
}

/** Recall@n from 1-based ranks of the true product. */
export function recallAt(ranks: readonly number[], n: number): number | null {
  return ranks.length === 0 ? null : ranks.filter((r) => r <= n).length / ranks.length;
}

export function meanReciprocalRank(ranks: readonly number[]): number | null {
  return ranks.length === 0 ? null : ranks.reduce((s, r) => s + 1 / r, 0) / ranks.length;
}
