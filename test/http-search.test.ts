/**
 * The search API of issue 12 on the real server and the small real index: query ids, paging,
 * facet counts and groups, match strengths, several garments, and the OpenAPI document's
 * try-it defaults.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { chromium } from 'playwright-core';
import sharp from 'sharp';
import { datasetsDir } from '../src/config.js';
import type {
  ApiErrorBody,
  ApiFacets,
  ApiGarments,
  ApiResults,
} from '../src/interfaces/http/api/contract.js';
import { buildApp } from '../src/interfaces/http/app.js';
import { MATCH_LABELS, MATCH_STRENGTHS, strengthOf } from '../src/recommend/match-strength.js';
import { MATCH_THRESHOLDS, SHOPPER_MATCH_THRESHOLDS } from '../src/recommend/match-thresholds.js';
import { Recommender } from '../src/recommend/recommender.js';
import { catalogueImage, queryImage } from './support/datasets.js';
import { DUPLICATE_PAIRS, type FixtureIndex, fixtureIndex } from './support/fixture-index.js';
import { listen } from './support/serve.js';

const QUERY_PHOTO = queryImage(10410);
/** A shopper's own photo (street-dev): not on a plain light background. */
const STREET_PHOTO = join(datasetsDir, 'street-dev', 'images', '00003aeb-ace5-43bf-9a0c-dc31a03e9cd2.jpg');

let fixture: FixtureIndex;
let recommender: Recommender;
let app: FastifyInstance;
let base: string;

/** Two catalogue photos side by side on white: a handbag on the left, jeans on the right. */
async function twoGarments(left = '47957', right = '39386'): Promise<Buffer> {
  const tile = (id: string) =>
    sharp(catalogueImage(id)).resize(200, 266, { fit: 'contain', background: '#ffffff' }).toBuffer();
  return sharp({ create: { width: 440, height: 300, channels: 3, background: '#ffffff' } })
    .composite([
      { input: await tile(left), left: 10, top: 17 },
      { input: await tile(right), left: 230, top: 17 },
    ])
    .jpeg()
    .toBuffer();
}

async function post(
  path: string,
  photo: Buffer | string,
  fields: [string, string][] = [],
  server = base,
): Promise<Response> {
  const bytes = typeof photo === 'string' ? await readFile(photo) : photo;
  const form = new FormData();
  for (const [name, value] of fields) form.append(name, value);
  form.append('image', new Blob([new Uint8Array(bytes)], { type: 'image/jpeg' }), 'photo.jpg');
  return fetch(`${server}${path}`, { method: 'POST', body: form });
}

async function json<T>(response: Response, status = 200): Promise<T> {
  const body = (await response.json()) as T;
  assert.equal(response.status, status, JSON.stringify(body));
  return body;
}

async function assertError(response: Response, status: number, code: string): Promise<string> {
  const body = await json<ApiErrorBody>(response, status);
  assert.deepEqual(Object.keys(body), ['error']);
  assert.equal(body.error.code, code, body.error.message);
  return body.error.message;
}

const ids = (body: ApiResults) => body.results.map((r) => r.id);

before(async () => {
  fixture = await fixtureIndex();
  recommender = await Recommender.open(fixture.dir, { eager: true });
  app = await buildApp({ recommender });
  base = await listen(app);
});

after(async () => {
  await app?.close();
  await recommender?.close();
});

