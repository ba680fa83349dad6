/**
 * The PostgreSQL + pgvector store against a real server: set LOOKALIKE_TEST_POSTGRES to a URL of a
 * database with the `vector` extension available (`scripts/start-postgres.sh` prints one; CI sets
 * it). Each run works in a database of its own, dropped at the end.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import pg from 'pg';
import { openStore } from '../src/index/location/open.js';
import { Recommender } from '../src/recommend/recommender.js';
import { buildIndex } from './support/build-index.js';
import { catalogueImage, queryImage, stylesCsv } from './support/datasets.js';
import { DUPLICATE_PAIRS, subsetIds } from './support/fixture-index.js';

const base = process.env.LOOKALIKE_TEST_POSTGRES;
const cli = join(import.meta.dirname, '..', 'bin', 'lookalike.js');
const skip = base ? false : 'LOOKALIKE_TEST_POSTGRES is not set (scripts/start-postgres.sh prints a URL)';
if (process.env.LOOKALIKE_REQUIRE_POSTGRES === '1' && !base) {
  throw new Error(
    'LOOKALIKE_REQUIRE_POSTGRES=1 but LOOKALIKE_TEST_POSTGRES is not set (npm run test:all starts a server)',
  );
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Runs `lookalike index --store` as its own process. */
function worker(images: string, url: string): { child: ChildProcess; done: Promise<number | null> } {
  const child = spawn(
    'node',
    [
      cli,
      'index',
      images,
      '--metadata',
      stylesCsv,
      '--store',
      url,
      '--checkpoint-every',
      '6',
      '--batch-size',
      '6',
      // fp32, as the library-built index folder it is compared with (the CLI's default is int8).
      '--precision',
      'fp32',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child.stderr?.resume();
  return { child, done: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
}

/** Runs `lookalike serve --store` as its own process on a free port; resolves its URL once it listens. */
function serve(url: string): { child: ChildProcess; url: Promise<string>; exited: Promise<unknown> } {
  const child = spawn('node', [cli, 'serve', '--store', url, '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr?.resume();
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const listening = new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /open (http:\/\/\S+\/) /.exec(out);
      if (m?.[1]) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code} before listening`)));
  });
  return { child, url: listening, exited };
}

describe('PostgreSQL + pgvector store', { skip, timeout: 600_000 }, () => {
  const dbName = `lookalike_test_${process.pid}`;
  let url: string;
  let images: string;
  let filesIndex: string;
  let admin: pg.Client;
  let photoIds: string[];

  before(async () => {
    admin = new pg.Client({ connectionString: base });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName}`);
    await admin.query(`CREATE DATABASE ${dbName}`);
    url = withDatabase(base as string, dbName);
    // A writable copy of 90 real photos, with byte-identical pairs among them.
    images = await mkdtemp(join(tmpdir(), 'lookalike-pg-'));
    photoIds = [...subsetIds(84)];
    for (const id of photoIds) await copyFile(catalogueImage(id), join(images, `${id}.jpg`));
    filesIndex = join(images, '.index');
  });

  after(async () => {
    await admin?.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
    await admin?.end();
    if (images) await rm(images, { recursive: true, force: true });
  });

  test('3 workers share one catalogue; one killed mid-run loses nothing; each photo indexed exactly once', {
    timeout: 300_000,
  }, async () => {
    // The first worker starts alone and is killed once it has committed at least one batch; the
    // other two start once it has (so that on a busy machine they cannot take every job first).
    const victim = worker(images, url);
    const workers = [victim];
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    let victimExit: number | null | undefined;
    void victim.done.then((code) => {
      victimExit = code;
    });
    let committed = 0;
    const deadline = Date.now() + 120_000;
    while (committed === 0 && victimExit === undefined && Date.now() < deadline) {
      const r = await db
        .query('SELECT count(*)::int AS n FROM lookalike_products WHERE indexed_by LIKE $1', [
          `%:${victim.child.pid}`,
        ])
        .catch(() => ({ rows: [{ n: 0 }] }));
      committed = r.rows[0]?.n ?? 0;
      if (committed === 0) await sleep(100);
    }
    assert.equal(victimExit, undefined, `the victim exited (${victimExit}) before committing a batch`);
    assert.ok(committed > 0, 'the victim committed a batch within 120 s');
    workers.push(worker(images, url), worker(images, url));
    // The others start while it still holds claims; it dies mid-run.
    await sleep(500);
    victim.child.kill('SIGKILL');
    const codes = await Promise.all(workers.map((w) => w.done));
    assert.equal(codes[0], null, 'the victim died of SIGKILL');
    assert.deepEqual(codes.slice(1), [0, 0]);

    const products = await db.query('SELECT id, hash, indexed_by FROM lookalike_products ORDER BY id');
    assert.deepEqual(products.rows.map((r) => r.id).sort(), [...photoIds].sort());
    const jobs = await db.query('SELECT state, count(*)::int AS n FROM lookalike_jobs GROUP BY state');
    assert.deepEqual(jobs.rows, [{ state: 'done', n: photoIds.length }]);
    // All three took part (the killed one committed a batch before it died).
    const by = new Set(products.rows.map((r) => String(r.indexed_by).split(':').pop()));
    assert.ok(by.size >= 2, `workers: ${[...by].join(', ')}`);
    assert.ok(by.has(String(victim.child.pid)), "the killed worker's committed batch survived");
    // Identical photos got the very same embedding.
    const [a, b] = DUPLICATE_PAIRS[0] as [string, string];
    const pair = await db.query('SELECT embedding::text AS e FROM lookalike_products WHERE id = ANY($1)', [
      [a, b],
    ]);
    assert.equal(pair.rows[0]?.e, pair.rows[1]?.e);
    await db.end();

    // A second run over the unchanged folder has nothing to do.
    const again = worker(images, url);
    assert.equal(await again.done, 0);
  });

  test('recommendations from the store match the index folder (exact), HNSW agrees closely', {
    timeout: 300_000,
  }, async (t) => {
    await buildIndex({ imagesDir: images, outDir: filesIndex, metadataPath: stylesCsv });
    const files = await Recommender.open(filesIndex);
    const exact = await Recommender.open(url, { search: 'exact' });
    const hnsw = await Recommender.open(url, { search: 'hnsw' });
    assert.equal(exact.manifest.count, files.manifest.count);
    let agree = 0;
    let total = 0;
    for (const item of files.items) {
      const want = (await files.similar(item.id, { k: 5 })).results.map((r) => r.id);
      const got = (await exact.similar(item.id, { k: 5 })).results.map((r) => r.id);
      assert.deepEqual(got, want, item.id);
      const approx = (await hnsw.similar(item.id, { k: 5 })).results.map((r) => r.id);
      agree += approx.filter((id) => want.includes(id)).length;
      total += want.length;
    }
    const recall = agree / total;
    t.diagnostic(
      `halfvec HNSW recall@5 against exact f32 over ${files.items.length} products: ${recall.toFixed(3)}`,
    );
    assert.ok(recall >= 0.9, `halfvec HNSW recall@5 against exact f32: ${recall}`);

    // A photo query, excluding its own identical photo, through SQL.
    const [a, b] = DUPLICATE_PAIRS[1] as [string, string];
    const result = await hnsw.recommend(catalogueImage(a), { k: 5 });
    assert.deepEqual(result.query.excluded.sort(), [a, b].sort());
    assert.ok(!result.results.some((r) => r.id === a || r.id === b));
    await Promise.all([files.close(), exact.close(), hnsw.close()]);
  });

  test('filters run in SQL with the vector search', { timeout: 300_000 }, async () => {
    const store = await Recommender.open(url);
    const photo = queryImage(12967);
    const result = await store.recommend(photo, {
      k: 5,
      where: { gender: ['men'], masterCategory: ['Footwear', 'Accessories'] },
    });
    assert.ok(result.results.length > 0);
    for (const r of result.results) {
      assert.equal(r.metadata.gender, 'Men');
      assert.ok(['Footwear', 'Accessories'].includes(r.metadata.masterCategory ?? ''));
    }
    await assert.rejects(
      store.recommend(photo, { where: { colour: ['Red'] } }),
      /unknown filter column "colour"/,
    );
    await store.close();
  });

  test('several serve processes share one database', { timeout: 300_000 }, async () => {
    const servers = [serve(url), serve(url)];
    try {
      const urls = await Promise.all(servers.map((s) => s.url));
      const id = photoIds[10] as string;
      const [x, y] = await Promise.all(
        urls.map(async (u) => (await fetch(`${u}api/products/${id}/similar?k=5`)).json()),
      );
      assert.equal(x.results.length, 5);
      assert.deepEqual(x, y);
      const photo = new FormData();
      photo.set('image', new Blob([await readFile(queryImage(12967))], { type: 'image/jpeg' }), '12967.jpg');
      const answers = await Promise.all(
        urls.map(async (u) =>
          (await fetch(`${u}api/recommend?gender=Men`, { method: 'POST', body: photo })).json(),
        ),
      );
      // The same answer from both, but for the query id each server gives its own upload.
      const { queryId: first, ...a } = answers[0];
      const { queryId: second, ...b } = answers[1];
      assert.ok(first && second && first !== second);
      assert.deepEqual(a, b);
      assert.ok(
        answers[0].results.every((r: { metadata: { gender: string } }) => r.metadata.gender === 'Men'),
      );
      const health = await (await fetch(`${urls[0]}api/health`)).json();
      assert.equal(health.index.store, 'postgres');
      assert.equal(health.index.count, photoIds.length);
    } finally {
      for (const s of servers) s.child.kill('SIGTERM');
      await Promise.all(servers.map((s) => s.exited));
    }
  });
});

