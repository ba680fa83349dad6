/**
 * A second, different catalogue end to end: a shop's `sku,title,brand,colour,category,price` CSV
 * (and the same as JSON Lines), photos in nested folders named by sku, rows without photos. Its
 * schema is detected, stored with the index and followed by the CLI, the recommender and the
 * server (the page's filters and cards in Chromium are in web.test.ts, the API in http.test.ts).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { readCatalogue } from '../src/catalogue/catalogue.js';
import { detectSchema } from '../src/catalogue/schema.js';
import { optionsForSpec } from '../src/embeddings/spec.js';
import { openStore } from '../src/index/location/open.js';
import { runIndexing } from '../src/index/pipeline.js';
import { loadIndex } from '../src/index/store.js';
import { Recommender } from '../src/recommend/recommender.js';
import { type ShopCatalogue, type ShopRow, shopCatalogue } from './support/shop-catalogue.js';

const run = promisify(execFile);
const cli = join(import.meta.dirname, '..', 'bin', 'lookalike.js');

let shop: ShopCatalogue;
let work: string;
let out: string;
before(async () => {
  shop = await shopCatalogue();
  work = await mkdtemp(join(tmpdir(), 'lookalike-shop-'));
  out = join(work, 'index');
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});
const rowOf = (sku: string) => shop.rows.find((r) => r.sku === sku);

describe('catalogue schema', () => {
  test('is detected from a shop CSV: sku id, title, facets brand/colour/category, not the price', {
    timeout: 180_000,
  }, async () => {
    const catalogue = await readCatalogue({ imagesDir: shop.photos, metadataPath: shop.csv });
    assert.deepEqual(catalogue.schema, {
      version: 1,
      idColumn: 'sku',
      image: { by: 'file-name' },
      titleColumn: 'title',
      facets: ['brand', 'colour', 'category'],
      kindColumn: 'category',
      colourColumn: 'colour',
    });
    // Photos found in nested folders by sku; rows without a photo reported, not fatal.
    assert.equal(catalogue.products.length, shop.rows.length);
    assert.ok(catalogue.products.every((p) => p.file.includes('/') && p.file.endsWith(`${p.id}.jpg`)));
    assert.deepEqual(
      catalogue.skipped.map((s) => [s.id, s.code]),
      shop.missing.map((id) => [id, 'no-photo']),
    );
    const first = catalogue.products[0];
    assert.equal(first?.metadata.brand, rowOf(first?.id ?? '')?.brand);
    assert.equal(first?.metadata.sku, undefined);
  });

  test('the fashion catalogue keeps its filters, title and kind', { timeout: 180_000 }, () => {
    const columns = ['id', 'gender', 'masterCategory', 'subCategory', 'articleType', 'baseColour', 'season'];
    const schema = detectSchema([...columns, 'year', 'usage', 'productDisplayName'], []);
    assert.deepEqual(schema.facets, ['gender', 'masterCategory', 'subCategory', 'articleType', 'baseColour']);
    assert.equal(schema.titleColumn, 'productDisplayName');
    assert.equal(schema.kindColumn, 'articleType');
    assert.equal(schema.colourColumn, 'baseColour');
  });

  test('overrides: flags win over lookalike.json, which wins over detection; mistakes are refused', {
    timeout: 180_000,
  }, async () => {
    const csv = join(work, 'products.csv');
    await copyFile(shop.csv, csv);
    const overrides = join(work, 'lookalike.json');
    await writeFile(overrides, JSON.stringify({ facets: ['brand'], titleColumn: 'price' }));
    const fromFile = await readCatalogue({ imagesDir: shop.photos, metadataPath: csv });
    assert.deepEqual(fromFile.schema.facets, ['brand', 'category']); // the kind column stays a facet
    assert.equal(fromFile.schema.titleColumn, 'price');
    const fromFlags = await readCatalogue({
      imagesDir: shop.photos,
      metadataPath: csv,
      overrides: { facets: ['colour'], titleColumn: 'title' },
    });
    assert.deepEqual(fromFlags.schema.facets, ['colour', 'category']);
    assert.equal(fromFlags.schema.titleColumn, 'title');
    await assert.rejects(
      readCatalogue({ imagesDir: shop.photos, metadataPath: csv, overrides: { facets: ['size'] } }),
      /facet "size" is not in the metadata/,
    );
    await writeFile(overrides, JSON.stringify({ facet: ['brand'] }));
    await assert.rejects(readCatalogue({ imagesDir: shop.photos, metadataPath: csv }), /lookalike\.json/);
    await rm(overrides);
  });

  test('JSON Lines metadata with an image-path column', { timeout: 180_000 }, async () => {
    const catalogue = await readCatalogue({ imagesDir: shop.photos, metadataPath: shop.csv });
    const lines = catalogue.products.map((p) =>
      JSON.stringify({
        sku: p.id,
        title: p.metadata.title,
        brand: p.metadata.brand,
        picture: p.file,
        price: 12.5,
      }),
    );
    lines.push(JSON.stringify({ sku: 'SKU-GONE', title: 'Gone', brand: 'Acme', picture: 'nowhere/x.jpg' }));
    lines.push(JSON.stringify({ sku: 'SKU-OUT', title: 'Out', brand: 'Acme', picture: '../../etc/passwd' }));
    const jsonl = join(work, 'products.jsonl');
    await writeFile(jsonl, `${lines.join('\n')}\n`);
    const fromJsonl = await readCatalogue({
      imagesDir: shop.photos,
      metadataPath: jsonl,
      overrides: { imageColumn: 'picture' },
    });
    assert.deepEqual(fromJsonl.schema.image, { by: 'column', column: 'picture' });
    assert.deepEqual(fromJsonl.schema.facets, ['brand']);
    assert.equal(fromJsonl.products.length, catalogue.products.length);
    assert.equal(fromJsonl.products[0]?.metadata.price, '12.5');
    assert.deepEqual(
      fromJsonl.skipped.map((s) => [s.id, s.code]),
      [
        ['SKU-GONE', 'no-photo'],
        ['SKU-OUT', 'no-photo'],
      ],
    );
    assert.match(fromJsonl.skipped[1]?.reason ?? '', /outside the photos folder/);
  });

  test('links are followed inside the photos folder only, for photos named by id or by a column', {
    timeout: 60_000,
  }, async () => {
    const root = join(work, 'linked');
    const photos = join(root, 'photos');
    await mkdir(join(photos, 'kept'), { recursive: true });
    const [a, b] = shop.rows as [ShopRow, ShopRow];
    const source = (row: ShopRow) => join(shop.photos, row.category.toLowerCase(), `${row.sku}.jpg`);
    await copyFile(source(a), join(photos, 'kept', 'a.jpg'));
    await symlink(join(photos, 'kept', 'a.jpg'), join(photos, 'inside.jpg'));
    await symlink(source(b), join(photos, 'out.jpg'));
    await symlink(join(shop.photos, b.category.toLowerCase()), join(photos, 'elsewhere'));
    await symlink(join(root, 'gone.jpg'), join(photos, 'dead.jpg'));
    const byName = await readCatalogue({ imagesDir: photos });
    assert.deepEqual(
      byName.products.map((p) => p.file),
      ['inside.jpg', 'kept/a.jpg'],
    );
    assert.deepEqual(
      byName.skipped.map((s) => [s.file, s.code]),
      [
        ['dead.jpg', 'dangling-link'],
        ['elsewhere', 'outside-catalogue'],
        ['out.jpg', 'outside-catalogue'],
      ],
    );
    const jsonl = join(root, 'products.jsonl');
    const rows = [
      ['P1', 'kept/a.jpg'],
      ['P2', 'inside.jpg'],
      ['P3', 'out.jpg'],
      ['P4', `elsewhere/${b.sku}.jpg`],
      ['P5', 'dead.jpg'],
      ['P6', 'kept'],
    ];
    await writeFile(jsonl, rows.map(([sku, picture]) => JSON.stringify({ sku, picture })).join('\n'));
    const byColumn = await readCatalogue({
      imagesDir: photos,
      metadataPath: jsonl,
      overrides: { imageColumn: 'picture' },
    });
    assert.deepEqual(
      byColumn.products.map((p) => p.id),
      ['P2', 'P1'],
    );
    assert.deepEqual(
      byColumn.skipped.map((s) => [s.id, s.code]),
      [
        ['P3', 'outside-catalogue'],
        ['P4', 'outside-catalogue'],
        ['P5', 'dangling-link'],
        ['P6', 'not-a-file'],
      ],
    );
  });
});

describe('a shop catalogue end to end (CLI, recommender, server)', () => {
  test('lookalike index stores the schema with the index and reports rows without photos', {
    timeout: 180_000,
  }, async () => {
    const { stdout, stderr } = await run('node', [
      cli,
      'index',
      shop.photos,
      '--metadata',
      shop.csv,
      '--out',
      out,
    ]);
    assert.match(stdout, new RegExp(`Indexed ${shop.rows.length} products`));
    assert.match(stderr, /facets=brand,colour,category kind=category/);
    assert.match(stderr, /the metadata has 2 rows without a photo/);
    const index = await loadIndex(out);
    assert.equal(index.manifest.schema?.idColumn, 'sku');
    assert.deepEqual(index.manifest.schema?.facets, ['brand', 'colour', 'category']);
    const skipped = JSON.parse(await readFile(join(out, 'skipped.json'), 'utf8')) as { id: string }[];
    assert.deepEqual(skipped.map((s) => s.id).sort(), [...shop.missing].sort());
  });

  test('recommend with a filter on brand, and similar, follow the schema', { timeout: 180_000 }, async () => {
    const { sku } = shop.rows.find((r) => r.brand === 'Acme') as { sku: string };
    const { stdout } = await run('node', [
      cli,
      'similar',
      sku,
      '--index',
      out,
      '--where',
      'brand=Zenith',
      '--json',
    ]);
    const answer = JSON.parse(stdout);
    assert.ok(answer.results.length > 0);
    for (const r of answer.results) {
      assert.equal(r.metadata.brand, 'Zenith');
      assert.deepEqual(Object.keys(r.facets), ['brand', 'colour', 'category']);
      assert.equal(r.name, rowOf(r.id)?.title);
    }
    const table = await run('node', [cli, 'similar', sku, '--index', out, '-k', '3']);
    assert.match(table.stdout, /brand/);
    assert.doesNotMatch(table.stdout, /articleType|masterCategory/);

    const photo = join(
      shop.photos,
      'bag',
      `${(shop.rows.find((r) => r.category === 'Bag') as { sku: string }).sku}.jpg`,
    );
    const recommended = await run('node', [
      cli,
      'recommend',
      photo,
      '--index',
      out,
      '--where',
      'brand=acme',
      '--json',
    ]);
    for (const r of JSON.parse(recommended.stdout).results) assert.equal(r.metadata.brand, 'Acme');

    const recommender = await Recommender.open(out);
    try {
      assert.equal(recommender.schema.kindColumn, 'category');
      const result = await recommender.recommend(photo, { k: 3, where: { category: ['shoe'] } });
      assert.equal(result.query.recognisedAs, photo.slice(photo.lastIndexOf('/') + 1, -4));
      assert.equal(result.results.length, 3);
      for (const r of result.results) {
        assert.equal(r.metadata.category, 'Shoe');
        assert.equal(r.name, rowOf(r.id)?.title);
      }
      await assert.rejects(
        recommender.similar(sku, { where: { gender: ['Men'] } }),
        /unknown filter column "gender"/,
      );
    } finally {
      await recommender.close();
    }
  });

  test("the store's batch writer runs the same pipeline: nothing changed, nothing committed", {
    timeout: 180_000,
  }, async () => {
    const store = await openStore(out);
    try {
      const result = await runIndexing({
        sink: store.writer(),
        source: { imagesDir: shop.photos, metadataPath: shop.csv },
        // The index's own precision and input size (the CLI made it; new indexes default to int8).
        embedder: optionsForSpec(store.spec),
      });
      assert.equal(result.embedded, 0);
      assert.equal(result.committed, false);
      assert.equal(result.count, shop.rows.length);
      assert.ok(result.timings.plan > 0);
    } finally {
      await store.close();
    }
  });

  test('lookalike serve --catalogue indexes it and serves its facets and products', {
    timeout: 180_000,
  }, async () => {
    const served = join(work, 'served');
    const child: ChildProcess = spawn(
      'node',
      [cli, 'serve', '--catalogue', shop.photos, '--metadata', shop.csv, '--index', served, '--port', '0'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      let errors = '';
      child.stderr?.on('data', (chunk) => {
        errors += chunk;
      });
      const url = await new Promise<string>((resolve, reject) => {
        let text = '';
        child.stdout?.on('data', (chunk) => {
          text += chunk;
          const m = text.match(/open (http:\/\/\S+?)\/? /);
          if (m) resolve(m[1] as string);
        });
        child.once('exit', (code) => reject(new Error(`serve exited with ${code}:\n${errors}`)));
      });
      const facets = (await (await fetch(`${url}/api/facets`)).json()) as {
        facets: { column: string }[];
        title: string;
        kind: string;
      };
      assert.deepEqual(
        facets.facets.map((f) => f.column),
        ['brand', 'colour', 'category'],
      );
      assert.deepEqual([facets.title, facets.kind], ['title', 'category']);
      const row = shop.rows[0] as { sku: string; title: string };
      const product = (await (await fetch(`${url}/api/products/${row.sku}`)).json()) as { name: string };
      assert.equal(product.name, row.title);
      const similar = await fetch(`${url}/api/products/${row.sku}/similar?brand=Zenith`);
      assert.equal(similar.status, 200);
    } finally {
      child.kill('SIGTERM');
    }
  });
});
