/**
 * Serve while it indexes: `lookalike serve --catalogue` answers searches before its indexing run
 * has finished, over what is embedded so far, and grows as partial generations land, with its
 * progress in /api/health; the run's end switches to the whole catalogue with no restart.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium } from 'playwright-core';
import { projectRoot } from '../src/config.js';
import { IndexingTracker } from '../src/index/indexing-progress.js';
import { catalogueImage, queryImage, stylesCsv } from './support/datasets.js';
import { subsetIds } from './support/fixture-index.js';
import { spawnCli } from './support/serve.js';
import { watchChild } from './support/wait.js';

const SCREENSHOTS = join(projectRoot, 'test-output', 'screenshots');

describe('indexing progress', () => {
  it('gives no rate or ETA until it can measure one, then whole seconds', () => {
    let now = 0;
    const tracker = new IndexingTracker(() => now);
    assert.deepEqual(tracker.snapshot(), {
      state: 'starting',
      indexed: 0,
      total: 0,
      searchable: 0,
      rate: null,
      etaSeconds: null,
    });
    tracker.photos(0, 1000);
    now = 1000;
    tracker.photos(40, 1000);
    // One second and 40 photos: too soon to say.
    assert.equal(tracker.snapshot().rate, null);
    assert.equal(tracker.snapshot().etaSeconds, null);
    now = 10_000;
    tracker.photos(400, 1000);
    const s = tracker.snapshot();
    assert.equal(s.rate, 40);
    assert.equal(s.etaSeconds, 15);
    tracker.learning();
    assert.equal(tracker.snapshot().state, 'learning');
    assert.equal(tracker.snapshot().etaSeconds, null);
    tracker.done(990);
    assert.equal(tracker.snapshot().state, 'done');
    assert.equal(tracker.snapshot().searchable, 990);
  });

  it('measures the rate over the last minute', () => {
    let now = 0;
    const tracker = new IndexingTracker(() => now);
    tracker.photos(0, 10_000);
    // Fast at first, then slower: the rate follows the last minute.
    now = 60_000;
    tracker.photos(6000, 10_000);
    for (let t = 70_000; t <= 180_000; t += 10_000) {
      now = t;
      tracker.photos(6000 + ((t - 60_000) / 1000) * 10, 10_000);
    }
    const rate = tracker.snapshot().rate as number;
    assert.ok(rate >= 9 && rate <= 11, `rate ${rate}`);
  });
});

/** A catalogue folder of real photos and its metadata (the rows of those products). */
async function smallCatalogue(
  dir: string,
  count: number,
): Promise<{ images: string; metadata: string; ids: string[] }> {
  const ids = [...subsetIds(count)];
  const images = join(dir, 'photos');
  await mkdir(images, { recursive: true });
  for (const id of ids) await copyFile(catalogueImage(id), join(images, `${id}.jpg`));
  const wanted = new Set(ids);
  const lines = (await readFile(stylesCsv, 'utf8')).split('\n');
  const rows = lines.slice(1).filter((line) => wanted.has(line.slice(0, line.indexOf(','))));
  const metadata = join(dir, 'styles.csv');
  await writeFile(metadata, `${[lines[0], ...rows].join('\n')}\n`);
  return { images, metadata, ids };
}

interface Health {
  index: { count: number; similarity: string };
  indexing?: {
    state: string;
    indexed: number;
    total: number;
    searchable: number;
    rate: number | null;
    etaSeconds: number | null;
  };
}

