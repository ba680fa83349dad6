/**
 * The live, durable catalogue (issue 13 points 3-4, issue 10's "picks up a new generation"): changes
 * through the CatalogueEditor are searchable at once, survive kill -9, follow the documented rule
 * with `lookalike index` runs over the folder, keep HNSW and filters right; a running server picks
 * up a new generation written by another process. Real indexes, photos, model and processes.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFile, cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cacheDir } from '../src/config.js';
import { ImageError } from '../src/images/errors.js';
import { buildHnsw } from '../src/index/hnsw.js';
import { startServer } from '../src/interfaces/http/server.js';
import { InvalidChangeError } from '../src/manage/editor.js';
import { openEditor } from '../src/manage/open.js';
import { type CatalogueChange, Recommender, UnknownProductError } from '../src/recommend/recommender.js';
import { buildIndex } from './support/build-index.js';
import { catalogueImage } from './support/datasets.js';
import { spawnCli } from './support/serve.js';
import { shopCatalogue } from './support/shop-catalogue.js';
import { watchChild } from './support/wait.js';

const temp: string[] = [];
after(async () => {
  for (const dir of temp) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lookalike-live-'));
  temp.push(dir);
  return dir;
}

/** A copy of a test index (its photos stay where they are). */
async function copyIndex(name: string): Promise<string> {
  const dir = await tempDir();
  await cp(join(cacheDir, 'test-indexes', name), dir, { recursive: true });
  return dir;
}

/** The same photo with a JPEG comment: other bytes (another hash), the very same pixels. */
function withComment(jpeg: Buffer, text: string): Buffer {
  const body = Buffer.from(text, 'latin1');
  const segment = Buffer.alloc(4);
  segment.writeUInt16BE(0xfffe, 0);
  segment.writeUInt16BE(body.length + 2, 2);
  return Buffer.concat([jpeg.subarray(0, 2), segment, body, jpeg.subarray(2)]);
}

/** Catalogue photos (by id) that an index does not hold. */
async function photosNotIn(r: Recommender, n: number): Promise<string[]> {
  const ids = new Set(r.items.map((i) => i.id));
  const dir = join(catalogueImage('1'), '..');
  return (await readdir(dir))
    .map((f) => f.replace(/\.jpg$/, ''))
    .filter((id) => !ids.has(id))
    .sort()
    .slice(0, n);
}

/** Resolves with the first change event that `test` accepts. */
function untilChange(
  r: Recommender,
  test: (c: CatalogueChange) => boolean,
  ms = 60_000,
): Promise<CatalogueChange> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`no such change within ${ms} ms`));
    }, ms);
    const stop = r.onChange((c) => {
      if (!test(c)) return;
      clearTimeout(timer);
      stop();
      resolve(c);
    });
  });
}

