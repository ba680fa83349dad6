import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { z } from 'zod';
import { readCatalogue } from '../src/catalogue/catalogue.js';
import { type CatalogueSchema, SCHEMA_VERSION } from '../src/catalogue/schema.js';
import { BatchKnn } from '../src/compute/knn.js';
import { EvalIndex, NO_GROUP } from '../src/evaluation/eval-index.js';
import { type Evaluation, evaluate } from '../src/evaluation/evaluate.js';
import { metricRows, metricsText, sweepColumns } from '../src/evaluation/format.js';
import { escapeHtml } from '../src/evaluation/html.js';
import { judgedLabels, type MeanMetric } from '../src/evaluation/metrics.js';
import { evaluateQueries, selectQueryPhotos } from '../src/evaluation/queries.js';
import { renderReport } from '../src/evaluation/report.js';
import { allocate, catalogueSubset, NO_LABEL, stratifiedSample } from '../src/evaluation/subset.js';
import { type EvalSummary, evalSummaryZ } from '../src/evaluation/summary.js';
import { loadIndex } from '../src/index/store.js';
import { readJsonFile } from '../src/io/json-file.js';
import { Recommender } from '../src/recommend/recommender.js';
import { isHeldOut } from '../src/similarity/split.js';
import { catalogueImage, catalogueImages, queryImage, queryImages, stylesCsv } from './support/datasets.js';
import { DUPLICATE_PAIRS, type FixtureIndex, fixtureIndex } from './support/fixture-index.js';

const run = promisify(execFile);
const cli = join(import.meta.dirname, '..', 'bin', 'lookalike.js');

/** The fashion catalogue's facets as evaluation judges them: its kind column (articleType) first. */
const FASHION_LABELS = {
  columns: ['articleType', 'gender', 'masterCategory', 'subCategory', 'baseColour'],
  kind: 'articleType',
  kindFrom: 'schema',
};

/** A figure that must be there. */
function figure(figures: Record<string, MeanMetric>, label: string): MeanMetric {
  const f = figures[label];
  assert.ok(f, `no figure for ${label}`);
  return f;
}

/** Fixture products that also have a 224x224 photo in fashion-224 (ids 10000-21539). */
function withQueryPhoto(ids: Iterable<string>): string[] {
  return [...ids].filter((id) => existsSync(queryImage(id))).sort();
}

/** Fixture products on the held-out side of the split that have a 224x224 photo. */
async function heldOutWithQueryPhoto(): Promise<string[]> {
  const { items } = await loadIndex(fixture.dir);
  const held = new Set(items.filter((i) => isHeldOut(i.hash)).map((i) => i.id));
  return withQueryPhoto(fixture.ids).filter((id) => held.has(id));
}

/** A folder of symbolic links to some photos, named by product id. */
async function linkFolder(dir: string, photos: [id: string, path: string][]): Promise<string> {
  await mkdir(dir, { recursive: true });
  await Promise.all(photos.map(([id, path]) => symlink(path, join(dir, `${id}.jpg`))));
  return dir;
}

/** A folder of copies of some photos, named by product id (a catalogue's photos must lie inside its folder). */
async function copyFolder(dir: string, photos: [id: string, path: string][]): Promise<string> {
  await mkdir(dir, { recursive: true });
  await Promise.all(photos.map(([id, path]) => copyFile(path, join(dir, `${id}.jpg`))));
  return dir;
}

let fixture: FixtureIndex;
let tmp: string;
before(
  async () => {
    fixture = await fixtureIndex();
    tmp = await mkdtemp(join(tmpdir(), 'lookalike-eval-'));
  },
  { timeout: 600_000 },
);
after(() => rm(tmp, { recursive: true, force: true }));

