import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import {
  type ApiErrorBody,
  type ApiFacets,
  type ApiHealth,
  type ApiProduct,
  type ApiResults,
  MAX_UPLOAD_BYTES,
} from '../src/interfaces/http/api/contract.js';
import { DEFAULT_UPLOAD_LIMITS, UploadLimiter } from '../src/interfaces/http/api/upload-limiter.js';
import { buildApp } from '../src/interfaces/http/app.js';
import { startServer } from '../src/interfaces/http/server.js';
import { Recommender } from '../src/recommend/recommender.js';
import { catalogueImage, queryImage } from './support/datasets.js';
import { DUPLICATE_PAIRS, type FixtureIndex, fixtureIndex } from './support/fixture-index.js';
import { listen, spawnCli } from './support/serve.js';
import { type ShopCatalogue, type ShopRow, shopIndex } from './support/shop-catalogue.js';

/** A 224x224 photo of a catalogue product: different bytes from the catalogue's, so it is embedded. */
const QUERY_PHOTO = queryImage(10410);
/** The fashion catalogue's filters, in its schema's order. */
const FASHION_FACETS = ['gender', 'masterCategory', 'subCategory', 'articleType', 'baseColour'];

interface Upload {
  /** The photo's bytes, or a path to read them from. */
  photo: Buffer | string;
  filename?: string;
  field?: string;
  fields?: [string, string][];
  query?: string;
}

let fixture: FixtureIndex;
let recommender: Recommender;
let app: FastifyInstance;
let base: string;

async function upload(
  { photo, filename = 'photo.jpg', field = 'image', fields = [], query = '' }: Upload,
  server = base,
) {
  const bytes = typeof photo === 'string' ? await readFile(photo) : photo;
  const form = new FormData();
  for (const [name, value] of fields) form.append(name, value);
  form.append(field, new Blob([new Uint8Array(bytes)], { type: 'image/jpeg' }), filename);
  return fetch(`${server}/api/recommend${query}`, { method: 'POST', body: form });
}

async function json<T>(response: Response): Promise<T> {
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  return (await response.json()) as T;
}

/** Asserts a JSON error answer with this status and code, and nothing else in the body. */
async function assertError(response: Response, status: number, code: string): Promise<string> {
  const body = await json<ApiErrorBody>(response);
  assert.equal(response.status, status, JSON.stringify(body));
  assert.deepEqual(Object.keys(body), ['error']);
  assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message']);
  assert.equal(body.error.code, code, body.error.message);
  assert.ok(body.error.message.length > 0);
  assert.doesNotMatch(body.error.message, /\n\s+at /, 'no stack trace');
  return body.error.message;
}

function assertSortedResults(body: ApiResults, k: number): void {
  assert.equal(body.results.length, k);
  for (let i = 1; i < body.results.length; i++) {
    assert.ok(
      (body.results[i - 1]?.score ?? 0) >= (body.results[i]?.score ?? 0),
      'results are sorted by score, best first',
    );
  }
}

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

