/**
 * The quality measures: precision@k of a label, means over queries, recall of the product itself,
 * and which label columns results are judged by (the catalogue schema's facets).
 */
import { z } from 'zod';
import type { CatalogueSchema } from '../catalogue/schema.js';

/** How many results are judged per query. */
export const K = 5;

/** A mean over the queries it applies to (null when none did). */
export const meanMetricZ = z.object({
  value: z.number().nullable(),
  queries: z.number().int().nonnegative(),
});
export type MeanMetric = z.infer<typeof meanMetricZ>;

/** The label columns results are judged by. */
export const judgedLabelsZ = z.object({
  /** The schema's facets, the kind column first: precision@k is measured for each. */
  columns: z.array(z.string()),
  /** The column of the headline figures: the schema's kind column, else its first facet; null: none. */
  kind: z.string().nullable(),
  /** Where `kind` comes from. */
  kindFrom: z.enum(['schema', 'first facet', 'none']),
});
export type JudgedLabels = z.infer<typeof judgedLabelsZ>;

/** The columns a catalogue's results are judged by, from its schema. */
export function judgedLabels(schema: CatalogueSchema): JudgedLabels {
  const kind = schema.kindColumn ?? schema.facets[0] ?? null;
  const rest = schema.facets.filter((f) => f !== kind);
  return {
    columns: kind === null ? rest : [kind, ...rest],
    kind,
    kindFrom: schema.kindColumn ? 'schema' : kind === null ? 'none' : 'first facet',
  };
}

/** A sentence on what the kind figures are judged by, where the schema does not name a kind column. */
export function kindNote(labels: JudgedLabels): string | undefined {
  if (labels.kindFrom === 'first facet') {
    return `the catalogue's schema names no kind column: kind figures are judged by its first facet, ${labels.kind}`;
  }
  if (labels.kindFrom === 'none') {
    return "the catalogue's schema has no facets: no label precision or kind figures are measured";
  }
  return undefined;
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

/** One Mean per label column, and their results. */
export class LabelMeans {
  private readonly means: Map<string, Mean>;

  constructor(columns: readonly string[]) {
    this.means = new Map(columns.map((c) => [c, new Mean()]));
  }

  add(precision: LabelPrecision): void {
    for (const [column, mean] of this.means) mean.add(precision[column]);
  }

  get result(): Record<string, MeanMetric> {
    return Object.fromEntries([...this.means].map(([column, mean]) => [column, mean.result]));
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

/** Precision of one query's results per label column (columns the query lacks are left out). */
export type LabelPrecision = Record<string, number>;

/** Per-label precision of one query's results. */
export function labelPrecision(
  query: Readonly<Record<string, string>>,
  results: readonly Readonly<Record<string, string>>[],
  columns: readonly string[],
): LabelPrecision {
  const out: LabelPrecision = {};
  for (const column of columns) {
    const p = precision(
      query[column],
      results.map((r) => r[column]),
    );
    if (p !== undefined) out[column] = p;
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
