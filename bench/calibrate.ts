/**
 * Calibrates the match strengths (src/recommend/match-thresholds.ts) on the catalogue, for both
 * similarities (their scores live on different scales): the score distributions of the same
 * product, the same kind and another kind, and the thresholds from which results are mostly so.
 *
 *   npm run bench:calibrate [-- --index .cache/index --photos 300 --products 600 --k 200 --only learned|original]
 *
 * Queries are held-out products only (src/similarity/split.ts): their fashion-224 photos, a
 * different photo of the very product (same product = the product itself among the results),
 * and their catalogue vectors ("more like this", where the product itself is left out). A
 * result is the same kind when its kind column (the schema's) has the query product's value.
 *
 * Each threshold is the lowest score above which the local rate (over a window of results next
 * in score) stays at or above its target: same product 80% (photo queries), strong 85% same
 * kind, fair 50% same kind (all queries). Prints the figures, the thresholds as TypeScript for
 * match-thresholds.ts, and writes them as JSON.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { datasetsDir, defaultIndexDir } from '../src/config.js';
import { isImageError } from '../src/images/errors.js';
import { photoLayout } from '../src/images/garments.js';
import type { IndexItem } from '../src/index/port.js';
import { writeJsonDurably } from '../src/io/durable.js';
import { MATCH_LABELS, MATCH_STRENGTHS, strengthOf } from '../src/recommend/match-strength.js';
import type { MatchThresholds } from '../src/recommend/match-thresholds.js';
import { Recommender } from '../src/recommend/recommender.js';
import type { SimilarityKind } from '../src/similarity/model.js';
import { isHeldOut, streetPart } from '../src/similarity/split.js';
import { describeMachine } from './support/machine.js';

const { values } = parseArgs({
  options: {
    index: { type: 'string', default: defaultIndexDir },
    queries: { type: 'string', default: join(datasetsDir, 'fashion-224', 'images') },
    photos: { type: 'string', default: '300' },
    products: { type: 'string', default: '600' },
    street: { type: 'string', default: join(datasetsDir, 'street-dev') },
    'street-photos': { type: 'string', default: '200' },
    k: { type: 'string', default: '200' },
    only: { type: 'string' },
    threads: { type: 'string', default: '1' },
    out: { type: 'string', default: 'bench-output/calibrate.json' },
  },
});

const K = Number(values.k);
const TARGETS = { sameProduct: 0.8, strong: 0.85, fair: 0.5 };
/** Results over which a local rate is taken: the same product's (rare: a few per query) and the kind's. */
const WINDOW = { sameProduct: 51, kind: 1001, street: 101 };

interface Sample {
  score: number;
  sameProduct: boolean;
  sameKind: boolean;
  /** From a photo query (else from a catalogue product's vector). */
  photo: boolean;
}

/** Every `count`-th of a list, spread evenly. */
const spread = <T>(list: readonly T[], count: number): T[] =>
  list.filter((_, i) => i % Math.max(1, Math.floor(list.length / count)) === 0).slice(0, count);

const percentiles = (scores: number[]) => {
  const s = [...scores].sort((a, b) => a - b);
  const at = (p: number) =>
    s.length ? (s[Math.min(s.length - 1, Math.floor(p * s.length))] as number) : Number.NaN;
  return { n: s.length, p5: at(0.05), p25: at(0.25), p50: at(0.5), p75: at(0.75), p95: at(0.95) };
};

/**
 * The lowest score from which the local rate of `hit` (over WINDOW results around each, in score
 * order) stays at or above `target`, scanning down from the best; Infinity when it never is.
 */
function threshold(
  samples: readonly Sample[],
  hit: (s: Sample) => boolean,
  target: number,
  window: number,
): number {
  const sorted = [...samples].sort((a, b) => b.score - a.score);
  const prefix = [0];
  for (const s of sorted) prefix.push((prefix.at(-1) as number) + (hit(s) ? 1 : 0));
  const half = Math.floor(window / 2);
  let last = Number.POSITIVE_INFINITY;
  for (let i = 0; i < sorted.length; i++) {
    const lo = Math.max(0, i - half);
    const hi = Math.min(sorted.length, i + half + 1);
    const rate = ((prefix[hi] as number) - (prefix[lo] as number)) / (hi - lo);
    if (rate < target) break;
    last = (sorted[i] as Sample).score;
  }
  return Number.isFinite(last) ? Number(last.toFixed(3)) : last;
}