describe('query ids: an uploaded photo searched again', { timeout: 300_000 }, () => {
  test('GET /api/queries/:id gives the same results, then other filters and pages, without the photo', async () => {
    const first = await json<ApiResults>(await post('/api/recommend?k=10', QUERY_PHOTO));
    const id = first.queryId as string;
    assert.match(id, /^[A-Za-z0-9_-]{16}$/);
    assert.deepEqual(first.page, { offset: 0, k: 10, hasMore: true });

    const again = await json<ApiResults>(await fetch(`${base}/api/queries/${id}?k=10`));
    assert.deepEqual(ids(again), ids(first));
    assert.deepEqual(
      again.results.map((r) => r.score),
      first.results.map((r) => r.score),
    );
    assert.equal(again.queryId, id);
    assert.deepEqual(again.query, first.query);

    const page = await json<ApiResults>(await fetch(`${base}/api/queries/${id}?k=4&offset=3`));
    assert.deepEqual(ids(page), ids(first).slice(3, 7));
    assert.deepEqual(page.page, { offset: 3, k: 4, hasMore: true });

    const men = await json<ApiResults>(
      await fetch(`${base}/api/queries/${id}?k=6&gender=Men&articleType=Tshirts&articleType=Shirts`),
    );
    assert.equal(men.results.length, 6);
    for (const r of men.results) {
      assert.equal(r.metadata.gender, 'Men');
      assert.ok(['Tshirts', 'Shirts'].includes(r.metadata.articleType as string), r.metadata.articleType);
    }

    await assertError(await fetch(`${base}/api/queries/${id}?colour=Red`), 400, 'bad-request');
    await assertError(await fetch(`${base}/api/queries/${id}?offset=201`), 400, 'bad-request');
  });

  test('a catalogue photo keeps its own listings out when searched again', async () => {
    const [id, twin] = DUPLICATE_PAIRS[0] as [string, string];
    const first = await json<ApiResults>(await post('/api/recommend', catalogueImage(id)));
    assert.equal(first.query.recognisedAs, id);
    const again = await json<ApiResults>(await fetch(`${base}/api/queries/${first.queryId}?k=50`));
    assert.equal(again.query.recognisedAs, id);
    assert.ok(!ids(again).includes(id) && !ids(again).includes(twin));
    assert.equal(again.results.length, 50);
  });

  test('an unknown, expired or pushed-out id is 404 query-expired, telling to upload the photo again', async () => {
    const message = await assertError(
      await fetch(`${base}/api/queries/AAAAAAAAAAAAAAAA`),
      404,
      'query-expired',
    );
    assert.match(message, /upload the photo again/);

    // A store that keeps 2 queries for 300 ms after their last use.
    const small = await buildApp({ recommender, queryStore: { maxEntries: 2, ttlMs: 300 } });
    const smallBase = await listen(small);
    try {
      const photo = await readFile(QUERY_PHOTO);
      const queryIds: string[] = [];
      for (let i = 0; i < 3; i++) {
        queryIds.push(
          (await json<ApiResults>(await post('/api/recommend', photo, [], smallBase))).queryId as string,
        );
      }
      assert.equal(new Set(queryIds).size, 3);
      await assertError(await fetch(`${smallBase}/api/queries/${queryIds[0]}`), 404, 'query-expired');
      // Use keeps one alive past its first 300 ms; the unused one expires.
      for (let i = 0; i < 4; i++) {
        await sleep(120);
        await json<ApiResults>(await fetch(`${smallBase}/api/queries/${queryIds[2]}`));
      }
      await assertError(await fetch(`${smallBase}/api/queries/${queryIds[1]}`), 404, 'query-expired');
      await sleep(400);
      await assertError(await fetch(`${smallBase}/api/queries/${queryIds[2]}`), 404, 'query-expired');
    } finally {
      await small.close();
    }
  });
});

describe('paging with offset', { timeout: 300_000 }, () => {
  test('offset gives the next ranks, on uploads and more like this; hasMore says when they end', async () => {
    const ten = await json<ApiResults>(await fetch(`${base}/api/products/11165/similar?k=10`));
    const second = await json<ApiResults>(await fetch(`${base}/api/products/11165/similar?k=5&offset=5`));
    assert.deepEqual(ids(second), ids(ten).slice(5));
    assert.deepEqual(second.page, { offset: 5, k: 5, hasMore: true });

    const upload = await json<ApiResults>(await post('/api/recommend?k=10', QUERY_PHOTO));
    const byForm = await json<ApiResults>(
      await post('/api/recommend', QUERY_PHOTO, [
        ['k', '3'],
        ['offset', '7'],
      ]),
    );
    assert.deepEqual(ids(byForm), ids(upload).slice(7, 10));
    assert.deepEqual(byForm.page, { offset: 7, k: 3, hasMore: true });

    // The fixture has fewer T-shirts than 50: one page holds them all.
    const tshirts = await json<ApiResults>(
      await fetch(`${base}/api/products/11165/similar?k=50&articleType=Tshirts`),
    );
    assert.ok(tshirts.results.length > 5 && tshirts.results.length < 50);
    assert.equal(tshirts.page?.hasMore, false);
    const rest = tshirts.results.length - 4;
    const last = await json<ApiResults>(
      await fetch(`${base}/api/products/11165/similar?k=10&offset=${rest}&articleType=Tshirts`),
    );
    assert.deepEqual(ids(last), ids(tshirts).slice(rest));
    assert.equal(last.page?.hasMore, false);
    const beyond = await json<ApiResults>(
      await fetch(`${base}/api/products/11165/similar?k=10&offset=200&articleType=Tshirts`),
    );
    assert.deepEqual(beyond.results, []);
    assert.equal(beyond.page?.hasMore, false);

    // At the largest offset there is no next page.
    const deepest = await json<ApiResults>(await fetch(`${base}/api/products/11165/similar?k=5&offset=200`));
    assert.equal(deepest.results.length, 5);
    assert.equal(deepest.page?.hasMore, false);

    for (const bad of ['-1', '201', '1.5', 'ten', '0x10']) {
      const message = await assertError(
        await fetch(`${base}/api/products/11165/similar?offset=${bad}`),
        400,
        'bad-request',
      );
      assert.match(message, /offset must be an integer from 0 to 200/);
    }
    await assertError(await post('/api/recommend', QUERY_PHOTO, [['offset', '300']]), 400, 'bad-field');
  });
});

