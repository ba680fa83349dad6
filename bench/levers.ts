/**
 * The quality levers, one evaluation each, on the same index and the same queries: the original
 * design, then each lever of the learned similarity alone and in combination. Prints the README's
 * table (markdown) and writes every summary as JSON.
 *
 *   npm run bench:levers [-- --index <dir> --queries <dir> --street <dir> --max-queries 1000 --only a,b]
 *
 * The index needs a learned similarity (lookalike index, or lookalike learn). Every figure is on
 * held-out products (leave-one-out, fashion-224) or on the street-dev report part, as eval prints.
 * The label columns are the catalogue schema's facets, its kind column first (as eval judges them).
 */
import { mkdir } from 'node:fs/promises';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { datasetsDir, defaultIndexDir } from '../src/config.js';
import { type EvalSummary, evaluate } from '../src/evaluation/evaluate.js';
import type { QueryPrep } from '../src/images/query-prep.js';
import { readManifest } from '../src/index/store.js';
import { writeJsonDurably } from '../src/io/durable.js';
import { recordedSimilarity } from '../src/similarity/derive.js';
import type { FusionWeights, SimilarityKind } from '../src/similarity/model.js';
import { readSimilarity } from '../src/similarity/model.js';

const { values } = parseArgs({
  options: {
    index: { type: 'string', default: defaultIndexDir },
    queries: { type: 'string', default: join(datasetsDir, 'fashion-224', 'images') },
    street: { type: 'string', default: join(datasetsDir, 'street-dev') },
    'max-queries': { type: 'string', default: '1000' },
    only: { type: 'string' },
    out: { type: 'string', default: 'bench-output/levers.json' },
  },
});

interface Lever {
  name: string;
  similarity: SimilarityKind;
  weights?: FusionWeights;
  query?: QueryPrep;
  /** Shoppers' photos: 'own' for the model's own weights and preparation (default: as every photo). */
  shopper?: 'own' | { weights: FusionWeights; query: QueryPrep };
  /** With a shopper head: whether its runner-up kind gets a result (default: the model's). */
  runnerUp?: boolean;
  /** Whether colour re-ranks within kind (default: the model's). */
  colourWithinKind?: boolean;
}

const manifest = await readManifest(values.index);
const recorded = recordedSimilarity(manifest?.similarity);
if (recorded?.kind !== 'learned')
  throw new Error(`${values.index} has no learned similarity: run lookalike learn`);
const model = await readSimilarity(values.index, recorded.id);
if (!model) throw new Error('the learned similarity could not be read');
const match = model.file.query.match;
const best = model.file.weights;
const visualOnly: FusionWeights = { visual: 1, learned: 0, labels: 0, colour: 0 };

const only2 = (a: keyof FusionWeights, b: keyof FusionWeights): FusionWeights => {
  const w: FusionWeights = { visual: 0, learned: 0, labels: 0, colour: 0 };
  w[a] = best[a];
  w[b] = best[b];
  return w;
};
const LEVERS: Lever[] = [
  { name: 'original design', similarity: 'original' },
  { name: 'match resolution', similarity: 'learned', weights: visualOnly, query: { match } },
  { name: 'crop + match', similarity: 'learned', weights: visualOnly, query: { crop: true, match } },
  {
    name: 'crop + whiten + match',
    similarity: 'learned',
    weights: visualOnly,
    query: { crop: true, whiten: true, match },
  },
  { name: 'flip + match', similarity: 'learned', weights: visualOnly, query: { match, flip: true } },
  {
    name: 'visual + colour, match',
    similarity: 'learned',
    weights: only2('visual', 'colour'),
    query: { match },
    colourWithinKind: false,
  },
  {
    name: 'visual + learned projection, match',
    similarity: 'learned',
    weights: only2('visual', 'learned'),
    query: { match },
  },
  {
    name: 'visual + labels, match',
    similarity: 'learned',
    weights: only2('visual', 'labels'),
    query: { match },
  },
  {
    name: 'visual + learned + labels, match',
    similarity: 'learned',
    weights: { ...best, colour: 0 },
    query: { match },
  },
  { name: 'all four parts, photos as they are', similarity: 'learned', weights: best, query: {} },
  {
    name: "all four parts + match, colour fused with the rest (not within kind); shoppers' photos as the default",
    similarity: 'learned',
    shopper: 'own',
    colourWithinKind: false,
  },
  {
    name: "all four parts + match; shoppers' photos as they are, visual alone (the default before the shopper head)",
    similarity: 'learned',
    shopper: { weights: visualOnly, query: {} },
  },
  {
    name: "all four parts + match; shoppers' photos: visual + the shopper head's kind, no runner-up",
    similarity: 'learned',
    shopper: 'own',
    runnerUp: false,
  },
  {
    name: "default: all four parts + match; shoppers' photos: visual + the shopper head's kind + a result of the runner-up kind",
    similarity: 'learned',
    shopper: 'own',
  },
];

