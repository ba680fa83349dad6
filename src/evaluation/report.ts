/**
 * The HTML report of an evaluation: the metrics, the spec and the date, and image grids of sample
 * queries with their 5 results, captioned by the catalogue schema's title and facets (a random sample, the best and the worst cases), so that a person
 * can judge the quality by eye. Self-contained: the photos are inlined as data: URIs.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { titleOf } from '../catalogue/schema.js';
import { describeSpec } from '../embeddings/embedder.js';
import type { IndexItem } from '../index/store.js';
import { writeDurably } from '../io/durable.js';
import { randomCases, rankedCases } from './cases.js';
import type { Neighbour } from './eval-index.js';
import type { Evaluation } from './evaluate.js';
import { formatValue, metricRows } from './format.js';
import { escapeHtml as e } from './html.js';
import type { LooCase } from './leave-one-out.js';
import { type JudgedLabels, K, kindNote } from './metrics.js';
import type { QueryCase } from './queries.js';
import type { StreetCase } from './street.js';
import { Thumbnails } from './thumbnails.js';

export interface ReportOptions {
  /** Cases per section (default 12). */
  samples?: number;
  /** Seed of the random sample and of tie-breaks (default 1). */
  seed?: number;
  /** A line naming what was evaluated, e.g. the sweep configuration. */
  title?: string;
}

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; background: #fafafa; }
h1 { margin: 0 0 4px; } h2 { margin: 32px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.meta { color: #555; margin: 2px 0; } code { font-size: 12px; }
table.metrics, table.types { border-collapse: collapse; background: #fff; }
table.metrics td, table.metrics th, table.types td, table.types th { border: 1px solid #ddd; padding: 4px 10px; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.bar { display: inline-block; height: 10px; background: #4caf50; vertical-align: middle; }
.legend span { display: inline-block; padding: 0 6px; margin-right: 8px; border: 3px solid; border-radius: 4px; }
.case { display: flex; align-items: flex-start; gap: 8px; padding: 10px; margin: 8px 0; background: #fff; border: 1px solid #e3e3e3; border-radius: 6px; }
.case .note { width: 130px; flex: none; font-size: 12px; color: #444; }
figure { margin: 0; width: 126px; flex: none; border: 3px solid #eee; border-radius: 6px; padding: 4px; background: #fff; }
figure img { display: block; height: 120px; max-width: 100%; margin: 0 auto; object-fit: contain; }
figure .missing { height: 120px; display: flex; align-items: center; justify-content: center; color: #999; }
figcaption { font-size: 11px; margin-top: 4px; overflow-wrap: anywhere; }
figcaption .name { color: #666; height: 2.8em; overflow: hidden; }
figcaption .label { display: block; }
figcaption .same { color: #1b7d2a; font-weight: 600; }
figure.query { border-color: #1e6fd9; background: #eef4fd; }
figure.match { border-color: #4caf50; }
figure.self { border-color: #e0a800; background: #fff8e1; }
.arrow { align-self: center; color: #999; font-size: 20px; }
details { margin: 8px 0; }
`;

const fmt = (x: number) => x.toFixed(3);

class Renderer {
  private readonly thumbs = new Thumbnails();
  private readonly labels: JudgedLabels;

  constructor(private readonly ev: Evaluation) {
    this.labels = ev.index.labels;
  }

  private item(row: number): IndexItem {
    return this.ev.index.item(row);
  }

  private imagePath(row: number): string {
    return this.ev.index.recommender.imagePath(this.item(row));
  }

  private async img(path: string, alt: string): Promise<string> {
    const uri = await this.thumbs.get(path);
    return uri
      ? `<img src="${e(uri)}" alt="${e(alt)}" loading="lazy">`
      : `<div class="missing">photo missing</div>`;
  }

  private caption(item: IndexItem, query: IndexItem | undefined, first: string): string {
    const m = item.metadata;
    const labels = this.labels.columns
      .filter((l) => m[l])
      .map((l) => {
        const same = query && query !== item && m[l] === query.metadata[l];
        return `<span class="label${same ? ' same' : ''}" title="${e(l)}">${e(m[l])}</span>`;
      })
      .join('');
    const name = titleOf(this.ev.index.schema, m) ?? '';
    return `<figcaption><b>${first}</b><div class="name">${e(name)}</div>${labels}</figcaption>`;
  }

  /** The same kind as the query (the kind column's value). */
  private sameKind(item: IndexItem, query: IndexItem): boolean {
    const kind = this.labels.kind;
    return kind !== null && !!item.metadata[kind] && item.metadata[kind] === query.metadata[kind];
  }

  private async resultFigures(results: Neighbour[], query: IndexItem, selfGroup?: number): Promise<string> {
    const figures = await Promise.all(
      results.map(async (n, i) => {
        const item = this.item(n.row);
        const self = selfGroup !== undefined && this.ev.index.groupOf[n.row] === selfGroup;
        const cls = self ? 'self' : this.sameKind(item, query) ? 'match' : '';
        const first = `${i + 1}. #${e(item.id)} · ${fmt(n.score)}${self ? ' · the product' : ''}`;
        return `<figure class="${cls}">${await this.img(this.imagePath(n.row), item.id)}${this.caption(item, query, first)}</figure>`;
      }),
    );
    return figures.join('');
  }

  async looCase(c: LooCase): Promise<string> {
    const query = this.item(c.row);
    const note = this.labels.columns
      .map((l) => {
        const p = c.precision[l];
        return p === undefined ? '' : `${e(l)} ${Math.round(p * c.results.length)}/${c.results.length}`;
      })
      .filter(Boolean)
      .join('<br>');
    const also =
      this.ev.index.groups[this.ev.index.groupOf[c.row] as number]?.filter((r) => r !== c.row) ?? [];
    const alsoNote =
      also.length > 0
        ? `<br>same photo as #${also.map((r) => e(this.item(r).id)).join(', #')} (left out)`
        : '';
    return (
      `<div class="case"><div class="note">${note}${alsoNote}</div>` +
      `<figure class="query">${await this.img(this.imagePath(c.row), query.id)}${this.caption(query, undefined, `query #${e(query.id)}`)}</figure>` +
      `<div class="arrow">→</div>${await this.resultFigures(c.results, query)}</div>`
    );
  }

  async queryCase(c: QueryCase): Promise<string> {
    const product = this.item(c.row);
    const note =
      `product at rank ${c.rank}` +
      (c.precision === undefined || this.labels.kind === null
        ? ''
        : `<br>${e(this.labels.kind)} P@${K} of the other results: ${fmt(c.precision)}`);
    return (
      `<div class="case"><div class="note">${note}</div>` +
      `<figure class="query">${await this.img(c.path, c.id)}${this.caption(product, undefined, `query photo #${e(c.id)}`)}</figure>` +
      `<div class="arrow">→</div>${await this.resultFigures(c.results, product, this.ev.index.groupOf[c.row])}</div>`
    );
  }

  async streetCase(c: StreetCase, right: ReadonlySet<string>, column: string): Promise<string> {
    const figures = await Promise.all(
      c.results.map(async (n, i) => {
        const item = this.item(n.row);
        const ok = right.has(item.metadata[column] ?? '');
        const first = `${i + 1}. #${e(item.id)} · ${fmt(n.score)}`;
        return `<figure class="${ok ? 'match' : ''}">${await this.img(this.imagePath(n.row), item.id)}${this.caption(item, undefined, first)}</figure>`;
      }),
    );
    const note = `class <b>${e(c.label)}</b> (${e(c.part)} part)<br>right kind: ${c.hits}/${c.results.length}`;
    return (
      `<div class="case"><div class="note">${note}</div>` +
      `<figure class="query">${await this.img(c.path, c.image)}<figcaption><b>street photo</b><div class="name">${e(c.image)}</div></figcaption></figure>` +
      `<div class="arrow">→</div>${figures.join('')}</div>`
    );
  }

  metricsTable(): string {
    const rows = metricRows(this.ev.summary)
      .map(
        (r) =>
          `<tr><td>${e(r.name)}</td><td class="num">${e(formatValue(r.value))}</td><td class="num">${r.queries}</td></tr>`,
      )
      .join('');
    return `<table class="metrics"><tr><th>metric</th><th>value</th><th>queries</th></tr>${rows}</table>`;
  }

  /** Leave-one-out precision of the kind column, per kind (nothing without a kind column). */
  kindsTable(): string {
    const kind = this.labels.kind;
    if (kind === null) return '';
    const byKind = new Map<string, { n: number; sum: number }>();
    for (const c of this.ev.leaveOneOut.cases) {
      const value = this.item(c.row).metadata[kind];
      const p = c.precision[kind];
      if (!value || p === undefined) continue;
      const t = byKind.get(value) ?? { n: 0, sum: 0 };
      t.n += 1;
      t.sum += p;
      byKind.set(value, t);
    }
    const rows = [...byKind]
      .sort((a, b) => b[1].n - a[1].n || a[0].localeCompare(b[0]))
      .map(([value, { n, sum }]) => {
        const p = sum / n;
        return `<tr><td>${e(value)}</td><td class="num">${n}</td><td class="num">${fmt(p)}</td><td><span class="bar" style="width:${Math.round(p * 150)}px"></span></td></tr>`;
      })
      .join('');
    return (
      `<details><summary>${e(kind)} P@${K} by ${e(kind)} (${byKind.size} values, most frequent first)</summary>` +
      `<table class="types"><tr><th>${e(kind)}</th><th>products</th><th>P@${K}</th><th></th></tr>${rows}</table></details>`
    );
  }
}

async function section(title: string, intro: string, parts: Promise<string>[]): Promise<string> {
  const body = (await Promise.all(parts)).join('\n');
  return `<h2>${e(title)}</h2><p class="meta">${intro}</p>\n${body || '<p>No cases.</p>'}`;
}

export async function renderReport(ev: Evaluation, options: ReportOptions = {}): Promise<string> {
  const n = options.samples ?? 12;
  const seed = options.seed ?? 1;
  const r = new Renderer(ev);
  const s = ev.summary;
  const { kind } = ev.index.labels;
  // Products judged by the kind column (every product when there is none).
  const looCases =
    kind === null
      ? ev.leaveOneOut.cases
      : ev.leaveOneOut.cases.filter((c) => c.precision[kind] !== undefined);
  const sections = [
    section(
      'Leave-one-out: a random sample',
      'Each catalogue product as a query against the rest of the catalogue (its own photo and identical copies left out).',
      randomCases(looCases, n, seed).map((c) => r.looCase(c)),
    ),
  ];
  if (kind !== null) {
    const byKind = (a: LooCase, b: LooCase) => (b.precision[kind] ?? 0) - (a.precision[kind] ?? 0);
    sections.push(
      section(
        'Leave-one-out: best cases',
        `Highest ${e(kind)} precision@${K} (ties in random order).`,
        rankedCases(looCases, n, seed, byKind).map((c) => r.looCase(c)),
      ),
      section(
        'Leave-one-out: worst cases',
        `Lowest ${e(kind)} precision@${K} (ties in random order).`,
        rankedCases(looCases, n, seed, (a, b) => byKind(b, a)).map((c) => r.looCase(c)),
      ),
    );
  }
  const q = ev.queries;
  if (q) {
    const byRank = (a: QueryCase, b: QueryCase) => a.rank - b.rank;
    sections.push(
      section(
        'Query photos: a random sample',
        `Photos of catalogue products from ${e(q.dir)}; gold: the product itself, found among the results.`,
        randomCases(q.cases, n, seed).map((c) => r.queryCase(c)),
      ),
      section(
        'Query photos: best cases',
        'The product itself ranked highest (ties in random order).',
        rankedCases(q.cases, n, seed, byRank).map((c) => r.queryCase(c)),
      ),
      section(
        'Query photos: worst cases',
        'The product itself ranked lowest.',
        rankedCases(q.cases, n, seed, (a, b) => byRank(b, a)).map((c) => r.queryCase(c)),
      ),
    );
  }
  const st = ev.street;
  if (st) {
    const right = (c: StreetCase) => st.rightKinds.get(c.label) ?? new Set<string>();
    const report = st.cases.filter((c) => c.part === 'report');
    const byHits = (a: StreetCase, b: StreetCase) => b.hits - a.hits;
    sections.push(
      section(
        'Street photos (report part): a random sample',
        `Shoppers' own photos from ${e(st.dir)}; green: a right kind of product (${e(st.column)}).`,
        randomCases(report, n, seed).map((c) => r.streetCase(c, right(c), st.column)),
      ),
      section(
        'Street photos (report part): worst cases',
        'Fewest results of a right kind.',
        rankedCases(report, n, seed, (a, b) => byHits(b, a)).map((c) => r.streetCase(c, right(c), st.column)),
      ),
    );
  }
  const body = (await Promise.all(sections)).join('\n');
  const note = kindNote(ev.index.labels);
  const title = `Lookalike evaluation${options.title ? ` — ${options.title}` : ''}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${e(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${e(title)}</h1>
<p class="meta">Index <code>${e(s.index)}</code>: ${s.products} products (${s.distinctPhotos} distinct photos)</p>
<p class="meta">Embedding: ${e(describeSpec(s.spec))} (${e(s.spec.dim)}-d, ${e(s.spec.normalisation)}, weights ${e(s.spec.weights.slice(0, 20))}…)</p>
<p class="meta">Evaluated ${e(s.date)}; leave-one-out over ${s.leaveOneOut.products} products took ${s.leaveOneOut.seconds.toFixed(2)} s</p>
<h2>Metrics</h2>
${note ? `<p class="meta">${e(note)}</p>` : ''}
${r.metricsTable()}
${r.kindsTable()}
<p class="legend"><span style="border-color:#1e6fd9">query</span>${kind === null ? '' : `<span style="border-color:#4caf50">same ${e(kind)} as the query</span>`}<span style="border-color:#e0a800">the product itself (query photos)</span>labels in <b style="color:#1b7d2a">green</b> match the query's</p>
${body}
</body>
</html>
`;
}

/** Renders the report and writes it (atomically and durably) to `path`. */
export async function writeReport(path: string, ev: Evaluation, options: ReportOptions = {}): Promise<void> {
  const html = await renderReport(ev, options);
  await mkdir(dirname(path), { recursive: true });
  await writeDurably(path, html);
}
