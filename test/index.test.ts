import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { ExactSearch } from '../src/index/search.js';
import { SearchBatcher } from '../src/index/search-batcher.js';
import { loadIndex } from '../src/index/store.js';
import { QueryOutdatedError, Recommender } from '../src/recommend/recommender.js';
import { buildIndex } from './support/build-index.js';
import { catalogueImage, firstCatalogueImages, queryImage, stylesCsv } from './support/datasets.js';
import { DUPLICATE_PAIRS, fixtureIndex } from './support/fixture-index.js';

const run = promisify(execFile);
const cli = join(import.meta.dirname, '..', 'bin', 'lookalike.js');

/** A writable catalogue folder with copies of real photos. */
async function makeCatalogue(photos: string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lookalike-catalogue-'));
  for (const p of photos) await copyFile(p, join(dir, p.slice(p.lastIndexOf('/') + 1)));
  return dir;
}

/** Rows of the fixture index whose mixes the search tests query with. */
const MIXED_ROWS = [0, 7, 42, 100, 199, 3, 150, 77];

/** A unit-length mix of MIXED_ROWS[i] and the next of them: a query unlike any row. */
function mixedQuery(exact: ExactSearch, i: number): Float32Array {
  const q = exact.vector(MIXED_ROWS[i] as number);
  const other = exact.vector(MIXED_ROWS[(i + 1) % MIXED_ROWS.length] as number);
  const mix = q.map((x, d) => x + 0.5 * (other[d] as number));
  const norm = Math.hypot(...mix);
  return mix.map((x) => x / norm);
}

/**
 * Searches (k=5) on their way when the batcher closes, their matrix products running: it waits
 * for them, and they are answered with the rows `full` finds (nothing released under a run).
 */
async function searchesCaughtByClose(
  batcher: SearchBatcher,
  queries: Float32Array[],
  full: ExactSearch,
): Promise<void> {
  const late = Promise.all(queries.map((q) => batcher.search(q, 5)));
  await new Promise((resolve) => setImmediate(resolve));
  await batcher.close();
  for (const [i, hits] of (await late).entries()) {
    assert.deepEqual(
      hits.map((h) => h.row),
      full.search(queries[i] as Float32Array, 5).map((h) => h.row),
    );
  }
}

const tmp: string[] = [];
after(async () => {
  for (const d of tmp) await rm(d, { recursive: true, force: true });
});

