import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import {
  buildHnsw,
  HNSW_DTYPES,
  HnswMissingError,
  HnswStaleError,
  openHnsw,
  readHnswSidecar,
} from '../src/index/hnsw.js';
import { ExactSearch } from '../src/index/search.js';
import { commitIndex, type IndexData, loadIndex, readManifest } from '../src/index/store.js';
import { fixtureIndex } from './support/fixture-index.js';

const run = promisify(execFile);
const cli = join(import.meta.dirname, '..', 'bin', 'lookalike.js');

/** A private copy of the shared fixture index (so that it can be changed here). */
async function copyIndex(from: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lookalike-hnsw-'));
  const manifest = await readManifest(from);
  assert.ok(manifest);
  for (const name of ['manifest.json', manifest.vectorsFile, manifest.itemsFile]) {
    await copyFile(join(from, name), join(dir, name));
  }
  return dir;
}

/** Mean recall@k of `search` against exact search, every row of the index as a query. */
function recallAt(
  k: number,
  exact: ExactSearch,
  search: (q: Float32Array, k: number) => { row: number }[],
): number {
  let found = 0;
  for (let row = 0; row < exact.count; row++) {
    const q = exact.vector(row);
    const truth = new Set(exact.search(q, k).map((h) => h.row));
    found += search(q, k).filter((h) => truth.has(h.row)).length;
  }
  return found / (k * exact.count);
}

describe('HNSW graphs beside the index', { timeout: 300_000 }, () => {
  let dir: string;
  let data: IndexData;
  let exact: ExactSearch;
  before(
    async () => {
      dir = await copyIndex((await fixtureIndex()).dir);
      data = await loadIndex(dir);
      exact = new ExactSearch(data.vectors, data.manifest.dim, 'usearch');
    },
    { timeout: 600_000 },
  );
  after(() => rm(dir, { recursive: true, force: true }));

  test('no graph yet: a clear error', async () => {
    await assert.rejects(
      openHnsw(dir),
      (err) => err instanceof HnswMissingError && /lookalike hnsw build/.test(err.message),
    );
  });

  for (const dtype of HNSW_DTYPES) {
    test(`${dtype}: built, saved, reopened; recall@5 >= 0.95 against exact search`, async () => {
      const info = await buildHnsw(dir, { dtype });
      assert.equal(info.generation, data.manifest.generation);
      assert.equal(info.count, data.manifest.count);
      assert.ok(existsSync(join(dir, info.file)));
      assert.match(info.file, new RegExp(`^hnsw-0+${data.manifest.generation}-${dtype}\\.usearch$`));

      for (const view of [false, true]) {
        const graph = await openHnsw(dir, { dtype, view });
        assert.equal(graph.count, data.manifest.count);
        assert.equal(graph.params.dtype, dtype);
        const recall = recallAt(5, exact, (q, k) => graph.search(q, k));
        assert.ok(recall >= 0.95, `${dtype} recall@5 ${recall}`);
        // Scores are cosine similarities, close to the exact ones; a row finds itself first.
        const q = exact.vector(17);
        const hits = graph.search(q, 5);
        assert.equal(hits[0]?.row, 17);
        assert.ok(Math.abs((hits[0]?.score ?? 0) - 1) < 0.01, `self score ${hits[0]?.score}`);
        const truth = new Map(exact.search(q, 20).map((h) => [h.row, h.score]));
        for (const h of hits) assert.ok(Math.abs(h.score - (truth.get(h.row) ?? -1)) < 0.02, `${h.row}`);
        assert.deepEqual(
          hits.map((h) => h.score),
          hits.map((h) => h.score).sort((a, b) => b - a),
        );
      }

      // With the f32 vectors, candidates are re-scored exactly.
      const rescored = await openHnsw(dir, { dtype, vectors: data.vectors });
      const q = exact.vector(42);
      const want = exact.search(q, 5);
      const got = rescored.search(q, 5);
      assert.deepEqual(
        got.map((h) => h.row),
        want.map((h) => h.row),
      );
      for (const [i, h] of got.entries()) assert.ok(Math.abs(h.score - (want[i]?.score ?? 0)) < 1e-5);
      // More results than vectors: never more than there are, and nearly all of them (the graph is
      // approximate: with identical photos among the vectors, a few nodes can be unreachable).
      const all = rescored.search(q, 10_000).length;
      assert.ok(
        all <= data.manifest.count && all >= 0.95 * data.manifest.count,
        `${all} of ${data.manifest.count}`,
      );
    });
  }

  test('hnsw.json lists both graphs of the current generation', async () => {
    const sidecar = await readHnswSidecar(dir);
    assert.deepEqual(sidecar?.graphs.map((g) => g.dtype).sort(), ['f16', 'i8']);
    // The f16 graph is the default.
    assert.equal((await openHnsw(dir)).params.dtype, 'f16');
  });

  test('a stale graph is refused once the index changes; a rebuild replaces it', async () => {
    const { manifest, items, vectors } = data;
    const {
      generation: _g,
      vectorsFile: _v,
      itemsFile: _i,
      count: _c,
      format: _f,
      version: _n,
      ...rest
    } = manifest;
    const keep = items.length - 3;
    await commitIndex(dir, rest, items.slice(0, keep), vectors.slice(0, keep * manifest.dim));
    for (const dtype of HNSW_DTYPES) {
      await assert.rejects(
        openHnsw(dir, { dtype }),
        (err) =>
          err instanceof HnswStaleError &&
          new RegExp(
            `generation ${manifest.generation} .*generation ${manifest.generation + 1}.*rebuild`,
          ).test(err.message),
      );
    }
    const info = await buildHnsw(dir, { dtype: 'i8', expansionSearch: 32 });
    assert.equal(info.generation, manifest.generation + 1);
    const graph = await openHnsw(dir);
    assert.equal(graph.params.dtype, 'i8'); // the f16 graph of the old generation is gone
    assert.equal(graph.params.expansionSearch, 32);
    assert.equal(graph.count, keep);
    const files = (await readdir(dir)).filter((f) => f.startsWith('hnsw-'));
    assert.deepEqual(files, [info.file]);
  });

  test('lookalike hnsw build', async () => {
    const { stdout } = await run('node', [
      cli,
      'hnsw',
      'build',
      '--index',
      dir,
      '--dtype',
      'f16',
      '--connectivity',
      '8',
    ]);
    assert.match(
      stdout,
      new RegExp(
        `Built the f16 HNSW graph of ${data.manifest.count - 3} vectors \\(generation ${data.manifest.generation + 1}\\).*M=8 `,
      ),
    );
    const graph = await openHnsw(dir, { dtype: 'f16' });
    assert.equal(graph.params.connectivity, 8);
    const bad = await run('node', [cli, 'hnsw', 'build', '--index', dir, '--dtype', 'f8']).catch((e) => e);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /f16, i8/);
  });
});
