/** Plain-text and markdown renderings of evaluation metrics. */
import { describeSpec } from '../embeddings/embedder.js';
import type { QueryPrep } from '../images/query-prep.js';
import type { FusionWeights } from '../similarity/model.js';
import { type JudgedLabels, K, kindNote } from './metrics.js';
import type { EvalSummary } from './summary.js';

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
  const loo = summary.leaveOneOut;
  const { columns, kind } = summary.labels;
  const rows: MetricRow[] = [];
  for (const [figures, over] of [
    [loo.precision, 'held-out products'],
    [loo.precisionAll, 'all products'],
  ] as const) {
    for (const label of columns) {
      const figure = figures[label];
      if (figure) rows.push({ name: `${label} P@${K} (leave-one-out, ${over})`, ...figure });
    }
  }
  const q = summary.queries;
  if (q) {
    rows.push(
      { name: 'recall@1 (query photos, held-out products)', value: q.recallAt1, queries: q.used },
      { name: `recall@${K} (query photos, held-out products)`, value: q.recallAt5, queries: q.used },
    );
    if (kind !== null)
      rows.push({ name: `${kind} P@${K} (query photos, other results)`, ...q.kindPrecision });
  }
  const st = summary.street;
  if (st) {
    for (const part of ['report', 'tune', 'all'] as const) {
      rows.push(
        { name: `street P@${K} (${part} part)`, ...st[part].precision },
        { name: `street hit@${K} (${part} part)`, ...st[part].hitRate },
      );
    }
  }
  return rows;
}

/** Per-class street figures, as a text table. */
function streetTable(summary: EvalSummary): string[] {
  const st = summary.street;
  if (!st) return [];
  const width = Math.max(5, ...st.perLabel.map((l) => l.label.length));
  return [
    '',
    `Street photos by class (both parts), judged by ${st.column}:`,
    `${'class'.padEnd(width)}  ${'photos'.padStart(6)}  ${`P@${K}`.padStart(6)}  ${`hit@${K}`.padStart(6)}`,
    ...st.perLabel.map(
      (l) =>
        `${l.label.padEnd(width)}  ${String(l.photos).padStart(6)}  ${formatValue(l.precision.value).padStart(6)}  ${formatValue(l.hitRate.value).padStart(6)}`,
    ),
  ];
}

function describeWeights(w: FusionWeights): string {
  return `visual ${w.visual.toFixed(2)}, learned ${w.learned.toFixed(2)}, labels ${w.labels.toFixed(2)}, colour ${w.colour.toFixed(2)}`;
}

function describePrep(prep: QueryPrep): string {
  const steps = [
    prep.crop ? 'crop to the product' : '',
    prep.whiten ? 'white background' : '',
    prep.match ? `match the catalogue's ${prep.match.width}x${prep.match.height}` : '',
    prep.flip ? 'average with the mirror image' : '',
  ].filter(Boolean);
  return steps.length > 0 ? steps.join(', ') : 'as they are';
}