describe('leave-one-out on the fixture index', { timeout: 300_000 }, () => {
  let ev: Evaluation;
  before(async () => {
    ev = await evaluate({ indexDir: fixture.dir });
  });
  after(() => ev.index.close());

  test('every product is a query; precision@5 of every facet of the schema is in [0, 1]', (t) => {
    const loo = ev.summary.leaveOneOut;
    // The labels judged come from the catalogue's schema: its facets, the kind column first.
    assert.deepEqual(ev.summary.labels, FASHION_LABELS);
    assert.deepEqual(Object.keys(loo.precision).sort(), [...FASHION_LABELS.columns].sort());
    assert.equal(loo.products, ev.index.count);
    assert.ok(ev.index.count >= 240);
    for (const label of FASHION_LABELS.columns) {
      const { value, queries } = figure(loo.precision, label);
      assert.ok(value !== null && value >= 0 && value <= 1, `${label}: ${value}`);
      // Headline figures are over the held-out side of the fixed split; precisionAll over every product.
      assert.equal(queries, loo.heldOut, `${label}: every held-out fixture product has the label`);
      assert.equal(figure(loo.precisionAll, label).queries, ev.index.count);
    }
    assert.ok(loo.heldOut > 0.1 * ev.index.count && loo.heldOut < 0.3 * ev.index.count);
    // Far better than chance for the coarse labels (the fixture spans ~60 kinds).
    assert.ok((figure(loo.precision, 'gender').value as number) > 0.5);
    assert.ok((figure(loo.precision, 'subCategory').value as number) > 0.4);
    assert.ok((figure(loo.precision, 'masterCategory').value as number) > 0.5);
    for (const c of ev.leaveOneOut.cases) assert.equal(c.results.length, 5);
    t.diagnostic(
      `${loo.products} products in ${loo.seconds.toFixed(3)} s: ${FASHION_LABELS.columns.map((l) => `${l} ${figure(loo.precision, l).value?.toFixed(3)}`).join(', ')}`,
    );
  });

  test("a product's identical twin never counts as its neighbour, and no photo is shown twice", () => {
    const { index } = ev;
    for (const [a, b] of DUPLICATE_PAIRS) {
      const rowA = index.rowById.get(a) as number;
      const rowB = index.rowById.get(b) as number;
      assert.equal(index.item(rowA).hash, index.item(rowB).hash, `${a} and ${b} are byte-identical`);
      for (const [row, twin] of [
        [rowA, rowB],
        [rowB, rowA],
      ] as const) {
        const results = ev.leaveOneOut.cases[row]?.results ?? [];
        const rows = results.map((n) => n.row);
        assert.ok(!rows.includes(row) && !rows.includes(twin), `${index.item(row).id}: ${rows}`);
        assert.ok(
          results.every((n) => n.score < 0.9999),
          'nothing identical to the query',
        );
      }
    }
    for (const c of ev.leaveOneOut.cases) {
      const hashes = c.results.map((n) => index.item(n.row).hash);
      assert.equal(new Set(hashes).size, hashes.length);
      assert.ok(!hashes.includes(index.item(c.row).hash));
    }
  });

  test('the batched leave-one-out gives exactly what Recommender.similar gives, for every product', async () => {
    const recommender = await Recommender.open(fixture.dir);
    const { index } = ev;
    for (const c of ev.leaveOneOut.cases) {
      const id = index.item(c.row).id;
      const expected = (await recommender.similar(id, { k: 5 })).results;
      // Identical photos are one result: compare photos (hashes), whichever of their ids is shown.
      assert.deepEqual(
        c.results.map((n) => index.item(n.row).hash),
        expected.map((r) => index.item(index.rowById.get(r.id) as number).hash),
        id,
      );
      c.results.forEach((n, i) => {
        assert.ok(Math.abs(n.score - (expected[i]?.score as number)) < 1e-4);
      });
    }
    await recommender.close();
  });

  test('the onnxruntime and usearch batch searches find the same neighbours', async () => {
    const { index } = ev;
    const queries = index.vectors.slice(0, 40 * index.dim);
    const onnx = await index.knn.search(queries, 12);
    const usearch = await BatchKnn.create(index.vectors, index.dim, { backend: 'usearch' });
    const other = await usearch.search(queries, 12);
    for (let q = 0; q < 40; q++) {
      const a = index.collapse(onnx, q, 5, NO_GROUP).neighbours.map((n) => index.groupOf[n.row]);
      const b = index.collapse(other, q, 5, NO_GROUP).neighbours.map((n) => index.groupOf[n.row]);
      assert.deepEqual(a, b);
    }
    await usearch.close();
  });

  test('a batch search closed while it runs answers it, then refuses new ones; closing twice is harmless', async () => {
    const { index } = ev;
    const knn = await BatchKnn.create(index.vectors, index.dim, { threads: 1 });
    const queries = index.vectors.slice(0, 3 * index.dim);
    const running = knn.search(queries, 4);
    const closed = knn.close();
    assert.deepEqual((await running).rows, (await index.knn.search(queries, 4)).rows);
    await closed;
    await knn.close();
    await assert.rejects(knn.search(queries, 4), /closed/);
  });

  test('a query whose batched neighbours run short is completed by Recommender.nearest', async () => {
    const { index } = ev;
    const [a] = DUPLICATE_PAIRS[0] as [string, string];
    const row = index.rowById.get(a) as number;
    const group = index.groupOf[row] as number;
    const short = await index.knn.search(index.vector(row), 3);
    const { neighbours, complete } = index.collapse(short, 0, 5, group);
    assert.equal(complete, false);
    assert.ok(neighbours.length < 5);
    const full = await index.nearest(index.vector(row), 5, group);
    assert.deepEqual(
      full.map((n) => n.row),
      ev.leaveOneOut.cases[row]?.results.map((n) => n.row),
    );
  });

  test('the HTML report inlines the photos, shows the metrics and escapes text', async () => {
    const html = await renderReport(ev, { samples: 4, title: '<b>&"x"' });
    assert.match(html, /^<!doctype html>/);
    assert.ok(html.includes('<img src="data:image/jpeg;base64,'));
    assert.ok(!/<img src="(?!data:)/.test(html), 'every photo is inlined');
    assert.ok(html.includes('&lt;b&gt;&amp;&quot;x&quot;'));
    assert.ok(!html.includes('<b>&"x"'));
    for (const label of FASHION_LABELS.columns) {
      assert.ok(html.includes(`${label} P@5 (leave-one-out, held-out products)`));
      assert.ok(html.includes((figure(ev.summary.leaveOneOut.precision, label).value as number).toFixed(3)));
    }
    assert.ok(html.includes('pooling=max resize=stretch channels=bgr'));
    assert.ok(html.includes(ev.summary.date));
    // Captions, legend and the per-kind table follow the schema: its title and kind columns.
    assert.ok(html.includes('same articleType as the query'));
    assert.ok(html.includes('articleType P@5 by articleType'));
    assert.ok(
      ev.index.items.some((i) =>
        html.includes(`<div class="name">${escapeHtml(i.metadata.productDisplayName)}</div>`),
      ),
      'products are captioned by their title',
    );
    assert.ok(html.includes('title="masterCategory"'), 'every facet is shown');
  });

  test('a schema without a kind column is judged by its first facet; one without facets, by none', () => {
    const schema: CatalogueSchema = {
      version: SCHEMA_VERSION,
      idColumn: 'sku',
      image: { by: 'file-name' },
      facets: ['brand', 'colour'],
    };
    assert.deepEqual(judgedLabels({ ...schema, kindColumn: 'colour' }), {
      columns: ['colour', 'brand'],
      kind: 'colour',
      kindFrom: 'schema',
    });
    const byFirst = judgedLabels(schema);
    assert.deepEqual(byFirst, { columns: ['brand', 'colour'], kind: 'brand', kindFrom: 'first facet' });
    const none = judgedLabels({ ...schema, facets: [] });
    assert.deepEqual(none, { columns: [], kind: null, kindFrom: 'none' });

    // The rows, the text and the sweep's columns follow the labels of the summary.
    const metric = { value: 0.5, queries: 10 };
    const base = ev.summary;
    const summary = (labels: EvalSummary['labels']): EvalSummary => ({
      ...base,
      labels,
      leaveOneOut: {
        ...base.leaveOneOut,
        precision: Object.fromEntries(labels.columns.map((c) => [c, metric])),
        precisionAll: Object.fromEntries(labels.columns.map((c) => [c, metric])),
      },
      queries: {
        dir: '/q',
        inFolder: 1,
        inIndex: 1,
        heldOut: 1,
        used: 1,
        failed: 0,
        recallAt1: 1,
        recallAt5: 1,
        meanReciprocalRank: 1,
        kindPrecision: labels.kind === null ? { value: null, queries: 0 } : metric,
        embedSeconds: 0,
        searchSeconds: 0,
      },
    });
    const first = summary(byFirst);
    assert.ok(metricRows(first).some((r) => r.name === 'brand P@5 (query photos, other results)'));
    assert.match(metricsText(first), /no kind column: kind figures are judged by its first facet, brand/);
    assert.deepEqual(
      sweepColumns(byFirst).map((c) => c.header),
      ['brand P@5', 'colour P@5', 'recall@1', 'recall@5', 'brand P@5 (queries)'],
    );
    const bare = summary(none);
    assert.deepEqual(
      metricRows(bare).map((r) => r.name),
      ['recall@1 (query photos, held-out products)', 'recall@5 (query photos, held-out products)'],
    );
    assert.match(metricsText(bare), /has no facets: no label precision or kind figures are measured/);
    assert.deepEqual(
      sweepColumns(none).map((c) => c.header),
      ['recall@1', 'recall@5'],
    );
  });
});

describe('query photos: the same products at 224x224', { timeout: 180_000 }, () => {
  test('recall@5 is high: the product itself is found at the other resolution', async (t) => {
    const index = await EvalIndex.open(fixture.dir);
    try {
      const selection = await selectQueryPhotos(queryImages, index, 8, 1);
      assert.equal(selection.inIndex, withQueryPhoto(fixture.ids).length);
      // Only products on the held-out side of the split are queries.
      assert.equal(selection.heldOut, (await heldOutWithQueryPhoto()).length);
      assert.equal(selection.photos.length, Math.min(8, selection.heldOut));
      assert.ok(selection.photos.length >= 4);
      assert.ok(selection.photos.every((p) => fixture.ids.has(p.id) && isHeldOut(index.item(p.row).hash)));
      // Deterministic choice.
      assert.deepEqual((await selectQueryPhotos(queryImages, index, 8, 1)).photos, selection.photos);
      const q = await evaluateQueries(index, selection);
      assert.equal(q.used, selection.photos.length);
      assert.ok((q.recallAt5 as number) >= 0.85, `recall@5 ${q.recallAt5}`);
      assert.ok((q.recallAt1 as number) >= 0.6, `recall@1 ${q.recallAt1}`);
      assert.ok((q.recallAt1 as number) <= (q.recallAt5 as number));
      const p = q.kindPrecision.value as number;
      assert.ok(p >= 0 && p <= 1);
      for (const c of q.cases) {
        assert.ok(c.rank >= 1);
        const own = index.groupOf[c.row];
        assert.equal(
          c.rank <= 5,
          c.results.some((n) => index.groupOf[n.row] === own),
        );
        assert.ok(c.others.every((n) => index.groupOf[n.row] !== own));
        assert.equal(c.others.length, 5);
      }
      t.diagnostic(
        `recall@1 ${q.recallAt1}, recall@5 ${q.recallAt5}, articleType P@5 of the others ${p.toFixed(3)}`,
      );
    } finally {
      await index.close();
    }
  });
});

describe('stratified subset of the real catalogue', { timeout: 180_000 }, () => {
  test('allocation: proportional, at least one per stratum, never short', () => {
    const sizes = new Map([
      ['a', 700],
      ['b', 290],
      ['c', 9],
      ['d', 1],
    ]);
    const out = allocate(sizes, 100);
    assert.deepEqual(Object.fromEntries(out), { a: 70, b: 29, c: 1, d: 1 });
    assert.deepEqual(Object.fromEntries(allocate(sizes, 5000)), Object.fromEntries(sizes));
  });

  test('deterministic, proportional, every articleType present, at least the size asked for', async () => {
    // As catalogueSubset samples the catalogue: products with a photo, by the schema's kind column.
    const { products } = await readCatalogue({ imagesDir: catalogueImages, metadataPath: stylesCsv });
    const metadata = new Map(products.map((p) => [p.id, p.metadata]));
    const items = products.map((p) => ({ id: p.id, stratum: p.metadata.articleType }));
    const sample = stratifiedSample(items, 1000, 1);
    const subset = await catalogueSubset({
      imagesDir: catalogueImages,
      metadataPath: stylesCsv,
      size: 1000,
      seed: 1,
    });
    assert.equal(subset.label, 'articleType', 'stratified by the kind column');
    assert.deepEqual(subset.ids, sample.ids);
    assert.deepEqual(
      stratifiedSample(items.slice().reverse(), 1000, 1).ids,
      sample.ids,
      'same seed, same ids',
    );
    assert.notDeepEqual(stratifiedSample(items, 1000, 2).ids, sample.ids);
    assert.ok(sample.ids.length >= 1000 && sample.ids.length < 1000 + sample.strata.length);
    assert.equal(new Set(sample.ids).size, sample.ids.length);

    const typeOf = (id: string) => metadata.get(id)?.articleType || NO_LABEL;
    const withPhotos = new Map<string, number>();
    for (const p of products) withPhotos.set(typeOf(p.id), (withPhotos.get(typeOf(p.id)) ?? 0) + 1);
    const chosen = new Map<string, number>();
    const photoIds = new Set(products.map((p) => p.id));
    for (const id of sample.ids) {
      assert.ok(photoIds.has(id), `${id} has a photo`);
      chosen.set(typeOf(id), (chosen.get(typeOf(id)) ?? 0) + 1);
    }
    assert.deepEqual(
      [...chosen.keys()].sort(),
      [...withPhotos.keys()].sort(),
      'every articleType is present',
    );
    for (const [type, available] of withPhotos) {
      const exact = (available * 1000) / products.length;
      const got = chosen.get(type) as number;
      assert.ok(
        got >= 1 && got >= Math.floor(exact) && got <= Math.max(1, Math.ceil(exact)),
        `${type}: ${got} for ${exact}`,
      );
    }
    assert.ok((chosen.get('Tshirts') as number) >= 155, 'the largest type keeps its share');
  });
});

describe('lookalike eval (CLI)', { timeout: 600_000 }, () => {
  test('--queries --json: metrics as JSON, and the HTML report with inlined photos', async () => {
    const ids = (await heldOutWithQueryPhoto()).slice(0, 6);
    const queries = await linkFolder(
      join(tmp, 'queries'),
      ids.map((id) => [id, queryImage(id)]),
    );
    const report = join(tmp, 'report.html');
    const { stdout } = await run('node', [
      cli,
      'eval',
      '--index',
      fixture.dir,
      '--queries',
      queries,
      '--report',
      report,
      '--samples',
      '4',
      '--json',
    ]);
    // The JSON is a summary as the sweep stores it (validated by its schema), and the report's path.
    const json = evalSummaryZ.extend({ report: z.string() }).parse(JSON.parse(stdout));
    assert.equal(json.products, fixture.ids.size);
    assert.deepEqual(json.labels, FASHION_LABELS);
    assert.ok(json.queries);
    assert.equal(json.queries.used, ids.length);
    assert.ok((json.queries.recallAt5 as number) >= 0.8, `recall@5 ${json.queries.recallAt5}`);
    const kindPrecision = json.queries.kindPrecision.value as number;
    assert.ok(kindPrecision >= 0 && kindPrecision <= 1);
    for (const label of FASHION_LABELS.columns) {
      const v = figure(json.leaveOneOut.precision, label).value as number;
      assert.ok(v >= 0 && v <= 1);
    }
    assert.equal(json.report, report);
    const html = await readFile(report, 'utf8');
    assert.ok(html.includes('<img src="data:image/jpeg;base64,'));
    assert.ok(html.includes((figure(json.leaveOneOut.precision, 'articleType').value as number).toFixed(3)));
    assert.ok(html.includes('articleType P@5 (query photos, other results)'));
    assert.ok(html.includes((json.queries.recallAt5 as number).toFixed(3)));
    assert.ok(html.includes('Query photos: worst cases'));
  });

  test('prints the metrics table, and writes the report beside the index by default', async () => {
    const { stdout } = await run('node', [cli, 'eval', '--index', fixture.dir]);
    assert.match(stdout, /articleType P@5 \(leave-one-out, held-out products\)\s+0\.\d{3}\s+\d+/);
    assert.match(stdout, /Split: held-out = /);
    assert.match(
      stdout,
      /Labels judged: articleType, gender, masterCategory, subCategory, baseColour; kind: articleType/,
    );
    assert.match(stdout, /Leave-one-out: \d+ queries, k=5, in [\d.]+ s/);
    const report = join(fixture.dir, 'eval-report.html');
    assert.ok(stdout.includes(`Report: ${report}`));
    assert.ok(existsSync(report));
  });

  test('errors: no index, an empty query folder, no query photo of an indexed product', async () => {
    const missing = await run('node', [cli, 'eval', '--index', join(tmp, 'nowhere')]).catch((e) => e);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no index at .*nowhere/);

    const empty = join(tmp, 'empty');
    await mkdir(empty);
    const none = await run('node', [cli, 'eval', '--index', fixture.dir, '--queries', empty]).catch((e) => e);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no photos in the query folder/);

    const unrelated = readdirSync(queryImages)
      .map((f) => f.slice(0, -4))
      .filter((id) => !fixture.ids.has(id))
      .slice(0, 3);
    const strangers = await linkFolder(
      join(tmp, 'strangers'),
      unrelated.map((id) => [id, queryImage(id)]),
    );
    const foreign = await run('node', [cli, 'eval', '--index', fixture.dir, '--queries', strangers]).catch(
      (e) => e,
    );
    assert.equal(foreign.code, 1);
    assert.match(foreign.stderr, /none of the 3 photos .* is named after a product of the index/);

    const misuse = await run('node', [cli, 'eval', '--index', fixture.dir, '--subset', '10']).catch((e) => e);
    assert.equal(misuse.code, 1);
    assert.match(misuse.stderr, /--subset: only with --sweep/);
  });

  test('--sweep: a tiny sweep prints the table, writes results and reports, and a rerun reuses it all', async () => {
    // The fixture's photos as the catalogue: the stretch-max index reuses the fixture's vectors.
    const images = await copyFolder(
      join(tmp, 'catalogue'),
      [...fixture.ids].map((id) => [id, catalogueImage(id)]),
    );
    const work = join(tmp, 'sweep');
    const args = [
      cli,
      'eval',
      '--sweep',
      '--images',
      images,
      '--metadata',
      stylesCsv,
      '--subset',
      '60',
      '--configs',
      'stretch-max,pad-avg',
      '--queries',
      queryImages,
      '--max-queries',
      '10',
      '--work',
      work,
      '--index',
      fixture.dir,
    ];
    const first = await run('node', args);
    const lines = first.stdout.split('\n');
    assert.ok(
      lines.includes(
        '| config | articleType P@5 | gender P@5 | masterCategory P@5 | subCategory P@5 | baseColour P@5 | recall@1 | recall@5 | articleType P@5 (queries) | top-5 overlap vs stretch-max |',
      ),
      first.stdout,
    );
    const rows = lines.filter((l) => /^\| (stretch-max|pad-avg) \|/.test(l));
    assert.equal(rows.length, 2);
    for (const row of rows) assert.equal(row.split('|').length, 12);
    assert.match(rows[0] as string, /\| 1\.000 \|$/, 'the first configuration overlaps itself fully');
    assert.ok(first.stdout.includes('**'), 'the best values are in bold');
    assert.match(first.stdout, /Best: (stretch-max|pad-avg) \(by leave-one-out articleType P@5/);
    assert.match(first.stdout, /stratified by articleType/);
    assert.match(first.stderr, /config 1\/2: stretch-max/);
    assert.match(first.stderr, /subset: \d+ photos over \d+ values of articleType/);
    assert.match(first.stderr, /\d+ photos, 0 to embed/, 'stretch-max reuses the fixture vectors');

    const results = await readJsonFile(
      join(work, 'results.json'),
      z.object({
        subset: z.object({ size: z.number(), stratifiedBy: z.string().nullable() }),
        configs: z.array(z.object({ config: z.object({ name: z.string() }), summary: evalSummaryZ })),
        best: z.string().optional(),
      }),
    );
    assert.deepEqual(
      results.configs.map((c) => c.config.name),
      ['stretch-max', 'pad-avg'],
    );
    assert.ok(results.subset.size >= 60);
    assert.equal(results.subset.stratifiedBy, 'articleType');
    assert.ok(results.best);
    for (const c of results.configs) {
      const used = c.summary.queries?.used ?? 0;
      assert.ok(used > 0 && used <= 10);
      assert.deepEqual(c.summary.labels, FASHION_LABELS);
      assert.ok(existsSync(join(work, c.config.name, 'eval-report.html')));
      // Each configuration's kept evaluation reads back through the summary's schema.
      const kept = await readJsonFile(
        join(work, c.config.name, 'eval.json'),
        z.object({ key: z.string(), summary: evalSummaryZ }),
      );
      assert.deepEqual(kept.summary, c.summary);
    }

    const second = await run('node', args);
    assert.equal(second.stdout, first.stdout);
    assert.equal(second.stderr.match(/evaluated earlier \(kept\)/g)?.length, 2);
  });
});