describe('GET /api/facets: counts without dead ends, and groups', { timeout: 300_000 }, () => {
  /** What a filter keeps, counted product by product (the check of the index's counts). */
  function bruteCount(where: Record<string, string[]>, column: string, value: string): number {
    return recommender.items.filter((item) =>
      Object.entries({ ...where, [column]: [value] }).every(([c, values]) =>
        values.some((v) => v.toLowerCase() === (item.metadata[c] ?? '').toLowerCase()),
      ),
    ).length;
  }

  test('without filters, the counts are the values’ own', async () => {
    const facets = await json<ApiFacets>(await fetch(`${base}/api/facets`));
    for (const facet of facets.facets) assert.deepEqual(facet.counts, facet.values, facet.column);
  });

  test('each value counts the products it would find under the other columns’ filters (OR within a column)', async () => {
    const where = { gender: ['Men', 'Boys'], articleType: ['Tshirts', 'Shirts', 'Casual Shoes'] };
    const query = Object.entries(where)
      .flatMap(([c, values]) => values.map((v) => `${c}=${encodeURIComponent(v)}`))
      .join('&');
    const facets = await json<ApiFacets>(await fetch(`${base}/api/facets?${query}`));
    let zeros = 0;
    for (const facet of facets.facets) {
      const others = Object.fromEntries(Object.entries(where).filter(([c]) => c !== facet.column));
      assert.deepEqual(
        facet.counts?.map((c) => c.value),
        facet.values.map((v) => v.value),
      );
      for (const { value, count } of facet.counts ?? []) {
        assert.equal(count, bruteCount(others, facet.column, value), `${facet.column}=${value}`);
        if (count === 0) zeros += 1;
      }
    }
    assert.ok(zeros > 0, 'some choices are dead ends here');

    // A choice counted 0 finds nothing; one counted more finds that many products.
    const kinds = facets.facets.find((f) => f.column === 'articleType')?.counts ?? [];
    const dead = kinds.find((c) => c.count === 0) as { value: string };
    const live = kinds.find((c) => c.count > 0) as { value: string; count: number };
    const find = async (value: string) =>
      json<ApiResults>(
        await fetch(
          `${base}/api/products/11165/similar?k=50&gender=Men&gender=Boys&articleType=${encodeURIComponent(value)}`,
        ),
      );
    assert.deepEqual((await find(dead.value)).results, []);
    assert.ok((await find(live.value)).results.length > 0, live.value);
  });

  test('the kind facet is grouped by a coarser facet detected from the catalogue', async () => {
    const facets = await json<ApiFacets>(await fetch(`${base}/api/facets`));
    const kind = facets.facets.find((f) => f.column === facets.kind);
    assert.ok(facets.groupedBy && facets.groupedBy !== facets.kind);
    assert.ok(kind?.groups && kind.groups.length >= 2);
    // Every kind value in exactly one group; each group a value of the grouping facet.
    const grouped = kind.groups.flatMap((g) => g.values);
    assert.deepEqual([...grouped].sort(), kind.values.map((v) => v.value).sort());
    const groupValues = new Set(
      facets.facets.find((f) => f.column === facets.groupedBy)?.values.map((v) => v.value) ?? [],
    );
    for (const g of kind.groups) {
      assert.ok(groupValues.has(g.group), g.group);
      // The products of a kind have (nearly all) their group's value.
      for (const value of g.values) {
        const items = recommender.items.filter((i) => i.metadata[facets.kind as string] === value);
        const inGroup = items.filter((i) => i.metadata[facets.groupedBy as string] === g.group).length;
        assert.ok(inGroup >= items.length * 0.5, `${value} in ${g.group}`);
      }
    }
    // Other facets have no groups.
    for (const f of facets.facets) if (f.column !== facets.kind) assert.equal(f.groups, undefined);
  });

  test('unknown or bad filters are 400', async () => {
    const message = await assertError(await fetch(`${base}/api/facets?k=5`), 400, 'bad-request');
    assert.match(message, /expected a filter: gender, masterCategory/);
    await assertError(await fetch(`${base}/api/facets?gender=${'x'.repeat(201)}`), 400, 'bad-request');
  });
});