describe('lookalike serve --catalogue while it indexes', { timeout: 900_000 }, () => {
  let work: string;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'lookalike-serve-indexing-'));
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('answers searches before indexing ends and grows to the whole catalogue without a restart', async () => {
    const catalogue = await smallCatalogue(work, 2000);
    const index = join(work, 'index');
    const server = watchChild(
      spawnCli([
        'serve',
        '--catalogue',
        catalogue.images,
        '--metadata',
        catalogue.metadata,
        '--index',
        index,
        '--port',
        '0',
      ]),
    );
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const poll = setInterval(() => {
          const found = /open (http:\/\/\S+?)\/? /.exec(server.stdout());
          if (found) {
            clearInterval(poll);
            resolve(found[1] as string);
          }
        }, 100);
        server.exited.then((code) => {
          clearInterval(poll);
          reject(new Error(`serve exited (${code}):\n${server.stderr()}`));
        });
      });
      const health = async (): Promise<Health> =>
        (await fetch(`${url}/api/health`)).json() as Promise<Health>;

      const first = await health();
      assert.ok(first.indexing, 'health reports the indexing run');
      assert.notEqual(first.indexing.state, 'done', 'the server answers before indexing has finished');
      assert.ok(first.indexing.total > 1900, `total ${first.indexing.total}`);
      assert.ok(first.indexing.searchable >= 256, `searchable ${first.indexing.searchable}`);
      assert.ok(
        first.index.count >= 256 && first.index.count <= first.indexing.searchable,
        `count ${first.index.count}`,
      );
      assert.equal(
        first.index.similarity,
        'original',
        'a partial generation is searched with the original similarity',
      );

      // A shopper's search is answered over what is indexed so far.
      const form = new FormData();
      const id = catalogue.ids[0] as string;
      form.append('image', new Blob([await readFile(queryImage(id))], { type: 'image/jpeg' }), `${id}.jpg`);
      const answer = await fetch(`${url}/api/recommend`, { method: 'POST', body: form });
      assert.equal(answer.status, 200);
      const body = (await answer.json()) as { results: unknown[] };
      assert.equal(body.results.length, 5);
      const during = await health();
      assert.notEqual(during.indexing?.state, 'done', 'still indexing when the search was answered');

      // The page in Chromium: its progress line, and a photo's results, while the run goes on.
      const browser = await chromium.launch({
        executablePath: process.env.LOOKALIKE_CHROMIUM ?? '/usr/bin/chromium',
        args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
      });
      try {
        const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
        await page.goto(url);
        await page
          .locator('#indexing', { hasText: /Indexing the catalogue: [\d,]+ of [\d,]+ photos/ })
          .waitFor();
        await page.setInputFiles('#file-input', queryImage(id));
        await page.locator('#results-note', { hasText: 'Most similar to your photo' }).waitFor();
        assert.ok((await page.locator('.card-name').count()) > 0, 'the page shows results');
        const meanwhile = await health();
        assert.notEqual(meanwhile.indexing?.state, 'done', 'the page answered before indexing had finished');
        await mkdir(SCREENSHOTS, { recursive: true });
        await page.screenshot({ path: join(SCREENSHOTS, 'serve-while-indexing-phone.png') });
      } finally {
        await browser.close();
      }

      // Searches grow as generations land, up to the whole catalogue, with no restart.
      let last = first;
      const counts = new Set([first.index.count]);
      const deadline = Date.now() + 600_000;
      while (last.indexing?.state !== 'done') {
        assert.ok(Date.now() < deadline, 'indexing did not finish in 10 minutes');
        assert.notEqual(last.indexing?.state, 'failed', `indexing failed: ${JSON.stringify(last.indexing)}`);
        await new Promise((resolve) => setTimeout(resolve, 500));
        last = await health();
        counts.add(last.index.count);
        const rate = last.indexing?.rate;
        if (rate !== null && rate !== undefined) assert.ok(rate > 0 && (last.indexing?.etaSeconds ?? 0) >= 0);
      }
      // The final generation is loaded (reloads follow the run's commits).
      const settle = Date.now() + 30_000;
      while (last.index.count !== last.indexing?.searchable && Date.now() < settle) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        last = await health();
      }
      assert.equal(last.index.count, last.indexing?.searchable);
      assert.ok(last.index.count >= catalogue.ids.length - 10, `count ${last.index.count}`);
      assert.ok(counts.size >= 2, `searches grew with the generations: ${[...counts].join(', ')}`);
      const again = new FormData();
      again.append('image', new Blob([await readFile(queryImage(id))], { type: 'image/jpeg' }), `${id}.jpg`);
      const final = await fetch(`${url}/api/recommend`, { method: 'POST', body: again });
      assert.equal(final.status, 200, await final.text());
    } finally {
      server.child.kill('SIGTERM');
      assert.equal(await server.exited, 0);
    }
  });
});