const f = (v: number | null | undefined) => (v === null || v === undefined ? '–' : v.toFixed(3));
const describe = (x: FusionWeights) => {
  const t = x.visual + x.learned + x.labels + x.colour || 1;
  return [x.visual, x.learned, x.labels, x.colour].map((v) => (v / t).toFixed(2)).join('/');
};
const w = (s: EvalSummary) =>
  describe(s.weights) +
  (describe(s.shopperWeights) === describe(s.weights) ? '' : `; shoppers ${describe(s.shopperWeights)}`);
const prep = (s: EvalSummary) =>
  [
    s.queryPrep.crop && 'crop',
    s.queryPrep.whiten && 'whiten',
    s.queryPrep.match && 'match',
    s.queryPrep.flip && 'flip',
  ]
    .filter(Boolean)
    .join('+') || 'none';
function row(lever: Lever, s: EvalSummary): string {
  const p = s.leaveOneOut.precision;
  return `| ${[
    lever.name,
    w(s),
    prep(s),
    ...s.labels.columns.map((c) => f(p[c]?.value)),
    f(s.queries?.recallAt1),
    f(s.queries?.recallAt5),
    f(s.street?.report.precision.value),
    f(s.street?.report.hitRate.value),
    f(s.street?.tune.precision.value),
    f(s.street?.tune.hitRate.value),
  ].join(' | ')} |`;
}

function header(columns: readonly string[]): string[] {
  const names = [
    'lever',
    'weights v/l/lab/c',
    'query prep',
    ...columns.map((c) => `${c} P@5`),
    'recall@1',
    'recall@5',
    'street P@5 (report)',
    'street hit@5 (report)',
    'street P@5 (tune)',
    'street hit@5 (tune)',
  ];
  return [`| ${names.join(' | ')} |`, `| --- | --- | --- |${' ---: |'.repeat(names.length - 3)}`];
}

const only = values.only?.split(',');
const rows: { lever: Lever; summary: EvalSummary }[] = [];
for (const lever of LEVERS.filter((l, i) => !only || only.includes(String(i)) || only.includes(l.name))) {
  const started = performance.now();
  const ev = await evaluate({
    indexDir: values.index,
    queriesDir: values.queries,
    streetDir: values.street,
    maxQueries: Number(values['max-queries']),
    heldOutOnly: true,
    similarity: lever.similarity,
    // A lever applies to every photo: the same weights for shoppers' photos, unless it says otherwise.
    tuning: {
      weights: lever.weights,
      query: lever.query,
      ...(lever.shopper === 'own'
        ? {}
        : lever.shopper
          ? { shopperWeights: lever.shopper.weights, shopperQuery: lever.shopper.query }
          : { shopperWeights: lever.weights, shopperQuery: lever.query }),
      ...(lever.runnerUp === undefined ? {} : { runnerUp: lever.runnerUp }),
      ...(lever.colourWithinKind === undefined ? {} : { colourWithinKind: lever.colourWithinKind }),
    },
  });
  await ev.index.close();
  rows.push({ lever, summary: ev.summary });
  process.stderr.write(`${lever.name}: ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
  process.stderr.write(`${row(lever, ev.summary)}\n`);
}

const lines = [
  `Index ${values.index}; ${cpus()[0]?.model ?? 'CPU'}, ${cpus().length} cores`,
  '',
  ...header(rows[0]?.summary.labels.columns ?? []),
  ...rows.map(({ lever, summary }) => row(lever, summary)),
];
process.stdout.write(`${lines.join('\n')}\n`);
await mkdir(dirname(values.out), { recursive: true });
await writeJsonDurably(values.out, rows);
