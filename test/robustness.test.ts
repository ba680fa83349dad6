/**
 * Broken files, hostile input and a folder that is not only ours, end to end through the real
 * command line (child processes) on real photos: an index that is damaged is refused by name, a
 * run that fails or loses its lock exits at once, `--out` touches only its own files, a damaged
 * manifest can be rebuilt, and the CLI refuses FIFOs, devices and prototype keys.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import {
  copyFile,
  cp,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  truncate,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { MAX_PHOTO_BYTES } from '../src/catalogue/limits.js';
import { loadIndex } from '../src/index/store.js';
import { catalogueImages, firstCatalogueImages } from './support/datasets.js';
import { untilEntry, untilExists, watchChild } from './support/wait.js';

const execFileP = promisify(execFile);
const cli = join(import.meta.dirname, '..', 'bin', 'lookalike.js');

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** Runs the CLI to its end; never throws on a non-zero status. */
async function lookalike(...args: string[]): Promise<Ran> {
  const started = performance.now();
  try {
    const { stdout, stderr } = await execFileP('node', [cli, ...args], { maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr, seconds: (performance.now() - started) / 1000 };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return {
      code: e.code,
      stdout: e.stdout,
      stderr: e.stderr,
      seconds: (performance.now() - started) / 1000,
    };
  }
}

/** Starts the CLI as a child process, followed (output, exit). */
const start = (...args: string[]) =>
  watchChild(spawn('node', [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));

const tmp: string[] = [];
async function tempDir(name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `lookalike-${name}-`));
  tmp.push(dir);
  return dir;
}
after(async () => {
  for (const d of tmp) await rm(d, { recursive: true, force: true });
});

/** A writable folder with copies of the first n catalogue photos. */
async function catalogue(n: number, from = 0): Promise<string> {
  const dir = await tempDir('photos');
  for (const p of firstCatalogueImages(from + n).slice(from))
    await copyFile(p, join(dir, p.slice(p.lastIndexOf('/') + 1)));
  return dir;
}

const manifestOf = async (dir: string) => JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));

let images: string;
/** A small real index (12 photos, the original similarity), copied by the tests that damage one. */
let base: string;
let someId: string;
before(async () => {
  images = await catalogue(12);
  base = join(await tempDir('base'), 'index');
  const built = await lookalike('index', images, '--out', base, '--similarity', 'original');
  assert.equal(built.code, 0, built.stderr);
  someId = (await loadIndex(base)).items[3]?.id as string;
});

async function copyOfBase(): Promise<string> {
  const dir = join(await tempDir('copy'), 'index');
  await cp(base, dir, { recursive: true });
  return dir;
}