describe('changes through the editor (index folder, learned similarity)', () => {
  let dir: string;
  let r: Recommender;

  before(async () => {
    dir = await copyIndex('learned');
    r = await Recommender.open(dir, { eager: true });
  });
  after(() => r.close());

  test('a new product is embedded as indexing does, searchable at once, and replayed by every reader', async () => {
    const editor = await openEditor(r);
    const x = r.items[5];
    assert.ok(x && r.manifest.similarity === 'learned');
    const bytes = withComment(await readFile(r.imagePath(x)), 'same pixels');
    const count = r.manifest.count;

    const result = await editor.put({
      id: 'API-1',
      photo: { bytes, filename: 'a.jpg' },
      metadata: x.metadata,
    });
    const resolvedAt = Date.now();
    assert.equal(result.outcome, 'created');
    assert.ok(result.sequence > 0);
    // Seen by the very next search: the same pixels and labels give the same search vector.
    const similar = await r.similar(x.id, { k: 3 });
    assert.ok(Date.now() - resolvedAt < 1000);
    assert.equal(similar.results[0]?.id, 'API-1');
    assert.ok((similar.results[0]?.score ?? 0) > 0.999, `score ${similar.results[0]?.score}`);
    assert.equal(r.manifest.count, count + 1);
    // The uploaded photo is recognised as the product's own.
    const again = await r.recommend({ data: bytes });
    assert.equal(again.query.recognisedAs, 'API-1');
    assert.ok(!again.results.some((h) => h.id === 'API-1'));
    // Stored by the project under the index folder.
    assert.deepEqual(await r.storedPhoto(r.item('API-1') as never), bytes);

    // Another reader of the folder replays the log.
    const other = await Recommender.open(dir);
    try {
      assert.equal(other.manifest.count, count + 1);
      const seen = await other.similar(x.id, { k: 1 });
      assert.equal(seen.results[0]?.id, 'API-1');
    } finally {
      await other.close();
    }
  });

  test('replacing the photo, patching metadata and deleting update search and filters', async () => {
    const editor = await openEditor(r);
    const [fresh] = await photosNotIn(r, 1);
    const x = r.items[5];
    assert.ok(fresh && x);
    const replaced = await editor.put({
      id: 'API-1',
      photo: { bytes: await readFile(catalogueImage(fresh)) },
    });
    assert.equal(replaced.outcome, 'replaced');
    assert.notEqual((await r.similar(x.id, { k: 1 })).results[0]?.id, 'API-1');
    assert.equal((await r.recommend(catalogueImage(fresh))).query.recognisedAs, 'API-1');
    // Metadata kept by a photo-only put.
    assert.deepEqual(r.product('API-1')?.metadata, x.metadata);

    const genders = (column: string) => new Map(r.filters.values(column).map((v) => [v.value, v.count]));
    const before = genders('gender');
    const was = x.metadata.gender as string;
    const patched = await editor.patch('API-1', { gender: 'Robots' });
    assert.equal(patched.outcome, 'updated');
    assert.equal(genders('gender').get('Robots'), 1);
    assert.equal(genders('gender').get(was), (before.get(was) ?? 0) - 1);
    const robots = await r.similar(x.id, { k: 5, where: { gender: ['robots'] } });
    assert.deepEqual(
      robots.results.map((h) => h.id),
      ['API-1'],
    );
    assert.equal((await editor.patch('API-1', { gender: 'Robots' })).outcome, 'unchanged');

    // Deleting a product of the folder's generation.
    const victim = (await r.similar(x.id, { k: 1 })).results[0]?.id as string;
    const deleted = await editor.delete(victim);
    assert.equal(deleted.outcome, 'deleted');
    assert.equal(r.product(victim), undefined);
    assert.ok(!(await r.similar(x.id, { k: 10 })).results.some((h) => h.id === victim));
    await assert.rejects(() => editor.delete(victim), UnknownProductError);
    await assert.rejects(() => editor.patch('NO-SUCH', { a: 'b' }), UnknownProductError);
    await assert.rejects(() => editor.put({ id: 'NEW-NO-PHOTO', metadata: {} }), InvalidChangeError);
    await assert.rejects(
      () => editor.put({ id: 'BAD-PHOTO', photo: { bytes: Buffer.from('not a photo') } }),
      ImageError,
    );
  });
});

describe('HNSW and filters after updates and deletes', () => {
  test('graph results never show replaced or deleted rows, and match exact search', async () => {
    const dir = await copyIndex('small');
    await buildHnsw(dir, { threads: 1 });
    const hnsw = await Recommender.open(dir, { search: 'hnsw' });
    try {
      const editor = await openEditor(hnsw);
      const query = hnsw.items[0]?.id as string;
      const top = (await hnsw.similar(query, { k: 6 })).results.map((h) => h.id);
      // Delete the two nearest, patch the third (a filter value of its own), add a copy of the query's photo.
      await editor.delete(top[0] as string);
      await editor.delete(top[1] as string);
      await editor.patch(top[2] as string, { baseColour: 'Ultraviolet' });
      const photo = withComment(await readFile(hnsw.imagePath(hnsw.items[0] as never)), 'twin');
      await editor.put({ id: 'TWIN', photo: { bytes: photo }, metadata: { baseColour: 'Ultraviolet' } });

      const got = (await hnsw.similar(query, { k: 6 })).results.map((h) => h.id);
      assert.ok(!got.includes(top[0] as string) && !got.includes(top[1] as string));
      assert.equal(got[0], 'TWIN');
      assert.ok(got.includes(top[2] as string));
      const exact = await Recommender.open(dir, { search: 'exact' });
      try {
        assert.deepEqual(
          got,
          (await exact.similar(query, { k: 6 })).results.map((h) => h.id),
        );
        const uv = (await hnsw.similar(query, { k: 5, where: { baseColour: ['Ultraviolet'] } })).results;
        assert.deepEqual(uv.map((h) => h.id).sort(), ['TWIN', top[2] as string].sort());
        assert.deepEqual(
          exact.filters.values('baseColour').find((v) => v.value === 'Ultraviolet'),
          { value: 'Ultraviolet', count: 2 },
        );
      } finally {
        await exact.close();
      }
    } finally {
      await hnsw.close();
    }
  });
});