describe('POST /api/recommend', { timeout: 120_000 }, () => {
  test('a real photo gives 5 products, best first, with every field and a fetchable image', async () => {
    const response = await upload({ photo: QUERY_PHOTO, filename: '10410.jpg' });
    const body = await json<ApiResults>(response);
    assert.equal(response.status, 200, JSON.stringify(body));
    assert.deepEqual(body.query, { excluded: [] });
    assert.match(body.queryId ?? '', /^[A-Za-z0-9_-]{16}$/);
    assert.deepEqual(body.page, { offset: 0, k: 5, hasMore: true });
    assertSortedResults(body, 5);
    for (const r of body.results) {
      assert.deepEqual(
        Object.keys(r).sort(),
        ['alsoListedAs', 'id', 'imageUrl', 'match', 'metadata', 'name', 'reasons', 'score'],
        'a product with its score, match strength and reasons, nothing else',
      );
      for (const field of ['id', 'name', 'imageUrl'] as const) {
        assert.equal(typeof r[field], 'string', `${field} of ${r.id}`);
      }
      for (const column of FASHION_FACETS) {
        assert.equal(typeof r.metadata[column], 'string', `${column} of ${r.id}`);
      }
      assert.equal(r.name, r.metadata.productDisplayName, 'the name is the title column');
      assert.ok(fixture.ids.has(r.id));
      assert.ok(r.score > 0 && r.score <= 1);
      assert.ok(Array.isArray(r.alsoListedAs));
      assert.equal(r.imageUrl, `/images/${r.id}`);
      assert.equal(Object.hasOwn(r, 'imagePath'), false, 'no server path in the answer');
    }
    // The product itself (a different photo of it) is the best match.
    assert.equal(body.results[0]?.id, '10410');

    const image = await fetch(`${base}${body.results[0]?.imageUrl}`);
    assert.equal(image.status, 200);
    assert.equal(image.headers.get('content-type'), 'image/jpeg');
    const bytes = Buffer.from(await image.arrayBuffer());
    assert.deepEqual(bytes, await readFile(catalogueImage('10410')));
  });

  test('k and filters, as query parameters or form fields; all results match the filters', async () => {
    const byQuery = await json<ApiResults>(
      await upload({ photo: QUERY_PHOTO, query: '?k=3&gender=Women&masterCategory=footwear' }),
    );
    assertSortedResults(byQuery, 3);
    for (const r of byQuery.results) {
      assert.equal(r.metadata.gender, 'Women');
      assert.equal(r.metadata.masterCategory, 'Footwear');
    }

    const byForm = await upload({
      photo: QUERY_PHOTO,
      fields: [
        ['k', '8'],
        ['baseColour', 'Black'],
        ['baseColour', 'white'],
        ['gender', ''], // "any": ignored
      ],
    });
    const body = await json<ApiResults>(byForm);
    assert.equal(byForm.status, 200, JSON.stringify(body));
    assertSortedResults(body, 8);
    for (const r of body.results) {
      const colour = r.metadata.baseColour;
      assert.ok(colour === 'Black' || colour === 'White', colour);
    }

    const many = await json<ApiResults>(await upload({ photo: QUERY_PHOTO, query: '?k=50' }));
    assertSortedResults(many, 50);
  });

  test('a filter value the catalogue lacks matches nothing: 200 with no results', async () => {
    const response = await upload({ photo: QUERY_PHOTO, query: '?articleType=Spacesuits' });
    assert.equal(response.status, 200);
    assert.deepEqual((await json<ApiResults>(response)).results, []);
  });

  test('bad k, unknown parameters and unknown form fields are 400 with the reason', async () => {
    await assertError(await upload({ photo: QUERY_PHOTO, query: '?k=0' }), 400, 'bad-request');
    await assertError(await upload({ photo: QUERY_PHOTO, query: '?k=51' }), 400, 'bad-request');
    const unknown = await assertError(
      await upload({ photo: QUERY_PHOTO, query: '?colour=Red' }),
      400,
      'bad-request',
    );
    assert.match(unknown, /"colour"/);
    assert.match(unknown, new RegExp(`expected k, offset or a filter: ${FASHION_FACETS.join(', ')}$`));
    const badK = await assertError(
      await upload({ photo: QUERY_PHOTO, fields: [['k', 'five']] }),
      400,
      'bad-field',
    );
    assert.match(badK, /k must be an integer from 1 to 50/);
    // A metadata column that is not a facet of the schema is no filter.
    const notFacet = await assertError(
      await upload({ photo: QUERY_PHOTO, fields: [['season', 'Summer']] }),
      400,
      'bad-field',
    );
    assert.match(notFacet, /unknown form field "season"; expected image, k, offset or a filter: gender,/);
    await assertError(await upload({ photo: QUERY_PHOTO, query: '?season=Summer' }), 400, 'bad-request');
  });

  test('a catalogue photo is recognised, and it and its duplicate listings are left out', async () => {
    const [id, twin] = DUPLICATE_PAIRS[0] as [string, string];
    const body = await json<ApiResults>(await upload({ photo: catalogueImage(id), filename: `${id}.jpg` }));
    assert.equal(body.query.recognisedAs, id);
    assert.deepEqual([...body.query.excluded].sort(), [id, twin].sort());
    assertSortedResults(body, 5);
    const ids = body.results.map((r) => r.id);
    assert.ok(!ids.includes(id) && !ids.includes(twin), ids.join(','));
  });

  test('a file that is not an image is 415, whatever its name says', async () => {
    const text = Buffer.from('These are my shopping notes, not a photo.\n');
    const message = await assertError(
      await upload({ photo: text, filename: 'photo.jpg' }),
      415,
      'not-an-image',
    );
    assert.match(message, /not an image/);
    const pdf = Buffer.from('%PDF-1.7\n%âãÏÓ\n1 0 obj\n<<>>\nendobj\n');
    const unsupported = await assertError(
      await upload({ photo: pdf, filename: 'scan.png' }),
      415,
      'unsupported-format',
    );
    assert.match(unsupported, /PDF/);
  });

  test('a truncated JPEG is 422', async () => {
    const whole = await readFile(QUERY_PHOTO);
    const message = await assertError(
      await upload({ photo: whole.subarray(0, Math.floor(whole.length / 2)) }),
      422,
      'truncated',
    );
    assert.match(message, /JPEG/);
  });

  test('an empty file is 400', async () => {
    await assertError(await upload({ photo: Buffer.alloc(0) }), 400, 'empty');
  });

  test('a photo over 20 MiB is 413', async () => {
    const big = Buffer.alloc(MAX_UPLOAD_BYTES + 1, 0xff);
    const message = await assertError(await upload({ photo: big, filename: 'huge.jpg' }), 413, 'too-large');
    assert.match(message, /20 MiB/);
  });

  test('no photo, a photo in another field, or no multipart body: 400 / 415', async () => {
    const fieldsOnly = new FormData();
    fieldsOnly.append('k', '3');
    await assertError(
      await fetch(`${base}/api/recommend`, { method: 'POST', body: fieldsOnly }),
      400,
      'missing-image',
    );
    await assertError(
      await fetch(`${base}/api/recommend`, { method: 'POST', body: new FormData() }),
      400,
      'missing-image',
    );
    await assertError(await upload({ photo: QUERY_PHOTO, field: 'photo' }), 400, 'bad-field');
    await assertError(
      await fetch(`${base}/api/recommend`, {
        method: 'POST',
        headers: { 'content-type': 'image/jpeg' },
        body: new Uint8Array(await readFile(QUERY_PHOTO)),
      }),
      415,
      'not-multipart',
    );
    await assertError(
      await fetch(`${base}/api/recommend`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      }),
      415,
      'not-multipart',
    );
  });
});