describe('an index is checked when it is loaded', () => {
  test('a vectors file full of NaN is refused by name: similar exits 1, serve does not start', {
    timeout: 120_000,
  }, async () => {
    const dir = await copyOfBase();
    const { vectorsFile } = await manifestOf(dir);
    const size = (await stat(join(dir, vectorsFile))).size;
    await writeFile(
      join(dir, vectorsFile),
      new Uint8Array(new Float32Array(size / 4).fill(Number.NaN).buffer),
    );
    const similar = await lookalike('similar', someId, '--index', dir);
    assert.equal(similar.code, 1);
    assert.match(
      similar.stderr,
      new RegExp(
        `${vectorsFile.replace('.', '\\.')} is damaged: its checksum is crc32:[0-9a-f]{8}, the manifest records`,
      ),
    );
    assert.match(similar.stderr, /--rebuild/);
    assert.equal(similar.stdout, '');
    const serve = start('serve', '--index', dir, '--port', '0');
    assert.equal(await serve.exited, 1);
    assert.match(serve.stderr(), /is damaged/);
    assert.doesNotMatch(serve.stdout(), /is running/);
  });

  test('an index made before checksums is checked value by value', { timeout: 120_000 }, async () => {
    const dir = await copyOfBase();
    const manifest = await manifestOf(dir);
    delete manifest.checksums;
    await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
    assert.equal((await lookalike('similar', someId, '--index', dir)).code, 0, 'a sound old index loads');
    const path = join(dir, manifest.vectorsFile);
    const vectors = new Float32Array((await readFile(path)).buffer.slice(0));
    const dim = manifest.dim as number;
    vectors[5 * dim + 7] = Number.POSITIVE_INFINITY;
    await writeFile(path, new Uint8Array(vectors.buffer));
    const infinite = await lookalike('similar', someId, '--index', dir);
    assert.equal(infinite.code, 1);
    assert.match(infinite.stderr, /is damaged: row 5 holds values that are not finite numbers/);
    vectors[5 * dim + 7] = 0;
    for (let d = 0; d < dim; d++) vectors[8 * dim + d] = (vectors[8 * dim + d] as number) * 3;
    await writeFile(path, new Uint8Array(vectors.buffer));
    const long = await lookalike('similar', someId, '--index', dir);
    assert.equal(long.code, 1);
    assert.match(long.stderr, /is damaged: row 8 is not a unit vector \(length 3\.0/);
  });

  test('a changed items file, a truncated or missing vectors file: refused by name', {
    timeout: 120_000,
  }, async () => {
    const dir = await copyOfBase();
    const { vectorsFile, itemsFile } = await manifestOf(dir);
    const items = await readFile(join(dir, itemsFile), 'utf8');
    await writeFile(join(dir, itemsFile), items.replace(`"${someId}"`, `"${someId.slice(0, -1)}X"`));
    const changed = await lookalike('similar', someId, '--index', dir);
    assert.equal(changed.code, 1);
    assert.match(changed.stderr, new RegExp(`${itemsFile.replace('.', '\\.')} is damaged: its checksum`));
    await writeFile(join(dir, itemsFile), items);
    await truncate(join(dir, vectorsFile), 8192 * 3);
    const short = await lookalike('similar', someId, '--index', dir);
    assert.equal(short.code, 1);
    assert.match(short.stderr, /is damaged: 24576 bytes, the manifest says 12 x 2048 float32/);
    await rm(join(dir, vectorsFile));
    const missing = await lookalike('similar', someId, '--index', dir);
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      new RegExp(`${vectorsFile.replace('.', '\\.')} is damaged: the file is missing`),
    );
  });
});

describe('an HNSW graph is checked when it is opened', () => {
  test('a damaged graph file is refused by name, and index --hnsw builds it again', {
    timeout: 180_000,
  }, async () => {
    const dir = await copyOfBase();
    assert.equal((await lookalike('hnsw', 'build', '--index', dir)).code, 0);
    const graph = (await readdir(dir)).find((f) => f.endsWith('.usearch')) as string;
    const bytes = await readFile(join(dir, graph));
    for (let i = bytes.length - 4096; i < bytes.length; i++) bytes[i] = 0xff;
    await writeFile(join(dir, graph), bytes);
    const search = await lookalike('similar', someId, '--index', dir, '--search', 'hnsw');
    assert.equal(search.code, 1);
    assert.match(search.stderr, new RegExp(`${graph.replaceAll('.', '\\.')} is damaged: its checksum`));
    const rebuilt = await lookalike('index', images, '--out', dir, '--hnsw', 'f16');
    assert.equal(rebuilt.code, 0, rebuilt.stderr);
    assert.match(rebuilt.stdout, /Built the f16 HNSW graph/);
    assert.equal((await lookalike('similar', someId, '--index', dir, '--search', 'hnsw')).code, 0);
  });
});