describe('PostgreSQL: what PostgreSQL cannot hold', { skip, timeout: 300_000 }, () => {
  const dbName = `lookalike_test_nul_${process.pid}`;
  let url: string;
  let admin: pg.Client;
  let work: string;

  before(async () => {
    admin = new pg.Client({ connectionString: base });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName}`);
    await admin.query(`CREATE DATABASE ${dbName}`);
    url = withDatabase(base as string, dbName);
    work = await mkdtemp(join(tmpdir(), 'lookalike-pg-nul-'));
  });

  after(async () => {
    await admin?.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
    await admin?.end();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('NUL characters in CSV cells are removed with a note naming line and column; a NUL in a filter matches nothing', {
    timeout: 180_000,
  }, async () => {
    const photos = join(work, 'photos');
    await rm(photos, { recursive: true, force: true });
    await mkdir(photos, { recursive: true });
    const ids = [...subsetIds(3)].slice(0, 3);
    for (const [i, id] of ids.entries()) await copyFile(catalogueImage(id), join(photos, `N${i + 1}.jpg`));
    const csv = join(work, 'products.csv');
    await writeFile(
      csv,
      ['id,title,brand', 'N1,Nul\0title,Acme', 'N2,Second,Ac\0me', 'N3,Third,Zenith', ''].join('\n'),
    );
    const { stdout, stderr } = await promisify(execFile)('node', [
      cli,
      'index',
      photos,
      '--metadata',
      csv,
      '--store',
      url,
    ]);
    assert.match(stdout, /Indexed 3 products/);
    assert.match(stderr, /2 cells with NUL characters \(removed\)/);
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    const rows = await db.query(
      "SELECT id, metadata->>'title' AS title, metadata->>'brand' AS brand FROM lookalike_products ORDER BY id",
    );
    await db.end();
    assert.deepEqual(rows.rows, [
      { id: 'N1', title: 'Nultitle', brand: 'Acme' },
      { id: 'N2', title: 'Second', brand: 'Acme' },
      { id: 'N3', title: 'Third', brand: 'Zenith' },
    ]);

    const store = await openStore(url, { search: 'exact' });
    try {
      const query = await store.vector(0);
      assert.deepEqual(await store.nearest(query, { k: 5, where: { brand: ['Ac\0me'] } }), []);
      assert.deepEqual(await store.nearest(query, { k: 5, where: { 'br\0and': ['Acme'] } }), []);
      const acme = await store.nearest(query, { k: 5, where: { brand: ['Acme', 'Ze\0nith'] } });
      assert.deepEqual(acme.map((h) => store.items[h.row]?.id).sort(), ['N1', 'N2']);
    } finally {
      await store.close();
    }
  });
});

describe('PostgreSQL: changes through the API reach every server', { skip, timeout: 300_000 }, () => {
  const dbName = `lookalike_test_live_${process.pid}`;
  let url: string;
  let admin: pg.Client;

  before(async () => {
    admin = new pg.Client({ connectionString: base });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName}`);
    await admin.query(`CREATE DATABASE ${dbName}`);
    url = withDatabase(base as string, dbName);
  });

  after(async () => {
    await admin?.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
    await admin?.end();
  });

  test('a second server sees a change within 5 s (NOTIFY); folder runs keep what the API wrote', async () => {
    const { openEditor } = await import('../src/manage/open.js');
    const { startServer } = await import('../src/interfaces/http/server.js');
    const { shopCatalogue } = await import('./support/shop-catalogue.js');
    const shop = await shopCatalogue();
    // A copy of the shop's photos that the test may add to.
    const photos = await mkdtemp(join(tmpdir(), 'lookalike-pg-live-'));
    const { cp } = await import('node:fs/promises');
    await cp(shop.photos, photos, { recursive: true });
    await buildIndex({ imagesDir: photos, outDir: url, metadataPath: shop.csv });
    const writer = await Recommender.open(url);
    // Polled only every minute: seeing the change within 5 s takes the notification.
    const server = await startServer({
      indexDir: url,
      host: '127.0.0.1',
      port: 0,
      watch: { intervalMs: 60_000 },
    });
    try {
      const editor = await openEditor(writer);
      const bytes = await readFile(catalogueImage('15970'));
      /** When the server applies a change to `id` (ms since the epoch). */
      const seen = (id: string) =>
        new Promise<number>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`the server did not apply the change to ${id}`)),
            20_000,
          );
          const stop = server.recommender.onChange((c) => {
            if (!c.ids?.includes(id)) return;
            clearTimeout(timer);
            stop();
            resolve(Date.now());
          });
        });
      let waited = seen('API-PG-1');
      const put = await editor.put({ id: 'API-PG-1', photo: { bytes }, metadata: { title: 'From the API' } });
      let resolvedAt = Date.now();
      assert.equal(put.outcome, 'created');
      assert.ok((await waited) - resolvedAt < 5000);
      const base = server.url.replace(/\/$/, '');
      const product = (await (await fetch(`${base}/api/products/API-PG-1`)).json()) as { name?: string };
      assert.equal(product.name, 'From the API');
      const photo = await fetch(`${base}/images/API-PG-1`);
      assert.equal(photo.status, 200);
      assert.deepEqual(Buffer.from(await photo.arrayBuffer()), bytes);
      assert.equal((await server.recommender.recommend({ data: bytes })).query.recognisedAs, 'API-PG-1');
      // Searchable on the writer at once, and on the other server.
      assert.equal((await writer.recommend({ data: bytes })).query.recognisedAs, 'API-PG-1');

      const victim = shop.rows[0]?.sku as string;
      waited = seen(victim);
      await editor.delete(victim);
      resolvedAt = Date.now();
      assert.ok((await waited) - resolvedAt < 5000);
      assert.equal((await fetch(`${base}/api/products/${victim}`)).status, 404);
      const renamed = shop.rows[1]?.sku as string;
      waited = seen(renamed);
      await editor.patch(renamed, { title: 'Renamed through the API' });
      resolvedAt = Date.now();
      assert.ok((await waited) - resolvedAt < 5000);
      assert.equal(server.recommender.product(renamed)?.name, 'Renamed through the API');

      // A folder run over the catalogue (with a new photo) keeps the API's products and deletions,
      // and the running server picks up what it added.
      await copyFile(catalogueImage('15971'), join(photos, 'SKU-15971.jpg'));
      await buildIndex({ imagesDir: photos, outDir: url, metadataPath: shop.csv });
      await server.watcher?.check();
      assert.ok(server.recommender.product('SKU-15971'));
      assert.ok(server.recommender.product('API-PG-1'));
      assert.equal(server.recommender.product(victim), undefined);
      const fresh = await Recommender.open(url);
      try {
        assert.ok(fresh.product('API-PG-1'));
        assert.equal(fresh.product(victim), undefined);
        assert.equal(fresh.product(renamed)?.name, 'Renamed through the API');
        assert.equal(fresh.manifest.count, shop.rows.length + 1);
      } finally {
        await fresh.close();
      }
    } finally {
      await server.close();
      await writer.close();
      await rm(photos, { recursive: true, force: true });
    }
  });
});