describe('lookalike index', () => {
  let images: string;
  let out: string;
  before(async () => {
    images = await makeCatalogue(firstCatalogueImages(30));
    out = await mkdtemp(join(tmpdir(), 'lookalike-index-'));
    tmp.push(images, out);
  });

  test('writes vectors, ids, metadata, content hashes and a manifest', { timeout: 300_000 }, async () => {
    // fp32, as the library-built runs below (the CLI's default for new indexes is int8).
    const { stdout } = await run('node', [
      cli,
      'index',
      images,
      '--metadata',
      stylesCsv,
      '--out',
      out,
      '--precision',
      'fp32',
    ]);
    assert.match(stdout, /Indexed 30 products/);
    const index = await loadIndex(out);
    assert.equal(index.manifest.count, 30);
    assert.equal(index.manifest.dim, 2048);
    assert.equal(index.manifest.spec.pooling, 'max');
    assert.equal(index.manifest.spec.resize, 'stretch');
    assert.equal(index.vectors.length, 30 * 2048);
    const first = index.items[0];
    assert.equal(first?.id, '10000');
    assert.match(first?.hash ?? '', /^[0-9a-f]{64}$/);
    assert.equal(first?.metadata.articleType, 'Skirts');
    // The CSV's other rows have no photo here: listed as such, and no photo failed.
    const skipped = JSON.parse(await readFile(join(out, 'skipped.json'), 'utf8')) as { code: string }[];
    assert.ok(skipped.length > 40_000);
    assert.deepEqual(
      skipped.filter((s) => s.code !== 'no-photo'),
      [],
    );
  });

  test('a re-run embeds only what is new or changed and drops what is gone', {
    timeout: 300_000,
  }, async () => {
    const [a, b, c] = firstCatalogueImages(33).slice(30);
    await copyFile(a as string, join(images, '90001.jpg'));
    await copyFile(b as string, join(images, '90002.jpg'));
    await copyFile(c as string, join(images, '10000.jpg')); // changed content
    await rm(join(images, '10001.jpg')); // gone
    const result = await buildIndex({ imagesDir: images, outDir: out, metadataPath: stylesCsv });
    assert.equal(result.embedded, 3);
    assert.equal(result.removed, 1);
    assert.equal(result.total, 31);
    const ids = (await loadIndex(out)).items.map((i) => i.id);
    assert.ok(ids.includes('90001') && ids.includes('90002') && !ids.includes('10001'));
    // Nothing changed: nothing embedded, nothing rewritten.
    const again = await buildIndex({ imagesDir: images, outDir: out, metadataPath: stylesCsv });
    assert.equal(again.embedded, 0);
    assert.equal(again.committed, false);
  });

  test('identical photos are embedded once', { timeout: 300_000 }, async () => {
    await copyFile(join(images, '10002.jpg'), join(images, '90003.jpg'));
    const result = await buildIndex({ imagesDir: images, outDir: out, metadataPath: stylesCsv });
    assert.equal(result.embedded, 0);
    const index = await loadIndex(out);
    const hashes = new Map(index.items.map((i) => [i.id, i.hash]));
    assert.equal(hashes.get('90003'), hashes.get('10002'));
  });

  test('a bad photo is skipped, reported in skipped.json, and the exit status is 2', {
    timeout: 300_000,
  }, async () => {
    await writeFile(join(images, '90004.jpg'), 'not a photo at all');
    await writeFile(join(images, '90005.png'), '');
    const err = await run('node', [cli, 'index', images, '--metadata', stylesCsv, '--out', out]).catch(
      (e) => e,
    );
    assert.equal(err.code, 2);
    assert.match(err.stdout, /2 skipped/);
    assert.match(err.stderr, /90004\.jpg/);
    const skipped = JSON.parse(await readFile(join(out, 'skipped.json'), 'utf8'));
    assert.deepEqual(
      skipped
        .filter((s: { code: string }) => s.code !== 'no-photo' && s.code !== 'no-row')
        .map((s: { id: string; code: string }) => [s.id, s.code]),
      [
        ['90004', 'not-an-image'],
        ['90005', 'empty'],
      ],
    );
    // Photos without a row of the metadata are indexed, and noted.
    assert.deepEqual(
      skipped
        .filter((s: { code: string }) => s.code === 'no-row')
        .map((s: { id: string }) => s.id)
        .sort(),
      ['90001', '90002', '90003', '90004', '90005'],
    );
    assert.match(err.stderr, /5 photos without a metadata row \(indexed without metadata\)/);
    assert.equal((await loadIndex(out)).manifest.count, 32);
    await rm(join(images, '90004.jpg'));
    await rm(join(images, '90005.png'));
  });

  test('refuses to mix embeddings made another way', { timeout: 300_000 }, async () => {
    const err = await run('node', [cli, 'index', images, '--out', out, '--pooling', 'avg']).catch((e) => e);
    assert.equal(err.code, 1);
    assert.match(err.stderr, /built with .*pooling=max.*--rebuild/);
  });

  test('--hnsw builds the approximate-search graph; --search hnsw uses it and agrees with exact search', {
    timeout: 300_000,
  }, async () => {
    const { stdout } = await run('node', [
      cli,
      'index',
      images,
      '--metadata',
      stylesCsv,
      '--out',
      out,
      '--hnsw',
      'f16',
    ]);
    assert.match(stdout, /Built the f16 HNSW graph/);
    const ask = async (search: string) =>
      JSON.parse(
        (await run('node', [cli, 'similar', '10003', '--index', out, '--search', search, '--json'])).stdout,
      );
    const [exact, approx] = [await ask('exact'), await ask('hnsw')];
    // Compare photos, not ids: identical photos are one result, shown under either id.
    const photos = (body: { results: { id: string; alsoListedAs: string[] }[] }) =>
      body.results.map((r) => [r.id, ...r.alsoListedAs].sort().join('+'));
    assert.deepEqual(photos(approx), photos(exact));
    // Up to date: nothing rebuilt.
    const again = await run('node', [
      cli,
      'index',
      images,
      '--metadata',
      stylesCsv,
      '--out',
      out,
      '--hnsw',
      'f16',
    ]);
    assert.doesNotMatch(again.stdout, /Built/);
  });

  test('no photos, or no folder: a clear error', { timeout: 300_000 }, async () => {
    const empty = await mkdtemp(join(tmpdir(), 'lookalike-empty-'));
    tmp.push(empty);
    const err = await run('node', [cli, 'index', empty, '--out', join(empty, 'idx')]).catch((e) => e);
    assert.equal(err.code, 1);
    assert.match(err.stderr, /no photos in/);
    const missing = await run('node', [cli, 'index', join(empty, 'nope'), '--out', join(empty, 'idx')]).catch(
      (e) => e,
    );
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no such folder/);
  });
});