describe('index --out <a folder that holds other files>', () => {
  test('only files that a manifest or a journal names are ever removed', { timeout: 300_000 }, async () => {
    const out = await tempDir('shared-out');
    const foreign: Record<string, string> = {
      'notes.tmp': 'mine',
      'vectors-7.f32': 'not an index file',
      'items-3.json': '{"mine": true}',
      'vectors-000001.f32.0123abcd.tmp': 'looks like a leftover, is not',
      'colours-0123456789abcdef.f32': 'mine too',
      'hnsw-000001-f16.usearch': 'not a graph',
      'x.tmp/inside.txt': 'a folder named x.tmp',
    };
    for (const [name, text] of Object.entries(foreign)) {
      await mkdir(join(out, name, '..'), { recursive: true });
      await writeFile(join(out, name), text);
    }
    const photos = await catalogue(4, 20);
    const first = await lookalike('index', photos, '--out', out, '--similarity', 'original');
    assert.equal(first.code, 0, first.stderr);
    // A generation whose file names were free: the folder's vectors-7.f32 is not overwritten.
    const m1 = await manifestOf(out);
    assert.equal(m1.vectorsFile, 'vectors-000008.f32');
    await copyFile(firstCatalogueImages(25)[24] as string, join(photos, '99001.jpg'));
    const second = await lookalike(
      'index',
      photos,
      '--out',
      out,
      '--similarity',
      'original',
      '--hnsw',
      'f16',
    );
    assert.equal(second.code, 0, second.stderr);
    const m2 = await manifestOf(out);
    assert.equal(m2.count, 5);
    // The previous generation (named by the previous manifest) is gone; nothing else is.
    assert.ok(!existsSync(join(out, m1.vectorsFile)) && !existsSync(join(out, m1.itemsFile)));
    for (const [name, text] of Object.entries(foreign)) {
      assert.equal(await readFile(join(out, name), 'utf8'), text, name);
    }
    // What an interrupted run recorded in its journal, and the manifest does not name, is removed.
    await writeFile(join(out, 'vectors-000020.f32'), 'left by a killed run');
    await writeFile(join(out, 'vectors-000020.f32.89abcdef.tmp'), 'left by a killed run');
    await writeFile(
      join(out, '.work', 'journal.json'),
      JSON.stringify({ files: ['vectors-000020.f32', m2.itemsFile], replaced: [] }),
    );
    const third = await lookalike('index', photos, '--out', out, '--similarity', 'original');
    assert.equal(third.code, 0, third.stderr);
    assert.match(third.stdout, /Up to date/);
    assert.ok(!existsSync(join(out, 'vectors-000020.f32')));
    assert.ok(!existsSync(join(out, 'vectors-000020.f32.89abcdef.tmp')));
    assert.ok(existsSync(join(out, m2.itemsFile)), 'the live items file stays');
    assert.ok(!existsSync(join(out, '.work', 'journal.json')));
    for (const [name, text] of Object.entries(foreign)) {
      assert.equal(await readFile(join(out, name), 'utf8'), text, name);
    }
    assert.equal((await loadIndex(out)).items.length, 5);
  });
});

describe('a damaged manifest', () => {
  test('is refused by name before any work; --rebuild starts afresh and removes the files it named', {
    timeout: 300_000,
  }, async () => {
    const dir = await copyOfBase();
    const text = await readFile(join(dir, 'manifest.json'), 'utf8');
    const old = JSON.parse(text);
    await writeFile(join(dir, 'manifest.json'), text.slice(0, Math.floor(text.length * 0.7)));
    await writeFile(join(dir, 'keep-me.txt'), 'not the index');
    const refused = await lookalike('index', images, '--out', dir);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /manifest\.json is not valid JSON .*\(rebuild the index with --rebuild\)/);
    assert.doesNotMatch(refused.stderr, /photos to embed/);
    const similar = await lookalike('similar', someId, '--index', dir);
    assert.equal(similar.code, 1);
    assert.match(similar.stderr, /manifest\.json is not valid JSON/);

    const rebuilt = await lookalike('index', images, '--out', dir, '--rebuild', '--similarity', 'original');
    assert.equal(rebuilt.code, 0, rebuilt.stderr);
    const index = await loadIndex(dir);
    assert.equal(index.items.length, 12);
    assert.ok(index.manifest.generation > old.generation);
    // The files the damaged manifest named are replaced, and removed; the rest of the folder stays.
    assert.ok(!existsSync(join(dir, old.vectorsFile)) && !existsSync(join(dir, old.itemsFile)));
    assert.equal(await readFile(join(dir, 'keep-me.txt'), 'utf8'), 'not the index');
    assert.equal((await lookalike('similar', someId, '--index', dir)).code, 0);
  });

  test("a folder whose manifest.json is not a lookalike index's is refused, even with --rebuild", {
    timeout: 120_000,
  }, async () => {
    const dir = await tempDir('foreign');
    const theirs = '{"format": "another-tool", "files": ["vectors-000001.f32"]}\n';
    await writeFile(join(dir, 'manifest.json'), theirs);
    const run = await lookalike('index', images, '--out', dir, '--rebuild');
    assert.equal(run.code, 1);
    assert.match(run.stderr, /manifest\.json is not a lookalike index manifest/);
    assert.equal(await readFile(join(dir, 'manifest.json'), 'utf8'), theirs);
  });
});

