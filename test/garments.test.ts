/** The garment finder and the match strengths, on real photos. */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { cacheDir } from '../src/config.js';
import { findGarments } from '../src/images/garments.js';
import { nameGarmentKinds } from '../src/recommend/garment-kinds.js';
import { MATCH_LABELS, matchOf, strengthOf } from '../src/recommend/match-strength.js';
import { MATCH_THRESHOLDS, SHOPPER_MATCH_THRESHOLDS } from '../src/recommend/match-thresholds.js';
import { Recommender } from '../src/recommend/recommender.js';
import { deriveSimilarity } from '../src/similarity/derive.js';
import { buildIndex } from './support/build-index.js';
import { catalogueImage, catalogueImages, queryImage, stylesCsv } from './support/datasets.js';
import { fixtureIndex, subsetIds } from './support/fixture-index.js';

/** Catalogue photos laid out on a white sheet, each `width` x `height` at its place. */
async function compose(
  items: { id: string; left: number; top: number }[],
  size = { width: 660, height: 320 },
  tile = { width: 200, height: 266 },
): Promise<Buffer> {
  const layers = await Promise.all(
    items.map(async ({ id, left, top }) => ({
      input: await sharp(catalogueImage(id))
        .resize(tile.width, tile.height, { fit: 'contain', background: '#ffffff' })
        .toBuffer(),
      left,
      top,
    })),
  );
  return sharp({ create: { ...size, channels: 3, background: '#ffffff' } })
    .composite(layers)
    .jpeg()
    .toBuffer();
}

const centreX = (g: { box: { left: number; width: number } }) => g.box.left + g.box.width / 2;

describe('garments: separate items in a photo', { timeout: 120_000 }, () => {
  test('two products side by side: two boxes, each where its product is', async () => {
    // A handbag (left) and jeans (right), on a 440x300 sheet.
    const photo = await compose(
      [
        { id: '47957', left: 10, top: 17 },
        { id: '39386', left: 230, top: 17 },
      ],
      { width: 440, height: 300 },
    );
    const garments = await findGarments(photo);
    assert.equal(garments.length, 2, JSON.stringify(garments));
    const [left, right] = [...garments].sort((a, b) => centreX(a) - centreX(b));
    assert.ok(left && right);
    // Each box lies within its product's tile (x 10..210 and 230..430 of 440), with a little slack.
    assert.ok(left.box.left >= 10 / 440 - 0.02 && left.box.left + left.box.width <= 210 / 440 + 0.02);
    assert.ok(right.box.left >= 230 / 440 - 0.02 && right.box.left + right.box.width <= 430 / 440 + 0.02);
    for (const g of garments) assert.ok(g.box.height > 0.4 && g.box.top >= 0 && g.score > 0.2);
    assert.ok(Math.abs(garments.reduce((s, g) => s + g.score, 0) - 1) < 1e-9, 'scores share the items found');
  });

  test('three products: three boxes, most salient first', async () => {
    const photo = await compose([
      { id: '47957', left: 10, top: 27 },
      { id: '39386', left: 230, top: 27 },
      { id: '1855', left: 450, top: 27 },
    ]);
    const garments = await findGarments(photo);
    assert.equal(garments.length, 3, JSON.stringify(garments));
    const scores = garments.map((g) => g.score);
    assert.deepEqual(
      scores,
      [...scores].sort((a, b) => b - a),
    );
  });

  test('one product: one suggestion or none, as catalogue and fashion-224 photos', async () => {
    for (const path of [
      catalogueImage('47957'),
      catalogueImage('39386'),
      queryImage(10410),
      queryImage(11165),
    ]) {
      const garments = await findGarments(await readFile(path));
      assert.ok(garments.length <= 1, `${path}: ${JSON.stringify(garments)}`);
    }
  });

  test('the photo as displayed: an EXIF-rotated photo gives boxes in its upright frame', async () => {
    const upright = await compose(
      [
        { id: '47957', left: 10, top: 17 },
        { id: '39386', left: 230, top: 17 },
      ],
      { width: 440, height: 300 },
    );
    // Stored rotated a quarter turn, with EXIF orientation 6 (display: rotate 90° clockwise).
    const stored = await sharp(upright).rotate(-90).withMetadata({ orientation: 6 }).jpeg().toBuffer();
    const garments = await findGarments(stored);
    assert.equal(garments.length, 2);
    const centres = garments.map(centreX).sort((a, b) => a - b);
    assert.ok((centres[0] as number) < 0.45 && (centres[1] as number) > 0.55, JSON.stringify(garments));
  });
});