describe('GET /api/products/:id and /similar', { timeout: 120_000 }, () => {
  test('a product of the index', async () => {
    const response = await fetch(`${base}/api/products/11165`);
    const product = await json<ApiProduct>(response);
    assert.equal(response.status, 200);
    assert.deepEqual(Object.keys(product).sort(), ['alsoListedAs', 'id', 'imageUrl', 'metadata', 'name']);
    assert.equal(product.id, '11165');
    assert.equal(product.name, product.metadata.productDisplayName);
    assert.equal(product.metadata.articleType, 'Shirts');
    // Every column of the catalogue, facet or not.
    for (const column of [...FASHION_FACETS, 'season', 'year', 'usage', 'productDisplayName']) {
      assert.equal(typeof product.metadata[column], 'string', column);
    }
    assert.equal(product.imageUrl, '/images/11165');
    assert.deepEqual(product.alsoListedAs, ['11166']);
  });

  test('unknown products are 404', async () => {
    await assertError(await fetch(`${base}/api/products/99999999`), 404, 'unknown-product');
    await assertError(await fetch(`${base}/api/products/99999999/similar`), 404, 'unknown-product');
  });

  test('more like this: k and filters apply; the product and its duplicate listings are left out', async () => {
    const body = await json<ApiResults>(await fetch(`${base}/api/products/11165/similar`));
    assert.equal(body.query.recognisedAs, '11165');
    assert.deepEqual([...body.query.excluded].sort(), ['11165', '11166']);
    assertSortedResults(body, 5);
    assert.ok(body.results.every((r) => r.id !== '11165' && r.id !== '11166'));

    const filtered = await json<ApiResults>(
      await fetch(`${base}/api/products/11165/similar?k=4&articleType=Tshirts&gender=Men`),
    );
    assertSortedResults(filtered, 4);
    for (const r of filtered.results) {
      assert.deepEqual([r.metadata.articleType, r.metadata.gender], ['Tshirts', 'Men']);
    }

    await assertError(await fetch(`${base}/api/products/11165/similar?k=100`), 400, 'bad-request');
  });
});

describe('GET /api/health and /api/facets', { timeout: 120_000 }, () => {
  test('health names the index size, the embedding spec and the device', async () => {
    const response = await fetch(`${base}/api/health`);
    const health = await json<ApiHealth>(response);
    assert.equal(response.status, 200);
    assert.equal(health.status, 'ok');
    assert.equal(health.index.count, fixture.ids.size);
    assert.equal(health.spec.dim, 2048);
    assert.equal(health.spec.pooling, recommender.manifest.spec.pooling);
    assert.equal(health.model.device, 'cpu');
    assert.equal(health.uploads.active, 0);
  });

  test("facets: the schema's facets in its order, each value with its count, and which are the kind and the colour", async () => {
    const response = await fetch(`${base}/api/facets`);
    const facets = await json<ApiFacets>(response);
    assert.equal(response.status, 200);
    assert.deepEqual(Object.keys(facets).sort(), ['colour', 'facets', 'groupedBy', 'kind', 'title']);
    assert.deepEqual(
      facets.facets.map((f) => f.column),
      FASHION_FACETS,
    );
    assert.deepEqual(
      facets.facets.map((f) => f.column),
      recommender.schema.facets,
    );
    assert.deepEqual(
      [facets.title, facets.kind, facets.colour],
      ['productDisplayName', 'articleType', 'baseColour'],
    );
    const values = (column: string) => facets.facets.find((f) => f.column === column)?.values ?? [];
    const genders = values('gender').map((f) => f.value);
    assert.ok(genders.includes('Men') && genders.includes('Women'), genders.join(','));
    const total = values('masterCategory').reduce((sum, f) => sum + f.count, 0);
    assert.equal(total, fixture.ids.size);
    for (const { column, values: counted } of facets.facets) {
      const counts = counted.map((f) => f.count);
      assert.deepEqual(
        counts,
        [...counts].sort((a, b) => b - a),
        `${column}: most frequent first`,
      );
      assert.ok(
        counted.every((f) => f.value.trim() !== '' && f.count > 0),
        `${column}: no empty values`,
      );
    }
    // A count is how many products a filter on that value keeps (identical photos are one result).
    const tshirts = values('articleType').find((f) => f.value === 'Tshirts');
    assert.ok(tshirts && tshirts.count <= 50);
    const filtered = await json<ApiResults>(
      await fetch(`${base}/api/products/11165/similar?k=50&articleType=tshirts`),
    );
    const listed = new Set(filtered.results.flatMap((r) => [r.id, ...r.alsoListedAs]));
    assert.equal(listed.size, tshirts.count);
  });
});