/**
 * Shoppers' own photos (street-dev; those the photo layout does not take for studio photos),
 * their labels mapped to the catalogue's kinds (label-to-articletypes.json): the best 10 results
 * of each, whether each is the photo's kind. `part`: the tune half or the report half.
 */
async function streetSamples(r: Recommender, column: string, part: 'tune' | 'report'): Promise<Sample[]> {
  const dir = values.street;
  const count = Number(values['street-photos']);
  if (count <= 0 || !existsSync(join(dir, 'labels.csv'))) return [];
  const kinds = JSON.parse(await readFile(join(dir, 'label-to-articletypes.json'), 'utf8')) as Record<
    string,
    string[]
  >;
  const rows = (await readFile(join(dir, 'labels.csv'), 'utf8'))
    .trim()
    .split(/\r?\n/)
    .slice(1)
    .map((line) => line.split(','))
    .filter(([image, label]) => image && label && kinds[label] && streetPart(image) === part)
    .sort(([a], [b]) => (a as string).localeCompare(b as string));
  const photo = (image: string) =>
    ['.jpg', '.jpeg', '.png'].map((e) => join(dir, 'images', image + e)).find(existsSync);
  const cases: { path: string; kinds: string[] }[] = [];
  for (const [image, label] of spread(rows, count)) {
    const path = photo(image as string);
    if (!path) continue;
    // As the server tells them: a photo on a plain light background is scored as a catalogue one.
    if ((await photoLayout(await readFile(path))).studio) continue;
    cases.push({ path, kinds: kinds[label as string] as string[] });
  }
  const vectors = await r.queryVectors(
    cases.map((c) => c.path),
    { threads: Number(values.threads), batchSize: 16 },
  );
  const samples: Sample[] = [];
  for (const [i, vector] of vectors.entries()) {
    if (isImageError(vector)) continue;
    for (const res of await r.nearest(vector, { k: 10 }, [])) {
      const sameKind = cases[i]?.kinds.includes(res.metadata[column] ?? '') ?? false;
      samples.push({ score: res.score, sameProduct: false, sameKind, photo: true });
    }
  }
  return samples;
}

/** Each strength's share of the samples, and how many of them are the query's kind (and product). */
function bandsOf(samples: readonly Sample[], thresholds: MatchThresholds) {
  return MATCH_STRENGTHS.map((strength) => {
    const inBand = samples.filter((s) => strengthOf(s.score, thresholds) === strength);
    const rate = (f: (s: Sample) => boolean, of = inBand) =>
      of.length ? Number((of.filter(f).length / of.length).toFixed(3)) : null;
    return {
      strength,
      label: MATCH_LABELS[strength],
      results: inBand.length,
      share: Number((inBand.length / Math.max(1, samples.length)).toFixed(3)),
      sameKind: rate((s) => s.sameKind),
      sameProductOfPhotoResults: rate(
        (s) => s.sameProduct,
        inBand.filter((s) => s.photo),
      ),
    };
  });
}