describe('match strength', { timeout: 300_000 }, () => {
  test('thresholds are ordered, per similarity and kind of photo, and bands follow them', () => {
    for (const [name, table] of Object.entries({ MATCH_THRESHOLDS, SHOPPER_MATCH_THRESHOLDS })) {
      for (const [kind, t] of Object.entries(table)) {
        const at = `${name}.${kind}`;
        assert.ok(t.sameProduct >= t.strong && t.strong >= t.fair && t.fair > 0, at);
        assert.ok(Number.isFinite(t.fair), `${at}: every similarity tells fair from weak`);
        assert.equal(strengthOf(t.fair, t), t.fair === t.strong ? 'strong' : 'fair', at);
        assert.equal(strengthOf(t.fair - 1e-6, t), 'weak', at);
        if (Number.isFinite(t.strong) && t.strong < t.sameProduct) {
          assert.equal(strengthOf(t.strong, t), 'strong', at);
          assert.equal(strengthOf(t.strong - 1e-6, t), 'fair', at);
        }
        if (Number.isFinite(t.sameProduct)) assert.equal(strengthOf(t.sameProduct, t), 'same-product', at);
        assert.equal(strengthOf(0.1, t, true), 'same-product', 'the very product is the same product');
      }
    }
    assert.deepEqual(matchOf(0.99, 'learned'), {
      strength: 'same-product',
      label: MATCH_LABELS['same-product'],
    });
    // A shopper's photo: the same score is worth more.
    assert.equal(matchOf(0.5, 'learned').strength, 'weak');
    assert.equal(matchOf(0.5, 'learned', true).strength, 'fair');
    // The original similarity's scores never say "the same product".
    assert.equal(matchOf(0.999, 'original').strength, 'strong');
  });

  test('on a real index: another photo of a product finds it as the same product; other products are not', async () => {
    const fixture = await fixtureIndex();
    const recommender = await Recommender.open(fixture.dir);
    try {
      const similarity = recommender.manifest.similarity;
      // A fashion-224 photo of a product in the index (original similarity: its own threshold).
      const { results } = await recommender.recommend(queryImage(10410), { k: 20 });
      assert.equal(results[0]?.id, '10410');
      const strengths = results.map((r) => matchOf(r.score, similarity).strength);
      assert.ok(
        ['same-product', 'strong'].includes(strengths[0] as string),
        `its own product: ${strengths[0]} at ${results[0]?.score}`,
      );
      assert.ok(
        strengths.slice(1).every((s) => s !== 'same-product'),
        'no other product is taken for the same',
      );
      // An unrelated kind ranks low, and its matches are not strong.
      const { results: far } = await recommender.recommend(queryImage(10410), {
        k: 5,
        where: { [recommender.schema.kindColumn as string]: ['Watches'] },
      });
      assert.ok(far.length > 0);
      for (const r of far)
        assert.ok(['fair', 'weak'].includes(matchOf(r.score, similarity).strength), `${r.id} ${r.score}`);
    } finally {
      await recommender.close();
    }
  });

  test("each of several items gets its kind from the learned similarity's classifier", async () => {
    // The learned fixture of test/similarity.test.ts (built the same way: reused when there).
    const dir = join(cacheDir, 'test-indexes', 'learned');
    await buildIndex({
      imagesDir: catalogueImages,
      outDir: dir,
      metadataPath: stylesCsv,
      ids: subsetIds(600),
      derive: deriveSimilarity({ kind: 'learned', epochs: 8 }),
    });
    const recommender = await Recommender.open(dir);
    try {
      const photo = await compose(
        [
          { id: '47957', left: 10, top: 17 },
          { id: '39386', left: 230, top: 17 },
        ],
        { width: 440, height: 300 },
      );
      const garments = await findGarments(photo);
      const named = await nameGarmentKinds(recommender, photo, garments);
      assert.deepEqual(
        named.map((g) => g.box),
        garments.map((g) => g.box),
      );
      const [bag, jeans] = [...named].sort((a, b) => centreX(a) - centreX(b));
      assert.equal(bag?.kind, 'Handbags');
      assert.ok(
        jeans?.kind === undefined || ['Jeans', 'Trousers', 'Track Pants'].includes(jeans.kind),
        jeans?.kind,
      );
    } finally {
      await recommender.close();
    }
    // The original similarity has no classifier: no kinds.
    const original = await Recommender.open((await fixtureIndex()).dir);
    try {
      const photo = await readFile(catalogueImage('47957'));
      const garments = [{ box: { left: 0, top: 0, width: 1, height: 1 }, score: 1 }];
      assert.deepEqual(await nameGarmentKinds(original, photo, garments), garments);
    } finally {
      await original.close();
    }
  });
});