describe('a failing command exits at once', () => {
  test('an index run that fails while embedding exits 1 with the reason', { timeout: 180_000 }, async () => {
    const photos = await catalogue(16, 40);
    const out = await tempDir('fails');
    const run = start('index', photos, '--out', out, '--checkpoint-every', '2', '--batch-size', '2');
    // Once the first checkpoint is written, the work folder becomes a file: the next checkpoint fails.
    await untilExists(join(out, '.work'));
    await untilEntry(join(out, '.work'), (name) => /^chunk-\d+\.bin$/.test(name));
    await rm(join(out, '.work'), { recursive: true, force: true });
    await writeFile(join(out, '.work'), 'in the way');
    assert.equal(await run.exited, 1);
    assert.match(run.stderr(), /lookalike: cannot write a checkpoint in .*\.work: ENOTDIR: not a directory/);
    assert.ok(!existsSync(join(out, 'manifest.json')), 'nothing half-done was committed');
  });

  test('an HNSW build that fails once its progress is shown exits 1', { timeout: 120_000 }, async () => {
    const dir = await copyOfBase();
    // A folder where the graph file goes: saving the graph fails after it was built.
    await mkdir(join(dir, 'hnsw-000001-f16.usearch', 'in-the-way'), { recursive: true });
    const build = await lookalike('hnsw', 'build', '--index', dir);
    assert.equal(build.code, 1);
    assert.match(build.stderr, /vectors/, 'the progress was shown');
    assert.match(build.stderr, /lookalike: .*hnsw-000001-f16\.usearch/);
    assert.ok(existsSync(join(dir, 'hnsw-000001-f16.usearch', 'in-the-way')), 'the folder is left alone');
  });
});

describe('an index run that loses its lock', () => {
  test('stops writing and exits 1; the run that took over finishes the index', {
    timeout: 300_000,
  }, async () => {
    const photos = await catalogue(40, 60);
    const out = await tempDir('lock');
    const args = ['index', photos, '--out', out, '--similarity', 'original', '--checkpoint-every', '4'];
    const first = start(...args, '--batch-size', '4');
    await untilExists(join(out, '.work'));
    await untilEntry(join(out, '.work'), (name) => /^chunk-\d+\.bin$/.test(name));
    // Stopped for longer than the lock's stale time: a second run takes the lock over.
    first.child.kill('SIGSTOP');
    const second = start(...args, '--batch-size', '4');
    try {
      await second.untilStderr(/photos to embed/);
    } finally {
      first.child.kill('SIGCONT');
    }
    assert.equal(await first.exited, 1);
    assert.match(first.stderr(), /lost the indexing run lock on .*: .*stopped without writing anything more/);
    assert.equal(await second.exited, 0, second.stderr());
    const index = await loadIndex(out);
    assert.equal(index.items.length, 40);
    assert.doesNotMatch(second.stderr(), /lost|compromised/);
  });
});

describe('command-line input', () => {
  test('recommend reads a regular file of at most 20 MiB: FIFOs, devices, folders and big files are refused at once', {
    timeout: 120_000,
  }, async () => {
    const dir = await tempDir('inputs');
    const fifo = join(dir, 'photo.jpg');
    await execFileP('mkfifo', [fifo]);
    const big = join(dir, 'big.jpg');
    await writeFile(big, Buffer.alloc(MAX_PHOTO_BYTES + 1));
    for (const [path, reason] of [
      [fifo, /the photo .*photo\.jpg is a FIFO, not a regular file/],
      ['/dev/zero', /the photo \/dev\/zero is a device, not a regular file/],
      [dir, /is a folder, not a regular file/],
      [big, /the photo .*big\.jpg is over the limit of 20 MiB \(20971520 bytes\)/],
      [join(dir, 'nope.jpg'), /the photo .*nope\.jpg does not exist/],
    ] as const) {
      const r = await lookalike('recommend', path, '--index', base);
      assert.equal(r.code, 1, path);
      assert.match(r.stderr, reason);
      assert.ok(r.seconds < 30, `${path}: ${r.seconds} s`);
    }
    // The metadata of a catalogue too.
    for (const [path, reason] of [
      [fifo, /the metadata .*photo\.jpg is a FIFO, not a regular file/],
      ['/dev/zero', /the metadata \/dev\/zero is a device, not a regular file/],
    ] as const) {
      const r = await lookalike('index', images, '--metadata', path, '--out', join(dir, 'index'));
      assert.equal(r.code, 1, path);
      assert.match(r.stderr, reason);
    }
  });

  test('--where with a prototype key is an unknown column, not a crash', { timeout: 120_000 }, async () => {
    for (const key of ['toString', '__proto__', 'constructor', 'hasOwnProperty']) {
      const r = await lookalike('similar', someId, '--index', base, '--where', `${key}=y`);
      assert.equal(r.code, 1, key);
      assert.match(r.stderr, new RegExp(`unknown filter column "${key}"`));
      assert.doesNotMatch(r.stderr, /is not a function|TypeError/);
    }
  });
});