async function calibrate(kind: SimilarityKind) {
  const started = performance.now();
  const r = await Recommender.open(values.index, { similarity: kind });
  try {
    const column = r.schema.kindColumn;
    if (!column) throw new Error(`${values.index}: the catalogue has no kind column`);
    if (r.manifest.similarity !== kind) throw new Error(`${values.index} has no ${kind} similarity`);
    const heldOut = r.items.filter((item) => isHeldOut(item.hash)).sort((a, b) => a.id.localeCompare(b.id));
    const withPhoto = heldOut.filter((item) => existsSync(join(values.queries, `${item.id}.jpg`)));
    const photoItems = spread(withPhoto, Number(values.photos));
    const productItems = spread(heldOut, Number(values.products));
    const samples: Sample[] = [];
    const kindOf = (item: IndexItem | { metadata: Record<string, string> }) => item.metadata[column];

    // Photo queries: a different photo of the very product.
    const vectors = await r.queryVectors(
      photoItems.map((item) => join(values.queries, `${item.id}.jpg`)),
      { threads: Number(values.threads), batchSize: 16 },
    );
    let top1 = 0;
    let found = 0;
    for (const [i, vector] of vectors.entries()) {
      const item = photoItems[i] as IndexItem;
      if (isImageError(vector)) continue;
      const results = await r.nearest(vector, { k: K }, []);
      results.forEach((res, rank) => {
        const same = res.id === item.id || res.alsoListedAs.includes(item.id);
        if (same && rank === 0) top1 += 1;
        if (same) found += 1;
        samples.push({
          score: res.score,
          sameProduct: same,
          sameKind: kindOf(res) === kindOf(item),
          photo: true,
        });
      });
    }
    // Catalogue vectors: more like this.
    for (const item of productItems) {
      const { results } = await r.similar(item.id, { k: K });
      for (const res of results) {
        samples.push({
          score: res.score,
          sameProduct: false,
          sameKind: kindOf(res) === kindOf(item),
          photo: false,
        });
      }
    }
    const photo = samples.filter((s) => s.photo);
    if (samples.length === 0) throw new Error('nothing to calibrate on: --photos and --products are 0');
    const sameProduct = threshold(photo, (s) => s.sameProduct, TARGETS.sameProduct, WINDOW.sameProduct);
    const strong = Math.min(
      sameProduct,
      threshold(samples, (s) => s.sameKind, TARGETS.strong, WINDOW.kind),
    );
    const fair = Math.min(
      strong,
      threshold(samples, (s) => s.sameKind, TARGETS.fair, WINDOW.kind),
    );
    // Shoppers' photos: calibrated on the tune half (the same targets; the very product is not
    // measured there: a catalogue-like photo's threshold), reported on the other half.
    const tune = await streetSamples(r, column, 'tune');
    const report = await streetSamples(r, column, 'report');
    const shopperStrong = Math.min(
      sameProduct,
      threshold(tune, (s) => s.sameKind, TARGETS.strong, WINDOW.street),
    );
    const shopper: MatchThresholds = {
      sameProduct,
      strong: shopperStrong,
      fair: Math.min(
        shopperStrong,
        threshold(tune, (s) => s.sameKind, TARGETS.fair, WINDOW.street),
      ),
    };
    const thresholds: MatchThresholds = { sameProduct, strong, fair };
    const bands = bandsOf(samples, thresholds);
    const street = tune.length
      ? {
          tuneResults: tune.length,
          reportResults: report.length,
          thresholds: shopper,
          bands: bandsOf(report, shopper),
          withCatalogueThresholds: bandsOf(report, thresholds),
        }
      : undefined;
    return {
      similarity: kind,
      kindColumn: column,
      street,
      heldOutProducts: heldOut.length,
      photoQueries: photoItems.length,
      productQueries: productItems.length,
      k: K,
      photoTop1SameProduct: Number((top1 / Math.max(1, photoItems.length)).toFixed(3)),
      photoSameProductInTopK: Number((found / Math.max(1, photoItems.length)).toFixed(3)),
      scores: {
        sameProduct: percentiles(photo.filter((s) => s.sameProduct).map((s) => s.score)),
        sameKind: percentiles(samples.filter((s) => s.sameKind && !s.sameProduct).map((s) => s.score)),
        otherKind: percentiles(samples.filter((s) => !s.sameKind).map((s) => s.score)),
      },
      thresholds,
      bands,
      seconds: Number(((performance.now() - started) / 1000).toFixed(1)),
    };
  } finally {
    await r.close();
  }
}

const machine = describeMachine();
const date = new Date().toISOString().slice(0, 10);
type Report = Awaited<ReturnType<typeof calibrate>>;