describe('durability', () => {
  test('a change is there after kill -9 straight after it resolved', async () => {
    const dir = await copyIndex('shop');
    const script = `
      const { readFile } = await import('node:fs/promises');
      const { Recommender } = await import(${JSON.stringify(join(import.meta.dirname, '..', 'src', 'recommend', 'recommender.ts'))});
      const { openEditor } = await import(${JSON.stringify(join(import.meta.dirname, '..', 'src', 'manage', 'open.ts'))});
      const r = await Recommender.open(process.argv[1]);
      const editor = await openEditor(r);
      const bytes = await readFile(process.argv[2]);
      const a = await editor.put({ id: 'KILLED-1', photo: { bytes }, metadata: { title: 'survives' } });
      const b = await editor.delete(r.items[0].id);
      process.stdout.write('done ' + a.sequence + ' ' + b.sequence + ' ' + r.items[0].id + '\\n');
      setInterval(() => {}, 1000);
    `;
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script, dir, catalogueImage('15970')],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const watched = watchChild(child);
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const m = /done .*\n/.exec(out);
        if (m) {
          child.kill('SIGKILL');
          resolve(m[0]);
        }
      });
      child.once('exit', () => reject(new Error(`the child exited first: ${watched.stderr()}`)));
    });
    assert.equal(await watched.exited, 'SIGKILL');
    const deleted = line.trim().split(' ')[3] as string;
    const r = await Recommender.open(dir);
    try {
      assert.equal(r.product('KILLED-1')?.metadata.title, 'survives');
      assert.equal(r.product(deleted), undefined);
      assert.equal((await r.recommend(catalogueImage('15970'))).query.recognisedAs, 'KILLED-1');
    } finally {
      await r.close();
    }
  });
});

describe('the write-ahead log', () => {
  test('a line cut short by a crash is ignored and overwritten; a damaged line before the end is refused by name', async () => {
    const dir = await copyIndex('shop');
    const r = await Recommender.open(dir);
    const [first, second, third] = r.items.map((i) => i.id);
    try {
      await (await openEditor(r)).delete(first as string);
    } finally {
      await r.close();
    }
    const wal = join(dir, 'changes.wal');
    const whole = await readFile(wal);
    // A crash in the middle of the next append.
    await writeFile(wal, Buffer.concat([whole, Buffer.from('0badc0de {"seq":2,"op":"del')]));
    const reopened = await Recommender.open(dir);
    try {
      assert.equal(reopened.product(first as string), undefined);
      assert.ok(reopened.product(second as string));
      await (await openEditor(reopened)).delete(second as string);
    } finally {
      await reopened.close();
    }
    const after = await Recommender.open(dir);
    try {
      assert.equal(after.product(first as string), undefined);
      assert.equal(after.product(second as string), undefined);
      assert.ok(after.product(third as string));
    } finally {
      await after.close();
    }
    // A flipped byte in the first line: refused, naming the log.
    const text = await readFile(wal);
    text[20] = text[20] === 0x41 ? 0x42 : 0x41;
    await writeFile(wal, text);
    await assert.rejects(() => Recommender.open(dir), /changes\.wal is damaged/);
  });
});

/** A copy of the shop catalogue (photos and CSV) that a test may change. */
async function shopCopy(): Promise<{
  photos: string;
  csv: string;
  index: string;
  rows: { sku: string; category: string }[];
}> {
  const shop = await shopCatalogue();
  const dir = await tempDir();
  const photos = join(dir, 'photos');
  await cp(shop.photos, photos, { recursive: true });
  const csv = join(dir, 'products.csv');
  await copyFile(shop.csv, csv);
  return { photos, csv, index: join(dir, 'index'), rows: shop.rows };
}

