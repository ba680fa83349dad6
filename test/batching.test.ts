/**
 * Batched serving and thread settings: concurrent embed() calls share inference calls and give
 * the same vectors as one-by-one calls; a lone call runs at once; the session's thread settings
 * are the ones asked for.
 */
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { Embedder } from '../src/embeddings/embedder.js';
import { firstCatalogueImages, queryImage } from './support/datasets.js';

const photos = [...firstCatalogueImages(10), queryImage(12967), queryImage(10002)];

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

describe('batched inference', { timeout: 600_000 }, () => {
  let alone: Float32Array[];
  before(async () => {
    // One photo per call, one call after another: never batched.
    const single = await Embedder.create({ precision: 'fp32', batchSize: 1, batchWaitMs: 0 });
    try {
      alone = [];
      for (const p of photos) alone.push(...(await single.embed([p])));
      assert.equal(single.timings().inferenceCalls, photos.length);
    } finally {
      await single.close();
    }
  });

  let embedder: Embedder;
  before(async () => {
    embedder = await Embedder.create({ precision: 'fp32', batchSize: 16 });
  });
  after(() => embedder.close());

  test('concurrent one-photo calls share inference calls and get the vectors they would get alone', async () => {
    const before = embedder.timings();
    const vectors = await Promise.all(
      photos.map(async (p) => (await embedder.embed([p]))[0] as Float32Array),
    );
    const calls = embedder.timings().inferenceCalls - before.inferenceCalls;
    assert.equal(embedder.timings().imagesInferred - before.imagesInferred, photos.length);
    assert.ok(calls < photos.length / 2, `${photos.length} concurrent calls made ${calls} inference calls`);
    for (const [i, v] of vectors.entries())
      assert.ok(
        maxAbsDiff(v, alone[i] as Float32Array) < 1e-4,
        `photo ${i}: ${maxAbsDiff(v, alone[i] as Float32Array)}`,
      );
  });

  test('a batch never exceeds batchSize photos; calls with a bad photo still get the others', async () => {
    const small = await Embedder.create({ precision: 'fp32', batchSize: 4 });
    try {
      const results = await Promise.all([
        small.embedEach([photos[0] as string, '/nonexistent.jpg']),
        ...photos.slice(1, 9).map((p) => small.embed([p])),
      ]);
      const t = small.timings();
      assert.equal(t.imagesInferred, 9);
      assert.ok(t.inferenceCalls >= 3, `${t.inferenceCalls} calls for 9 photos at batch 4`);
      const [first] = results as [unknown[]];
      assert.ok(first[0] instanceof Float32Array);
      assert.ok(maxAbsDiff(first[0] as Float32Array, alone[0] as Float32Array) < 1e-4);
      assert.equal((first[1] as { code: string }).code, 'not-found');
    } finally {
      await small.close();
    }
  });

  test('a lone call makes one inference call of its own photos', async () => {
    const before = embedder.timings();
    const [v] = await embedder.embed([photos[3] as string]);
    assert.equal(embedder.timings().inferenceCalls - before.inferenceCalls, 1);
    assert.ok(maxAbsDiff(v as Float32Array, alone[3] as Float32Array) < 1e-4);
  });

  test('batchWaitMs 0 still runs calls queued behind a busy model together', async () => {
    const nowait = await Embedder.create({ precision: 'fp32', batchSize: 16, batchWaitMs: 0 });
    try {
      await Promise.all(photos.map((p) => nowait.embed([p])));
      assert.ok(nowait.timings().inferenceCalls < photos.length);
    } finally {
      await nowait.close();
    }
  });
});

describe('thread settings', { timeout: 300_000 }, () => {
  test('no spinning and one inter-op thread by default; the settings asked for are the ones used', async () => {
    const byDefault = await Embedder.create({ precision: 'fp32' });
    const spinning = await Embedder.create({ precision: 'fp32', threads: 1, spinning: true });
    try {
      assert.deepEqual(byDefault.threads, { intraOp: availableParallelism(), interOp: 1, spinning: false });
      assert.deepEqual(spinning.threads, { intraOp: 1, interOp: 1, spinning: true });
      // Both run, and agree.
      const [a] = await byDefault.embed([photos[0] as string]);
      const [b] = await spinning.embed([photos[0] as string]);
      assert.ok(maxAbsDiff(a as Float32Array, b as Float32Array) < 1e-4);
    } finally {
      await byDefault.close();
      await spinning.close();
    }
  });
});