describe('what does not fit the catalogue is reported', () => {
  test('duplicate ids, rows without photos, photos without rows, links, NUL bytes and long ids', {
    timeout: 180_000,
  }, async () => {
    const root = await tempDir('odd-catalogue');
    const photos = join(root, 'photos');
    await mkdir(join(photos, 'store'), { recursive: true });
    const sources = firstCatalogueImages(90).slice(80);
    const [p1, p2, p3, p4, p5, p6] = sources as [string, string, string, string, string, string];
    for (const [id, src] of [
      ['A1', p1],
      ['A2', p2],
      ['A3', p3],
      ['A4', p4],
      ['A5', p5],
    ] as const)
      await copyFile(src, join(photos, `${id}.jpg`));
    await copyFile(p6, join(photos, 'store', 'a6.bin'));
    await symlink(join(photos, 'store', 'a6.bin'), join(photos, 'A6.jpg')); // inside: followed
    await symlink(join(root, 'nowhere.jpg'), join(photos, 'A7.jpg')); // dangling
    await symlink(sources[7] as string, join(photos, 'A8.jpg')); // outside the folder
    await symlink(catalogueImages, join(photos, 'more')); // a folder outside
    const longId = 'L'.repeat(1001);
    const csv = join(root, 'products.csv');
    await writeFile(
      csv,
      [
        'id,title,brand',
        'A1,Nul\0title,Acme',
        'A2,First,Acme',
        'A2,Second,Zenith',
        'A3,Third,Acme',
        'A4,Fourth,Zenith',
        'A6,Linked inside,Acme',
        'A7,Dangling,Acme',
        'A8,Outside,Acme',
        'A9,No photo,Acme',
        `${longId},Long,Acme`,
        'B\0AD,Nul id,Acme',
        '',
      ].join('\n'),
    );
    const out = join(root, 'index');
    const r = await lookalike('index', photos, '--metadata', csv, '--out', out, '--similarity', 'original');
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stdout, /Indexed 6 products .* 3 skipped/);
    assert.match(
      r.stderr,
      /1 rows without a photo, 1 photos without a metadata row \(indexed without metadata\), 1 duplicate ids \(the last row wins\), 1 ids over 1000 characters \(left out\), 1 ids with a NUL character \(left out\), 1 cells with NUL characters \(removed\)/,
    );
    const skipped = JSON.parse(await readFile(join(out, 'skipped.json'), 'utf8')) as {
      id: string;
      file: string;
      code: string;
      reason: string;
    }[];
    const codes = skipped.map((s) => `${s.code}:${s.id.slice(0, 10)}:${s.file}`).sort();
    assert.deepEqual(codes, [
      'bad-id:BAD:',
      'dangling-link:A7:A7.jpg',
      'duplicate-id:A2:',
      'id-too-long:LLLLLLLLLL:',
      'no-photo:A9:',
      'no-row:A5:A5.jpg',
      'nul-byte::',
      'outside-catalogue:A8:A8.jpg',
      'outside-catalogue:more:more',
    ]);
    assert.match(
      skipped.find((s) => s.code === 'nul-byte')?.reason ?? '',
      /products\.csv line 2, column title/,
    );
    assert.match(
      skipped.find((s) => s.code === 'id-too-long')?.reason ?? '',
      /line 11: the id is 1001 characters/,
    );
    const index = await loadIndex(out);
    assert.deepEqual(index.items.map((i) => i.id).sort(), ['A1', 'A2', 'A3', 'A4', 'A5', 'A6']);
    assert.equal(index.items.find((i) => i.id === 'A1')?.metadata.title, 'Nultitle');
    assert.equal(index.items.find((i) => i.id === 'A2')?.metadata.title, 'Second');
    assert.deepEqual(index.items.find((i) => i.id === 'A5')?.metadata, {});
    assert.equal(index.items.find((i) => i.id === 'A6')?.file, 'A6.jpg');
    // Nothing of the folder outside was listed through the link to it.
    assert.ok(index.items.every((i) => !i.file.startsWith('more')));
    assert.ok((await readdir(photos)).includes('more'));
  });
});