/** The text `lookalike eval` prints. */
export function metricsText(summary: EvalSummary, reportPath?: string): string {
  const loo = summary.leaveOneOut;
  const lines = [
    `Index ${summary.index}: ${summary.products} products (${summary.distinctPhotos} distinct photos), ${describeSpec(summary.spec)}`,
    `Similarity: ${summary.similarity} (weights ${describeWeights(summary.weights)}; shoppers' photos ${describeWeights(summary.shopperWeights)})` +
      (summary.colourWithinKind ? '; colour re-ranks within the kinds chosen without it' : ''),
    `Query photos prepared: ${describePrep(summary.queryPrep)}; shoppers' photos: ${describePrep(summary.shopperQueryPrep)}`,
    ...(summary.shopperHead
      ? [
          `Shoppers' photos' kind: learned from ${summary.shopperHead.photos} labelled photos (the ${summary.shopperHead.part} half) of ${summary.shopperHead.source}; only the other half measures it`,
        ]
      : []),
    `Split: ${summary.split}; ${loo.heldOut} held-out products`,
    `Labels judged: ${summary.labels.columns.join(', ') || '–'}${summary.labels.kind === null ? '' : `; kind: ${summary.labels.kind}`}`,
    `Leave-one-out: ${loo.products} queries, k=${loo.k}, in ${loo.seconds.toFixed(2)} s` +
      (loo.fallbacks > 0 ? ` (${loo.fallbacks} searched again one by one)` : ''),
  ];
  if (summary.queries) {
    const q = summary.queries;
    lines.push(
      `Query photos: ${q.used} used of ${q.heldOut} of held-out products (${q.inIndex} in the index, ${q.inFolder} in ${q.dir})` +
        `${q.failed > 0 ? `, ${q.failed} unreadable` : ''}; embedded in ${q.embedSeconds.toFixed(1)} s`,
    );
  }
  if (summary.street) {
    const st = summary.street;
    lines.push(
      `Street photos: ${st.all.photos} with a mapped class (${st.failed} unreadable) in ${st.dir}, split by file name into a tune part (${st.tune.photos}) and a report part (${st.report.photos}), in ${st.seconds.toFixed(1)} s`,
    );
  }
  const note = kindNote(summary.labels);
  if (note) lines.push(`(${note})`);
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
  lines.push(...streetTable(summary));
  if (reportPath) lines.push('', `Report: ${reportPath}`);
  return `${lines.join('\n')}\n`;
}

export interface SweepRow {
  config: string;
  summary: EvalSummary;
  /** Top-5 overlap with the first row's configuration (sweep.ts `overlapAt5`). */
  overlapAt5?: number | null;
}

/**
 * The sweep's columns for the label columns judged: a header and how to read each from a summary.
 * The sweep compares embedding configurations with the original similarity (nothing learned), so
 * its leave-one-out figures are over every product.
 */
export function sweepColumns(
  labels: JudgedLabels,
): { header: string; value: (s: EvalSummary) => number | null }[] {
  const { kind } = labels;
  return [
    ...labels.columns.map((label) => ({
      header: `${label} P@${K}`,
      value: (s: EvalSummary) => s.leaveOneOut.precisionAll[label]?.value ?? null,
    })),
    { header: 'recall@1', value: (s) => s.queries?.recallAt1 ?? null },
    { header: `recall@${K}`, value: (s) => s.queries?.recallAt5 ?? null },
    ...(kind === null
      ? []
      : [
          {
            header: `${kind} P@${K} (queries)`,
            value: (s: EvalSummary) => s.queries?.kindPrecision.value ?? null,
          },
        ]),
  ];
}

/** A markdown table of the sweep, the best value of each column in bold (ties all bold). */
export function sweepTable(rows: readonly SweepRow[]): string {
  const first = rows[0];
  if (!first) return 'No configuration evaluated.\n';
  const columns = sweepColumns(first.summary.labels);
  const best = columns.map((col) => {
    const values = rows.map((r) => col.value(r.summary)).filter((v): v is number => v !== null);
    return values.length > 0 ? Math.max(...values.map((v) => Number(v.toFixed(3)))) : undefined;
  });
  const overlap = rows.some((r) => r.overlapAt5 !== undefined && r.overlapAt5 !== null);
  const header = [
    'config',
    ...columns.map((c) => c.header),
    ...(overlap ? [`top-5 overlap vs ${first.config}`] : []),
  ];
  const lines = [
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`,
  ];
  for (const r of rows) {
    const cells = columns.map((col, i) => {
      const v = col.value(r.summary);
      const text = formatValue(v);
      return v !== null && Number(v.toFixed(3)) === best[i] ? `**${text}**` : text;
    });
    if (overlap) cells.push(formatValue(r.overlapAt5));
    lines.push(`| ${[r.config, ...cells].join(' | ')} |`);
  }
  return `${lines.join('\n')}\n`;
}