function print(report: Report): void {
  console.log(`\n## ${report.similarity} similarity (${report.seconds} s)`);
  console.log(
    `queries: ${report.photoQueries} fashion-224 photos and ${report.productQueries} catalogue vectors of held-out products ` +
      `(${report.heldOutProducts} held out), the best ${K} of each; the photo's product is first for ${(report.photoTop1SameProduct * 100).toFixed(1)}%, ` +
      `in the best ${K} for ${(report.photoSameProductInTopK * 100).toFixed(1)}%`,
  );
  console.log('| scores of | n | p5 | p25 | p50 | p75 | p95 |\n|---|---|---|---|---|---|---|');
  for (const [name, p] of Object.entries(report.scores)) {
    const f = (x: number) => x.toFixed(3);
    console.log(`| ${name} | ${p.n} | ${f(p.p5)} | ${f(p.p25)} | ${f(p.p50)} | ${f(p.p75)} | ${f(p.p95)} |`);
  }
  console.log('| strength | from score | results | share | same kind | same product (photo queries) |');
  console.log('|---|---|---|---|---|---|');
  const from: Record<string, number> = {
    'same-product': report.thresholds.sameProduct,
    strong: report.thresholds.strong,
    fair: report.thresholds.fair,
  };
  for (const b of report.bands) {
    console.log(
      `| ${b.strength} (${b.label}) | ${Number.isFinite(from[b.strength] ?? Number.NaN) ? from[b.strength] : '-'} | ${b.results} | ${b.share} | ${b.sameKind ?? '-'} | ${b.sameProductOfPhotoResults ?? '-'} |`,
    );
  }
  if (report.street) {
    const t = report.street.thresholds;
    console.log(
      `\nshoppers' own photos (street-dev): thresholds from the tune half (${report.street.tuneResults} results), ` +
        `strong from ${t.strong}, fair from ${t.fair}; on the report half (${report.street.reportResults} results):`,
    );
    console.log(
      '| strength | results | share | same kind | with the catalogue thresholds: share | same kind |',
    );
    console.log('|---|---|---|---|---|---|');
    report.street.bands.forEach((b, i) => {
      const c = report.street?.withCatalogueThresholds[i];
      console.log(
        `| ${b.strength} | ${b.results} | ${b.share} | ${b.sameKind ?? '-'} | ${c?.share ?? '-'} | ${c?.sameKind ?? '-'} |`,
      );
    });
  }
}

if (values.only) {
  // One similarity, in this process (the parent runs each in a child of its own: one model and index in memory at a time).
  const report = await calibrate(values.only as SimilarityKind);
  await mkdir(dirname(values.out), { recursive: true });
  await writeJsonDurably(values.out, report);
} else {
  console.log(`calibrating match strengths on ${values.index} (${machine})`);
  const reports: Report[] = [];
  for (const kind of ['learned', 'original'] as const) {
    const out = `${values.out}.${kind}.json`;
    const args = process.argv.slice(2).concat(['--only', kind, '--out', out]);
    const child = spawnSync(process.execPath, [...process.execArgv, process.argv[1] as string, ...args], {
      stdio: 'inherit',
    });
    if (child.status !== 0)
      throw new Error(`calibrating the ${kind} similarity failed (${child.status ?? child.signal})`);
    const report = JSON.parse(await readFile(out, 'utf8')) as Report;
    await rm(out);
    reports.push(report);
    print(report);
  }
  console.log('\n// src/recommend/match-thresholds.ts');
  console.log(`// measured by \`npm run bench:calibrate\` on ${date} (${machine})`);
  // (Infinity: a target never reached, e.g. no score tells the very product; JSON has it as null.)
  const n = (x: number | null) =>
    x === null || !Number.isFinite(x) ? 'Number.POSITIVE_INFINITY' : String(x);
  const ts = (t: MatchThresholds) =>
    `{ sameProduct: ${n(t.sameProduct)}, strong: ${n(t.strong)}, fair: ${n(t.fair)} }`;
  console.log('export const MATCH_THRESHOLDS: Record<SimilarityKind, MatchThresholds> = {');
  for (const r of reports) console.log(`  ${r.similarity}: ${ts(r.thresholds)},`);
  console.log('};');
  console.log('export const SHOPPER_MATCH_THRESHOLDS: Record<SimilarityKind, MatchThresholds> = {');
  for (const r of reports) if (r.street) console.log(`  ${r.similarity}: ${ts(r.street.thresholds)},`);
  console.log('};');
  await mkdir(dirname(values.out), { recursive: true });
  await writeJsonDurably(values.out, {
    date,
    machine,
    index: values.index,
    targets: TARGETS,
    window: WINDOW,
    reports,
  });
  console.log(`\nwritten ${values.out}`);
}