describe('OpenAPI document', { timeout: 120_000 }, () => {
  test('describes every route, with the multipart upload and the error schema', async () => {
    const response = await fetch(`${base}/api/openapi.json`);
    assert.equal(response.status, 200);
    const doc = (await response.json()) as {
      openapi: string;
      paths: Record<string, Record<string, { requestBody?: { content: Record<string, unknown> } }>>;
      components: { schemas: Record<string, unknown> };
    };
    assert.match(doc.openapi, /^3\./);
    for (const path of [
      '/api/recommend',
      '/api/queries/{queryId}',
      '/api/garments',
      '/api/products/{id}',
      '/api/products/{id}/similar',
      '/api/health',
      '/api/facets',
      '/images/{id}',
    ]) {
      assert.ok(doc.paths[path], `${path} is documented`);
    }
    assert.ok(doc.paths['/api/recommend']?.post?.requestBody?.content['multipart/form-data']);
    assert.deepEqual(Object.keys(doc.components.schemas).sort(), [
      'Error',
      'Facets',
      'Garment',
      'Garments',
      'Health',
      'IndexingProgress',
      'Product',
      'Recommendation',
      'Results',
    ]);
    const schemas = doc.components.schemas as Record<
      string,
      { properties: Record<string, { type?: string; additionalProperties?: unknown }>; required?: string[] }
    >;
    // A product: its id, title, every metadata column by name, photo and other listings.
    const product = schemas.Product;
    assert.deepEqual(Object.keys(product?.properties ?? {}), [
      'id',
      'name',
      'metadata',
      'imageUrl',
      'alsoListedAs',
    ]);
    assert.deepEqual(product?.required?.sort(), ['alsoListedAs', 'id', 'imageUrl', 'metadata']);
    assert.deepEqual(product?.properties.metadata?.additionalProperties, { type: 'string' });
    assert.deepEqual(Object.keys(schemas.Recommendation?.properties ?? {}), [
      'id',
      'name',
      'metadata',
      'imageUrl',
      'alsoListedAs',
      'score',
      'reasons',
      'match',
    ]);
    assert.deepEqual(Object.keys(schemas.Facets?.properties ?? {}), [
      'facets',
      'title',
      'kind',
      'colour',
      'groupedBy',
    ]);
    // The filters documented are the schema's facets.
    const similar = doc.paths['/api/products/{id}/similar']?.get as unknown as {
      parameters: { in: string; name: string }[];
    };
    assert.deepEqual(
      similar.parameters.filter((p) => p.in === 'query').map((p) => p.name),
      ['k', 'offset', ...FASHION_FACETS],
    );
    const ui = await fetch(`${base}/api/docs`);
    assert.equal(ui.status, 200);
    assert.match(await ui.text(), /swagger/i);
  });
});