describe('match strength', { timeout: 300_000 }, () => {
  test('every result has a strength and its words, never stronger further down', async () => {
    for (const body of [
      await json<ApiResults>(await post('/api/recommend?k=50', QUERY_PHOTO)),
      await json<ApiResults>(await fetch(`${base}/api/products/11165/similar?k=50`)),
    ]) {
      const order = body.results.map((r) => MATCH_STRENGTHS.indexOf(r.match.strength));
      assert.ok(order.every((o) => o >= 0));
      for (const r of body.results) assert.equal(r.match.label, MATCH_LABELS[r.match.strength]);
      for (let i = 1; i < order.length; i++) {
        assert.ok((order[i] as number) >= (order[i - 1] as number), 'strengths follow the scores');
      }
    }
  });
});

describe('match strength of shoppers’ photos', { timeout: 300_000 }, () => {
  test("a shopper's own photo is judged by the shoppers' thresholds, a catalogue-like one by the catalogue's", async () => {
    const similarity = recommender.manifest.similarity;
    const cases = [
      { photo: QUERY_PHOTO, thresholds: MATCH_THRESHOLDS[similarity] },
      { photo: STREET_PHOTO, thresholds: SHOPPER_MATCH_THRESHOLDS[similarity] },
    ];
    for (const { photo, thresholds } of cases) {
      const body = await json<ApiResults>(await post('/api/recommend?k=20', photo));
      for (const r of body.results) {
        assert.equal(r.match.strength, strengthOf(r.score, thresholds), `${photo} ${r.score}`);
      }
      const again = await json<ApiResults>(await fetch(`${base}/api/queries/${body.queryId}?k=20`));
      assert.deepEqual(
        again.results.map((r) => r.match),
        body.results.map((r) => r.match),
      );
    }
  });
});

describe('several garments', { timeout: 300_000 }, () => {
  test('POST /api/garments finds the two items of a photo where they are', async () => {
    const body = await json<ApiGarments>(await post('/api/garments', await twoGarments()));
    assert.equal(body.garments.length, 2, JSON.stringify(body));
    const centres = body.garments.map((g) => g.box.left + g.box.width / 2).sort((a, b) => a - b);
    assert.ok((centres[0] as number) < 0.45 && (centres[1] as number) > 0.55, JSON.stringify(body));
    for (const g of body.garments) {
      assert.ok(
        g.box.left >= 0 && g.box.top >= 0 && g.box.left + g.box.width <= 1 && g.box.top + g.box.height <= 1,
      );
      assert.ok(g.box.width < 0.5 && g.box.height > 0.4, JSON.stringify(g.box));
      assert.ok(g.score > 0 && g.score <= 1);
    }
  });

  test('a single product gives one suggestion or none', async () => {
    for (const id of ['47957', '39386', '11165']) {
      const body = await json<ApiGarments>(await post('/api/garments', catalogueImage(id)));
      assert.ok(body.garments.length <= 1, `${id}: ${JSON.stringify(body)}`);
    }
  });

  test('a search on a photo of two items names them in query.garments; of one, not', async () => {
    const two = await json<ApiResults>(await post('/api/recommend', await twoGarments()));
    assert.equal(two.query.garments?.length, 2);
    const again = await json<ApiResults>(await fetch(`${base}/api/queries/${two.queryId}`));
    assert.deepEqual(again.query.garments, two.query.garments);
    const one = await json<ApiResults>(await post('/api/recommend', QUERY_PHOTO));
    assert.equal(one.query.garments, undefined);
  });

  test('bad uploads are refused as searches refuse them', async () => {
    await assertError(await post('/api/garments', Buffer.from('not a photo at all')), 415, 'not-an-image');
    await assertError(await post('/api/garments', QUERY_PHOTO, [['k', '5']]), 400, 'bad-field');
    await assertError(
      await fetch(`${base}/api/garments`, { method: 'POST', body: new FormData() }),
      400,
      'missing-image',
    );
  });
});