describe('crash safety', () => {
  test('kill -9 mid-run leaves the previous complete index; the re-run resumes from checkpoints', {
    timeout: 300_000,
  }, async () => {
    const photos = firstCatalogueImages(200);
    const images = await makeCatalogue(photos.slice(0, 20));
    const out = await mkdtemp(join(tmpdir(), 'lookalike-crash-'));
    tmp.push(images, out);
    await buildIndex({ imagesDir: images, outDir: out });
    const before = await loadIndex(out);
    for (const p of photos.slice(20)) await copyFile(p, join(images, p.slice(p.lastIndexOf('/') + 1)));

    const child: ChildProcess = spawn(
      'node',
      [cli, 'index', images, '--out', out, '--checkpoint-every', '16', '--batch-size', '8'],
      {
        stdio: 'ignore',
      },
    );
    const exited = new Promise((resolve) => child.once('exit', resolve));
    // Kill it once at least one checkpoint is on disk.
    const work = join(out, '.work');
    for (let i = 0; i < 600; i++) {
      if (existsSync(work) && (await readdir(work)).some((f) => f.startsWith('chunk-') && f.endsWith('.bin')))
        break;
      await sleep(50);
    }
    child.kill('SIGKILL');
    await exited;

    const survived = await loadIndex(out);
    assert.equal(survived.manifest.generation, before.manifest.generation);
    assert.equal(survived.manifest.count, 20);
    assert.deepEqual(survived.vectors, before.vectors);

    const resumed = await buildIndex({ imagesDir: images, outDir: out });
    assert.ok(resumed.reused > 20, `resumed run reused ${resumed.reused}`);
    assert.ok(resumed.embedded < 180, `resumed run embedded ${resumed.embedded}`);
    const final = await loadIndex(out);
    assert.equal(final.manifest.count, 200);
    assert.ok(!existsSync(work), 'checkpoints are removed after the commit');
    const leftovers = (await readdir(out)).filter((f) => f.endsWith('.tmp'));
    assert.deepEqual(leftovers, []);
  });
});