describe('GET /images/:id', { timeout: 120_000 }, () => {
  test('an indexed product: its photo, with caching headers and a 304 on revalidation', async () => {
    const response = await fetch(`${base}/images/10000`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'image/jpeg');
    assert.match(response.headers.get('cache-control') ?? '', /max-age=\d+/);
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
    const etag = response.headers.get('etag');
    assert.ok(etag);
    assert.deepEqual(Buffer.from(await response.arrayBuffer()), await readFile(catalogueImage('10000')));
    const again = await fetch(`${base}/images/10000`, { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
  });

  test('unknown ids and path tricks are 404, never a file outside the index', async () => {
    await assertError(await fetch(`${base}/images/99999999`), 404, 'unknown-product');
    await assertError(await fetch(`${base}/images/..%2F..%2F..%2Fetc%2Fpasswd`), 404, 'unknown-product');
    await assertError(await fetch(`${base}/images/%2Fetc%2Fpasswd`), 404, 'unknown-product');
    // A catalogue photo that is not in this index.
    assert.equal(fixture.ids.has('10001'), false);
    await assertError(await fetch(`${base}/images/10001`), 404, 'unknown-product');
    // The raw path, as a client that does not normalise it would send it.
    const raw = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      httpRequest(`${base}/images/../../etc/passwd`, { path: '/images/../../etc/passwd' }, (res) => {
        let body = '';
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
        .on('error', reject)
        .end();
    });
    assert.equal(raw.status, 404);
    assert.doesNotMatch(raw.body, /root:/);
  });

  test('unknown API routes are a JSON 404', async () => {
    await assertError(await fetch(`${base}/api/nothing-here`), 404, 'not-found');
  });
});

/** A request sent as given (no normalising of the path), and its whole answer. */
function rawRequest(
  path: string,
  {
    method = 'GET',
    headers = {},
    body,
  }: { method?: string; headers?: Record<string, string>; body?: Buffer } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}/`, { path, method, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        text += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function rawError(
  answer: { status: number; headers: Record<string, unknown>; body: string },
  status: number,
  code: string,
) {
  assert.match(String(answer.headers['content-type']), /^application\/json/);
  const body = JSON.parse(answer.body) as ApiErrorBody;
  assert.equal(answer.status, status, answer.body);
  assert.deepEqual(Object.keys(body), ['error']);
  assert.equal(body.error.code, code, body.error.message);
  return body.error.message;
}

describe('requests at the edges: refused in JSON, with the reason', { timeout: 120_000 }, () => {
  test('k is decimal digits from 1 to 50, in the query string and in the form alike', {
    timeout: 60_000,
  }, async () => {
    for (const bad of ['0x10', '1e1', '+5', ' 5', '5.0', '-1', '0', '51', '', 'five', '1_0']) {
      const query = await fetch(`${base}/api/products/11165/similar?k=${encodeURIComponent(bad)}`);
      assert.match(await assertError(query, 400, 'bad-request'), /k must be an integer from 1 to 50/, bad);
    }
    await assertError(await fetch(`${base}/api/products/11165/similar?k=5&k=6`), 400, 'bad-request');
    assertSortedResults(await json<ApiResults>(await fetch(`${base}/api/products/11165/similar?k=010`)), 10);
    for (const bad of ['0x10', '1e1', ' 5']) {
      const form = await upload({ photo: QUERY_PHOTO, fields: [['k', bad]] });
      assert.match(await assertError(form, 400, 'bad-field'), /k must be an integer from 1 to 50/, bad);
    }
    assertSortedResults(
      await json<ApiResults>(await upload({ photo: QUERY_PHOTO, fields: [['k', '7']] })),
      7,
    );
  });

  test('a NUL character in a filter value or a product id is 400, not a server error', {
    timeout: 60_000,
  }, async () => {
    const message = await assertError(
      await fetch(`${base}/api/products/11165/similar?gender=Men%00`),
      400,
      'bad-request',
    );
    assert.match(message, /NUL/);
    await assertError(await upload({ photo: QUERY_PHOTO, fields: [['gender', 'Men\0']] }), 400, 'bad-field');
    await assertError(await upload({ photo: QUERY_PHOTO, query: '?gender=%00' }), 400, 'bad-request');
    await assertError(await fetch(`${base}/api/products/11165%00`), 400, 'bad-request');
    await assertError(await fetch(`${base}/images/11165%00`), 400, 'bad-request');
  });

  test('product ids of up to 1000 characters reach the routes; longer ones are refused', {
    timeout: 60_000,
  }, async () => {
    for (const length of [101, 200, 1000]) {
      const id = 'x'.repeat(length);
      for (const path of [`/api/products/${id}`, `/api/products/${id}/similar`, `/images/${id}`]) {
        const message = await assertError(await fetch(`${base}${path}`), 404, 'unknown-product');
        assert.ok(message.length < 120, `the id is quoted in part: ${message}`);
        assert.match(message, /x…"/);
      }
    }
    // Multi-byte characters count as characters, however long their escapes.
    await assertError(
      await fetch(`${base}/api/products/${encodeURIComponent('é'.repeat(1000))}`),
      404,
      'unknown-product',
    );
    assert.match(
      await assertError(await fetch(`${base}/api/products/${'x'.repeat(1001)}`), 400, 'bad-request'),
      /at most 1000 characters/,
    );
    await assertError(await fetch(`${base}/api/products/${'x'.repeat(5000)}`), 414, 'too-large');
  });

  test('what the client named is quoted in part: long names are cut short, long lists cut', {
    timeout: 60_000,
  }, async () => {
    const long = 'n'.repeat(5000);
    const one = await assertError(
      await fetch(`${base}/api/products/11165/similar?${long}=1`),
      400,
      'bad-request',
    );
    assert.ok(one.length < 300, one);
    assert.match(one, /"n{64}…"/);
    const names = Array.from({ length: 20 }, (_, i) => `unknown${i}=1`).join('&');
    const many = await assertError(
      await fetch(`${base}/api/products/11165/similar?${names}`),
      400,
      'bad-request',
    );
    assert.match(many, /"unknown4" and 15 more; expected k, offset or a filter/);
    const field = await assertError(
      await upload({ photo: QUERY_PHOTO, fields: [[long, 'x']] }),
      400,
      'bad-field',
    );
    assert.ok(field.length < 300, field);
    const notFound = await assertError(await fetch(`${base}/${'p'.repeat(5000)}`), 404, 'not-found');
    assert.ok(notFound.length < 300, notFound);
  });

  test('malformed requests: a bad URL, headers too large, multipart without a boundary or broken', {
    timeout: 60_000,
  }, async () => {
    rawError(await rawRequest('/%'), 400, 'bad-request');
    rawError(await rawRequest('/api/products/%E0%A4%A'), 400, 'bad-request');
    const tooLarge = await rawRequest('/api/health', { headers: { 'x-padding': 'p'.repeat(20_000) } });
    rawError(tooLarge, 431, 'too-large');
    assert.equal(tooLarge.headers['x-content-type-options'], 'nosniff');

    const photo = await readFile(QUERY_PHOTO);
    const multipart = (type: string, body: Buffer) =>
      rawRequest('/api/recommend', { method: 'POST', headers: { 'content-type': type }, body });
    assert.match(rawError(await multipart('multipart/form-data', photo), 400, 'bad-request'), /no boundary/);
    rawError(await multipart('multipart/form-data; boundary=', photo), 400, 'bad-request');
    rawError(await multipart(`multipart/form-data; boundary=${'b'.repeat(300)}`, photo), 400, 'bad-request');
    const broken = Buffer.concat([
      Buffer.from('--edge\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n\r\n'),
      photo.subarray(0, 100),
    ]);
    rawError(await multipart('multipart/form-data; boundary=edge', broken), 400, 'bad-request');
    // A declared length beyond any photo is refused before its body is read.
    const declared = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(`${base}/api/recommend`, {
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'multipart/form-data; boundary=edge', 'content-length': 50 * 1024 * 1024 },
      });
      req.on('response', (res) => {
        let text = '';
        res.on('data', (chunk) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      req.write('--edge\r\n');
    });
    assert.equal(declared.status, 413);
    assert.equal((JSON.parse(declared.body) as ApiErrorBody).error.code, 'too-large');
  });

  test('security headers: the page, the API, the photos and the docs', { timeout: 60_000 }, async () => {
    const common = (response: Response, what: string) => {
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff', what);
      assert.equal(response.headers.get('x-frame-options'), 'DENY', what);
      assert.equal(response.headers.get('referrer-policy'), 'no-referrer', what);
      assert.match(response.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/, what);
    };
    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200);
    common(page, 'page');
    const csp = page.headers.get('content-security-policy') ?? '';
    for (const directive of [
      "default-src 'self'",
      "script-src 'self'",
      "style-src 'self'",
      "img-src 'self' blob: data:",
    ]) {
      assert.ok(csp.includes(directive), `${directive} in ${csp}`);
    }
    assert.doesNotMatch(csp, /unsafe/);
    for (const path of ['/api/health', '/images/10000', '/api/nothing-here']) {
      const response = await fetch(`${base}${path}`);
      await response.arrayBuffer();
      common(response, path);
    }
    const docs = await fetch(`${base}/api/docs/`);
    assert.equal(docs.status, 200);
    await docs.arrayBuffer();
    const docsCsp = docs.headers.get('content-security-policy') ?? '';
    assert.match(docsCsp, /frame-ancestors 'none'/);
    assert.match(docsCsp, /script-src 'self';/);
    const bad = await rawRequest('/%');
    assert.equal(bad.headers['x-frame-options'], 'DENY');
  });
});

describe('a catalogue of another layout', { timeout: 180_000 }, () => {
  let other: ShopCatalogue & { index: string };
  let otherRecommender: Recommender;
  let otherApp: FastifyInstance;
  let otherBase: string;

  before(async () => {
    other = await shopIndex();
    otherRecommender = await Recommender.open(other.index, { eager: true });
    otherApp = await buildApp({ recommender: otherRecommender });
    await otherApp.listen({ host: '127.0.0.1', port: 0 });
    otherBase = `http://127.0.0.1:${(otherApp.server.address() as { port: number }).port}`;
  });

  after(async () => {
    await otherApp?.close();
    await otherRecommender?.close();
  });

  test('facets, products and filters follow its schema', async () => {
    const facets = await json<ApiFacets>(await fetch(`${otherBase}/api/facets`));
    assert.deepEqual(
      facets.facets.map((f) => f.column),
      ['brand', 'colour', 'category'],
    );
    assert.deepEqual([facets.title, facets.kind, facets.colour], ['title', 'category', 'colour']);
    assert.deepEqual(facets.facets.find((f) => f.column === 'category')?.values, [
      { value: 'Bag', count: 6 },
      { value: 'Shoe', count: 6 },
      { value: 'T-shirt', count: 6 },
    ]);

    const row = other.rows[0] as ShopRow;
    const product = await json<ApiProduct>(await fetch(`${otherBase}/api/products/${row.sku}`));
    assert.deepEqual(product, {
      id: row.sku,
      name: row.title,
      metadata: {
        title: row.title,
        brand: row.brand,
        colour: row.colour,
        category: row.category,
        price: row.price,
      },
      imageUrl: `/images/${row.sku}`,
      alsoListedAs: [],
    });

    const bags = await json<ApiResults>(
      await fetch(`${otherBase}/api/products/${row.sku}/similar?category=Bag&brand=Zenith&brand=acme`),
    );
    assert.ok(bags.results.length > 0);
    for (const r of bags.results) assert.equal(r.metadata.category, 'Bag');

    // Filters are its facets: the fashion ones are unknown here.
    const message = await assertError(
      await fetch(`${otherBase}/api/products/${row.sku}/similar?gender=Women`),
      400,
      'bad-request',
    );
    assert.match(message, /"gender"; expected k, offset or a filter: brand, colour, category$/);
    const form = await upload({ photo: QUERY_PHOTO, fields: [['articleType', 'Tshirts']] }, otherBase);
    assert.match(
      await assertError(form, 400, 'bad-field'),
      /expected image, k, offset or a filter: brand, colour, category/,
    );

    const acme = await json<ApiResults>(
      await upload({ photo: QUERY_PHOTO, fields: [['brand', 'Acme']], query: '?k=4' }, otherBase),
    );
    assertSortedResults(acme, 4);
    for (const r of acme.results) assert.equal(r.metadata.brand, 'Acme');
  });

  test('the OpenAPI document names its filters', async () => {
    const doc = (await (await fetch(`${otherBase}/api/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { parameters?: { in: string; name: string }[] }>>;
    };
    const query = (path: string, method: string) =>
      doc.paths[path]?.[method]?.parameters?.filter((p) => p.in === 'query').map((p) => p.name);
    assert.deepEqual(query('/api/products/{id}/similar', 'get'), [
      'k',
      'offset',
      'brand',
      'colour',
      'category',
    ]);
    assert.deepEqual(query('/api/recommend', 'post'), ['k', 'offset', 'brand', 'colour', 'category']);
  });
});

describe('upload limiter', { timeout: 120_000 }, () => {
  test('runs a few at once, queues some, refuses the rest with 503, and reports when idle', async () => {
    const limiter = new UploadLimiter({
      ...DEFAULT_UPLOAD_LIMITS,
      concurrency: 2,
      maxWaiting: 1,
      retryAfterSeconds: 3,
    });
    const first = await limiter.acquire();
    const second = await limiter.acquire();

    // A waiter that gives up leaves the queue.
    const gone = new AbortController();
    const leaving = limiter.acquire(gone.signal);
    assert.equal(limiter.waiting, 1);
    gone.abort(new Error('client went away'));
    await assert.rejects(leaving, /client went away/);
    assert.equal(limiter.waiting, 0);

    let thirdStarted = false;
    const third = limiter.acquire().then((release) => {
      thirdStarted = true;
      return release;
    });
    await assert.rejects(limiter.acquire(), (err: unknown) => {
      const e = err as { statusCode?: number; code?: string; headers?: Record<string, string> };
      return e.statusCode === 503 && e.code === 'busy' && e.headers?.['retry-after'] === '3';
    });
    assert.deepEqual([limiter.active, limiter.waiting, thirdStarted], [2, 1, false]);
    let idle = false;
    const settled = limiter.idle().then(() => {
      idle = true;
    });
    first();
    first(); // twice is harmless
    const releaseThird = await third;
    assert.deepEqual([limiter.active, limiter.waiting, thirdStarted], [2, 0, true]);
    second();
    releaseThird();
    await settled;
    assert.deepEqual([limiter.active, limiter.waiting, idle], [0, 0, true]);
  });
});

describe('upload admission', { timeout: 60_000 }, () => {
  test('bounds the bodies arriving at once and the bytes held, and counts them until released', async () => {
    const limiter = new UploadLimiter({
      ...DEFAULT_UPLOAD_LIMITS,
      maxReceiving: 2,
      maxBufferedBytes: 100,
      retryAfterSeconds: 4,
    });
    const busy = (err: unknown) => {
      const e = err as { statusCode?: number; code?: string; headers?: Record<string, string> };
      return e.statusCode === 503 && e.code === 'busy' && e.headers?.['retry-after'] === '4';
    };
    const a = limiter.admit(60);
    const b = limiter.admit();
    assert.throws(() => limiter.admit(), busy);
    a.hold(50);
    a.hold(50); // beyond what it can keep (60): not counted
    assert.equal(limiter.bufferedBytes, 60);
    assert.throws(() => b.hold(41), busy);
    b.hold(40);
    a.received();
    assert.equal(limiter.receiving, 1);
    const c = limiter.admit();
    let idle = false;
    const settled = limiter.idle().then(() => {
      idle = true;
    });
    a.release();
    b.release();
    b.release(); // twice is harmless
    assert.deepEqual([limiter.receiving, limiter.bufferedBytes, idle], [1, 0, false]);
    c.release();
    await settled;
    assert.deepEqual([limiter.receiving, limiter.bufferedBytes, idle], [0, 0, true]);
  });
});

describe('lookalike serve', { timeout: 180_000 }, () => {
  test('prints the URL, serves, and stops cleanly on SIGTERM', async () => {
    const child = spawnCli(['serve', '--index', fixture.dir, '--port', '0']);
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Until it prints its URL (or exits).
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk) => {
        stdout += chunk;
        if (/open http:\/\/\S+\/ /.test(stdout)) resolve();
      });
      exited.then(() => resolve());
    });
    const url = stdout.match(/open (http:\/\/\S+\/) /)?.[1];
    assert.ok(url, `a URL on stdout; stdout: ${stdout}; stderr: ${stderr}`);
    const health = await json<ApiHealth>(await fetch(`${url}api/health`));
    assert.equal(health.index.count, fixture.ids.size);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /SIGTERM: finishing requests in progress/);
    assert.match(stderr, /"msg":"stopped"/);
  });

  test('closing waits for the uploads being processed, whose clients went away, before releasing the model', {
    timeout: 120_000,
  }, async (t) => {
    // Two at a time (whatever the default), so that two uploads wait.
    const server = await startServer({
      indexDir: fixture.dir,
      host: '127.0.0.1',
      port: 0,
      uploadLimits: { concurrency: 2 },
    });
    const limiter = server.app.uploadLimiter;
    // The server's own recommender, instrumented: what it is asked to do, and when, goes in `log`;
    // uploads wait at a gate before the model until the server has closed its connections.
    const model = server.recommender;
    const log: string[] = [];
    const changes = new EventEmitter();
    let openGate = () => {};
    const gate = new Promise<void>((resolve) => {
      openGate = resolve;
    });
    // Whatever happens, nothing is left running.
    t.after(async () => {
      openGate();
      if (server.app.server.listening) await server.close(0);
    });
    const recommend = model.recommend.bind(model);
    model.recommend = async (image, options) => {
      log.push('started');
      changes.emit('change');
      await gate;
      try {
        return await recommend(image, options);
      } finally {
        log.push('finished');
      }
    };
    const release = model.close.bind(model);
    model.close = async () => {
      log.push('model released');
      await release();
    };
    const until = (ready: () => boolean) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (ready()) resolve();
        };
        changes.on('change', check);
        limiter.on('change', check);
        check();
      });

    const photo = new Uint8Array(await readFile(QUERY_PHOTO));
    const aborts = Array.from({ length: 4 }, () => new AbortController());
    const requests = aborts.map((controller, i) => {
      const form = new FormData();
      form.append('image', new Blob([photo]), `gone-${i}.jpg`);
      return fetch(`${server.url}api/recommend`, {
        method: 'POST',
        body: form,
        signal: controller.signal,
      }).catch(() => undefined);
    });
    // Two uploads have the model's two turns, two wait for one; then every client hangs up.
    await until(() => log.length === 2 && limiter.waiting === 2);
    for (const controller of aborts) controller.abort();
    await Promise.all(requests);
    // The two waiting give their places up at once; the two being processed go on.
    await until(() => limiter.waiting === 0);
    assert.equal(limiter.active, 2);
    server.app.server.once('close', openGate);
    await server.close();
    assert.equal(server.app.server.listening, false);
    assert.deepEqual(log, ['started', 'started', 'finished', 'finished', 'model released']);
  });
});