describe('API changes and `lookalike index` runs over the folder', () => {
  test('a folder run keeps what the API wrote and deleted; --rebuild starts from scratch', async () => {
    const shop = await shopCopy();
    await buildIndex({ imagesDir: shop.photos, outDir: shop.index, metadataPath: shop.csv });
    const [a, b, c, d] = shop.rows.map((row) => row.sku);
    assert.ok(a && b && c && d);
    const r = await Recommender.open(shop.index);
    try {
      const editor = await openEditor(r);
      await editor.put({ id: 'API-NEW', photo: { bytes: await readFile(catalogueImage('15970')) } });
      await editor.patch(a, { title: 'Renamed through the API' });
      await editor.delete(b);
    } finally {
      await r.close();
    }
    // The folder changes too: c's title, d's photo removed.
    const csv = await readFile(shop.csv, 'utf8');
    await writeFile(
      shop.csv,
      csv
        .split('\n')
        .map((line) =>
          line.startsWith(`${c},`) ? line.replace(/^([^,]*),[^,]*/, '$1,Renamed in the folder') : line,
        )
        .join('\n'),
    );
    await rm(join(shop.photos, shop.rows[3]?.category.toLowerCase() as string, `${d}.jpg`));
    await buildIndex({ imagesDir: shop.photos, outDir: shop.index, metadataPath: shop.csv });

    const after1 = await Recommender.open(shop.index);
    try {
      assert.ok(after1.product('API-NEW'), 'a product created through the API stays');
      assert.equal(after1.product(a)?.metadata.title, 'Renamed through the API');
      assert.equal(after1.product(b), undefined, 'a product deleted through the API stays deleted');
      assert.equal(after1.product(c)?.metadata.title, 'Renamed in the folder');
      assert.equal(after1.product(d), undefined);
    } finally {
      await after1.close();
    }

    await buildIndex({ imagesDir: shop.photos, outDir: shop.index, metadataPath: shop.csv, rebuild: true });
    const rebuilt = await Recommender.open(shop.index);
    try {
      assert.equal(rebuilt.product('API-NEW'), undefined);
      assert.ok(rebuilt.product(b));
      assert.notEqual(rebuilt.product(a)?.metadata.title, 'Renamed through the API');
      assert.ok((await readdir(shop.index)).some((f) => f.endsWith('.wal.discarded')));
    } finally {
      await rebuilt.close();
    }
  });
});

describe('a running server follows its index folder', () => {
  test('a new generation from a separate `lookalike index` run, and API changes from another process', async () => {
    const shop = await shopCopy();
    await buildIndex({ imagesDir: shop.photos, outDir: shop.index, metadataPath: shop.csv });
    const server = await startServer({
      indexDir: shop.index,
      host: '127.0.0.1',
      port: 0,
      watch: { intervalMs: 200 },
    });
    try {
      const base = server.url.replace(/\/$/, '');
      assert.equal((await fetch(`${base}/api/products/SKU-15970`)).status, 404);

      // Another writer of the same folder (as another server would be).
      const other = await Recommender.open(shop.index);
      try {
        const seen = untilChange(
          server.recommender,
          (c) => c.reason === 'change' && (c.ids ?? []).includes('ELSEWHERE'),
        );
        await (await openEditor(other)).put({
          id: 'ELSEWHERE',
          photo: { bytes: await readFile(catalogueImage('15970')) },
        });
        await seen;
        const res = await fetch(`${base}/api/products/ELSEWHERE`);
        assert.equal(res.status, 200);
        const photo = await fetch(`${base}/images/ELSEWHERE`);
        assert.equal(photo.status, 200);
        assert.deepEqual(Buffer.from(await photo.arrayBuffer()), await readFile(catalogueImage('15970')));
      } finally {
        await other.close();
      }

      // A photo added to the folder, indexed by a separate process.
      await mkdir(join(shop.photos, 'new'), { recursive: true });
      await copyFile(catalogueImage('15971'), join(shop.photos, 'new', 'SKU-15971.jpg'));
      const reloaded = untilChange(server.recommender, (c) => c.reason === 'reload');
      const run = watchChild(spawnCli(['index', shop.photos, '--metadata', shop.csv, '--out', shop.index]));
      assert.equal(await run.exited, 0, run.stderr());
      await reloaded;
      assert.equal((await fetch(`${base}/api/products/SKU-15971`)).status, 200);
      // The API's product is still there over the new generation.
      assert.equal((await fetch(`${base}/api/products/ELSEWHERE`)).status, 200);
    } finally {
      await server.close();
    }
  });
});