describe('search and recommendations', () => {
  let recommender: Recommender;
  let dir: string;
  before(async () => {
    dir = (await fixtureIndex()).dir;
    recommender = await Recommender.open(dir);
  });
  after(() => recommender.close());

  test('usearch and the TypeScript fallback give the same results', { timeout: 300_000 }, async () => {
    const data = await loadIndex(dir);
    const fast = new ExactSearch(data.vectors, data.manifest.dim, 'usearch');
    const plain = new ExactSearch(data.vectors, data.manifest.dim, 'typescript');
    for (const row of [0, 7, 42, 100, 199]) {
      const q = fast.vector(row);
      const a = fast.search(q, 10);
      const b = plain.search(q, 10);
      assert.deepEqual(
        a.map((h) => h.row),
        b.map((h) => h.row),
      );
      for (const [i, h] of a.entries()) assert.ok(Math.abs(h.score - (b[i]?.score ?? 0)) < 1e-4);
      assert.ok(Math.abs((a[0]?.score ?? 0) - 1) < 1e-5);
    }
  });

  test('searches that arrive together share one pass and find what one-at-a-time search finds', {
    timeout: 300_000,
  }, async () => {
    const data = await loadIndex(dir);
    const exact = new ExactSearch(data.vectors, data.manifest.dim, 'usearch');
    const batcher = new SearchBatcher(exact);
    try {
      // Queries unlike any row (a mix of two products, unit length as every search vector).
      const queries = MIXED_ROWS.map((_, i) => mixedQuery(exact, i));
      const together = await Promise.all(queries.map((q, i) => batcher.search(q, 5 + i)));
      assert.equal(batcher.stats.batches, 1, 'one matrix product for all of them');
      assert.equal(batcher.stats.batchedQueries, queries.length);
      for (const [i, q] of queries.entries()) {
        const alone = exact.search(q, 5 + i);
        assert.deepEqual(
          together[i]?.map((h) => h.row),
          alone.map((h) => h.row),
        );
        for (const [j, h] of alone.entries())
          assert.ok(Math.abs(h.score - (together[i]?.[j]?.score ?? 0)) < 1e-4);
      }
      // A search alone runs at once, as before.
      const [single] = await Promise.all([batcher.search(queries[0] as Float32Array, 5)]);
      assert.equal(batcher.stats.single, 1);
      assert.deepEqual(
        single?.map((h) => h.row),
        together[0]?.slice(0, 5).map((h) => h.row),
      );
      // Closed while a shared pass is on its way: it ends first, and its searches are answered.
      await searchesCaughtByClose(batcher, queries, exact);
    } finally {
      await batcher.close();
    }
  });

  test('the two-pass search finds exactly what a full scan finds, scoring fewer rows', {
    timeout: 300_000,
  }, async () => {
    const data = await loadIndex(dir);
    const dim = data.manifest.dim;
    const full = new ExactSearch(data.vectors, dim, 'typescript');
    const exact = new ExactSearch(data.vectors, dim, 'usearch');
    // (Large catalogues only, by default: this one is small, so it is asked for.)
    const batcher = new SearchBatcher(exact, { minRows: 0, components: 100, sample: 150 });
    try {
      assert.equal(await batcher.ready(), true);
      const queries = MIXED_ROWS.flatMap((row, i) => {
        const q = exact.vector(row);
        // A product's own vector, a mix of two, and one not of unit length (a part left out, as
        // colour within kind searches without the colour part).
        return [q, mixedQuery(exact, i), q.map((x, d) => (d < dim / 4 ? 0 : x))];
      });
      for (const k of [1, 5, 13, 60, 200]) {
        const scoredBefore = batcher.twoPassStats?.scored ?? 0;
        const found = await Promise.all(queries.map((q) => batcher.search(q, k)));
        // (Together, they shared one first pass; at k=1 each scored fewer rows than a full scan.)
        if (k === 1) {
          const scored = (batcher.twoPassStats?.scored ?? 0) - scoredBefore;
          assert.ok(scored < queries.length * full.count, `${scored} rows scored together`);
        }
        for (const [i, q] of queries.entries()) {
          const want = full.search(q, k);
          assert.deepEqual(
            found[i]?.map((h) => h.row),
            want.map((h) => h.row),
            `query ${i}, k=${k}`,
          );
          for (const [j, h] of want.entries())
            assert.ok(Math.abs(h.score - (found[i]?.[j]?.score ?? 0)) < 1e-5);
        }
      }
      // Queries whose bounds are too loose are handed back and scanned in full (with the same results).
      const { twoPass, single, batchedQueries } = batcher.stats;
      assert.equal(twoPass + single + batchedQueries, 5 * queries.length);
      assert.ok(twoPass >= 0.5 * 5 * queries.length, `${twoPass} of ${5 * queries.length} in two passes`);
      // At k=1 on a product's own vector, a handful of rows are scored in full, not all 200.
      const scored = () => batcher.twoPassStats?.scored ?? Number.NaN;
      const before = scored();
      await batcher.search(queries[0] as Float32Array, 1);
      assert.ok(scored() - before < full.count, `${scored() - before} rows scored`);
      // Closed while searches are on their way (their first pass running): still answered exactly.
      await searchesCaughtByClose(batcher, queries.slice(0, 4), full);
    } finally {
      await batcher.close();
    }
  });

  test('a kept search from another search space is refused, not searched with vectors it does not fit', {
    timeout: 300_000,
  }, async () => {
    const id = [...(await fixtureIndex()).ids].find((i) => existsSync(queryImage(i)));
    assert.ok(id);
    const resolved = await recommender.resolve(queryImage(id));
    assert.ok(resolved.space, 'a resolved query names its space');
    assert.equal((await recommender.search(resolved, { k: 3 })).results.length, 3);
    // (A reload with another similarity or spec gives the recommender another space.)
    await assert.rejects(
      recommender.search({ ...resolved, space: 'another similarity' }),
      QueryOutdatedError,
    );
  });

  test('no echoes: a catalogue photo is recognised and left out, identical photos collapse', {
    timeout: 300_000,
  }, async () => {
    const [a, b] = DUPLICATE_PAIRS[0] as [string, string];
    const result = await recommender.recommend(catalogueImage(a), { k: 10 });
    assert.equal(result.query.recognisedAs, a);
    assert.deepEqual(result.query.excluded.sort(), [a, b].sort());
    const ids = result.results.map((r) => r.id);
    assert.ok(!ids.includes(a) && !ids.includes(b));
    const similar = await recommender.similar(b, { k: 10 });
    assert.ok(!similar.results.some((r) => r.id === a || r.id === b));
    // Every result is a distinct photo.
    for (const res of [result, similar]) {
      const hashes = res.results.map((r) => recommender.items.find((i) => i.id === r.id)?.hash);
      assert.equal(new Set(hashes).size, hashes.length);
    }
    // A query that is not in the catalogue: the best match of the same product is another photo of it.
    const other = await Promise.all(DUPLICATE_PAIRS.flat().map((id) => recommender.similar(id, { k: 50 })));
    for (const o of other) assert.equal(new Set(o.results.map((r) => r.id)).size, o.results.length);
  });

  test('a catalogue product in another resolution finds itself first', { timeout: 300_000 }, async () => {
    const id = [...(await fixtureIndex()).ids].find(
      (i) => Number(i) >= 10000 && Number(i) <= 21539 && existsSync(queryImage(i)),
    );
    assert.ok(id);
    const result = await recommender.recommend(queryImage(id), { k: 5 });
    assert.equal(result.query.recognisedAs, undefined);
    assert.equal(result.results[0]?.id, id);
    const scores = result.results.map((r) => r.score);
    assert.deepEqual(
      scores,
      [...scores].sort((x, y) => y - x),
    );
  });

  test('lookalike recommend --json with -k and --where filters', { timeout: 300_000 }, async () => {
    const { stdout } = await run('node', [
      cli,
      'recommend',
      queryImage(12967),
      '--index',
      dir,
      '-k',
      '3',
      '--where',
      'gender=Men',
      '--where',
      'masterCategory=Footwear',
      '--json',
    ]);
    const body = JSON.parse(stdout);
    assert.equal(body.results.length, 3);
    for (const r of body.results) {
      assert.equal(r.metadata.gender, 'Men');
      assert.equal(r.metadata.masterCategory, 'Footwear');
      assert.ok(r.score > 0 && r.score <= 1);
      assert.ok(existsSync(r.image));
      for (const key of ['id', 'name', 'facets', 'metadata']) assert.ok(key in r, key);
      for (const facet of ['gender', 'masterCategory', 'subCategory', 'articleType', 'baseColour'])
        assert.ok(facet in r.facets, facet);
    }
  });

  test('lookalike similar prints a readable table; errors exit 1 with a message', {
    timeout: 300_000,
  }, async () => {
    const id = recommender.items[10]?.id as string;
    const { stdout } = await run('node', [cli, 'similar', id, '--index', dir]);
    assert.match(stdout, new RegExp(`More like ${id}`));
    assert.equal(stdout.trim().split('\n').length, 3 + 5); // title, query note, header, 5 rows
    const unknown = await run('node', [cli, 'similar', 'no-such-id', '--index', dir]).catch((e) => e);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no product "no-such-id"/);
    const badFilter = await run('node', [cli, 'similar', id, '--index', dir, '--where', 'colour=Red']).catch(
      (e) => e,
    );
    assert.equal(badFilter.code, 1);
    assert.match(badFilter.stderr, /unknown filter column "colour".*articleType/);
    const noIndex = await run('node', [cli, 'similar', id, '--index', join(tmpdir(), 'no-index-here')]).catch(
      (e) => e,
    );
    assert.equal(noIndex.code, 1);
    assert.match(noIndex.stderr, /no index at/);
  });
});
