/** Plain-text and markdown renderings of evaluation metrics. */
import { describeSpec } from '../embeddings/embedder.js';
import type { EvalSummary } from './evaluate.js';
import { K, LABELS } from './metrics.js';

export interface MetricRow {
  name: string;
  value: number | null;
  /** Queries the mean is over. */
  queries: number;
}

export function formatValue(value: number | null | undefined): string {
  return value === null || value === undefined ? '–' : value.toFixed(3);
}

/** The metrics of an evaluation, in print order. */
export function metricRows(summary: EvalSummary): MetricRow[] {
  const rows: MetricRow[] = LABELS.map((label) => ({
    name: `${label} P@${K} (leave-one-out)`,
    ...summary.leaveOneOut.precision[label],
  }));
  const q = summary.queries;
  if (q) {
    rows.push(
      { name: 'recall@1 (query photos)', value: q.recallAt1, queries: q.used },
      { name: `recall@${K} (query photos)`, value: q.recallAt5, queries: q.used },
      { name: `articleType P@${K} (query photos, other results)`, ...q.articleTypePrecision },
    );
  }
  return rows;
}

/** The text `lookalike eval` prints. */
export function metricsText(summary: EvalSummary, reportPath?: string): string {
  const loo = summary.leaveOneOut;
  const lines = [
    `Index ${summary.index}: ${summary.products} products (${summary.distinctPhotos} distinct photos), ${describeSpec(summary.spec)}`,
    `Leave-one-out: ${loo.products} queries, k=${loo.k}, in ${loo.seconds.toFixed(2)} s` +
      (loo.fallbacks > 0 ? ` (${loo.fallbacks} searched again one by one)` : ''),
  ];
  if (summary.queries) {
    const q = summary.queries;
    lines.push(
      `Query photos: ${q.used} used of ${q.inIndex} whose product is in the index (${q.inFolder} in ${q.dir})` +
        `${q.failed > 0 ? `, ${q.failed} unreadable` : ''}; embedded in ${q.embedSeconds.toFixed(1)} s`,
    );
  }
  const rows = metricRows(summary);
  const width = Math.max(6, ...rows.map((r) => r.name.length));
  lines.push('', `${'metric'.padEnd(width)}  ${'value'.padStart(6)}  ${'queries'.padStart(7)}`);
  for (const r of rows) {
    lines.push(
      `${r.name.padEnd(width)}  ${formatValue(r.value).padStart(6)}  ${String(r.queries).padStart(7)}`,
    );
  }
  if (summary.queries?.meanReciprocalRank !== undefined) {
    lines.push(
      `(mean reciprocal rank of the product itself: ${formatValue(summary.queries.meanReciprocalRank)})`,
    );
  }
  if (reportPath) lines.push('', `Report: ${reportPath}`);
  return `${lines.join('\n')}\n`;
}

export interface SweepRow {
  config: string;
  summary: EvalSummary;
}

/** The sweep's columns: a header and how to read each from a summary. */
export const SWEEP_COLUMNS: { header: string; value: (s: EvalSummary) => number | null }[] = [
  ...LABELS.map((label) => ({
    header: `${label} P@${K}`,
    value: (s: EvalSummary) => s.leaveOneOut.precision[label].value,
  })),
  { header: 'recall@1', value: (s) => s.queries?.recallAt1 ?? null },
  { header: `recall@${K}`, value: (s) => s.queries?.recallAt5 ?? null },
  { header: `articleType P@${K} (queries)`, value: (s) => s.queries?.articleTypePrecision.value ?? null },
];

/** A markdown table of the sweep, the best value of each column in bold (ties all bold). */
export function sweepTable(rows: readonly SweepRow[]): string {
  const best = SWEEP_COLUMNS.map((col) => {
    const values = rows.map((r) => col.value(r.summary)).filter((v): v is number => v !== null);
    return values.length > 0 ? Math.max(...values.map((v) => Number(v.toFixed(3)))) : undefined;
  });
  const header = ['config', ...SWEEP_COLUMNS.map((c) => c.header)];
  const lines = [
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`,
  ];
  for (const r of rows) {
    const cells = SWEEP_COLUMNS.map((col, i) => {
      const v = col.value(r.summary);
      const text = formatValue(v);
      return v !== null && Number(v.toFixed(3)) === best[i] ? `**${text}**` : text;
    });
    lines.push(`| ${[r.config, ...cells].join(' | ')} |`);
  }
  return `${lines.join('\n')}\n`;
}