describe('OpenAPI try-it defaults', { timeout: 300_000 }, () => {
  interface Schema {
    type?: string;
    example?: unknown;
    default?: unknown;
    properties?: Record<string, Schema>;
    items?: Schema;
  }
  test('no form field would be sent as "string": filters have an empty example, k and offset their defaults', async () => {
    const doc = (await (await fetch(`${base}/api/docs/json`)).json()) as {
      paths: Record<
        string,
        Record<
          string,
          {
            parameters?: { name: string; example?: unknown; schema: Schema }[];
            requestBody?: { content: Record<string, { schema: Schema }> };
          }
        >
      >;
    };
    let forms = 0;
    // (The search and catalogue routes: the admin routes are documented by their own plugin.)
    const routes = Object.entries(doc.paths).filter(([path]) => !path.startsWith('/api/admin'));
    for (const [path, methods] of routes) {
      for (const [method, op] of Object.entries(methods)) {
        for (const p of op.parameters ?? []) {
          assert.notEqual(p.example, 'string', `${method} ${path} ${p.name}`);
          assert.notEqual(p.schema.default, 'string', `${method} ${path} ${p.name}`);
        }
        const form = op.requestBody?.content['multipart/form-data']?.schema;
        for (const [name, prop] of Object.entries(form?.properties ?? {})) {
          forms += 1;
          if (name === 'image') continue;
          // Swagger UI fills a form field without an example with its type's ("string").
          assert.equal(typeof prop.example, 'string', `${method} ${path} ${name}`);
        }
      }
    }
    assert.ok(forms > 5);
    const recommend = doc.paths['/api/recommend']?.post?.requestBody?.content['multipart/form-data']?.schema;
    assert.equal(recommend?.properties?.k?.example, '5');
    assert.equal(recommend?.properties?.offset?.example, '0');
    assert.equal(recommend?.properties?.gender?.example, '');
    // As Swagger UI sends them: empty filters are no filters.
    const sent = await json<ApiResults>(
      await post('/api/recommend', QUERY_PHOTO, [
        ['k', '5'],
        ['offset', '0'],
        ['gender', ''],
        ['masterCategory', ''],
        ['subCategory', ''],
        ['articleType', ''],
        ['baseColour', ''],
      ]),
    );
    assert.equal(sent.results.length, 5);
  });

  test('in Swagger UI, "Try it out" fills no filter: empty filters, k 5, offset 0', async () => {
    const browser = await chromium.launch({
      executablePath: process.env.LOOKALIKE_CHROMIUM ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run'],
    });
    try {
      const page = await browser.newPage();
      await page.goto(`${base}/api/docs`);
      const values = async (op: string) => {
        await page.locator(`${op} .opblock-summary`).first().click();
        await page.locator(`${op} .try-out__btn`).click();
        await page.locator(`${op} .execute`).waitFor();
        return page
          .locator(`${op} input[type=text], ${op} input:not([type]), ${op} textarea`)
          .evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value));
      };
      const recommend = await values('#operations-search-post_api_recommend');
      // k and offset as query parameters (empty), then the form: k, offset, the five filters.
      assert.deepEqual(recommend, ['', '', '5', '0', '', '', '', '', '']);
      const similar = await values('#operations-search-get_api_products__id__similar');
      assert.ok(
        similar.every((v) => v === ''),
        JSON.stringify(similar),
      );
    } finally {
      await browser.close();
    }
  });
});
