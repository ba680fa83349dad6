/**
 * The admin API (issue 13) against the real server: keys made and revoked with the CLI, auth
 * failures and rate limiting, --private, the audit trail and `lookalike history`; then changes
 * through the store's editor (create, replace, patch, delete, batch) seen by searches, surviving
 * kill -9, and, on a PostgreSQL store, seen by a second server.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { AUDIT_FILE, type AuditEntry } from '../src/access/audit.js';
import { KEYS_FILE } from '../src/access/key-store.js';
import { hashKey } from '../src/access/keys.js';
import { type Access, openAccess } from '../src/access/open.js';
import type { ApiErrorBody, ApiProduct, ApiResults } from '../src/interfaces/http/api/contract.js';
import { buildApp } from '../src/interfaces/http/app.js';
import { type RunningServer, startServer } from '../src/interfaces/http/server.js';
import type { ChangeResult } from '../src/manage/editor.js';
import { Recommender } from '../src/recommend/recommender.js';
import { buildIndex } from './support/build-index.js';
import { catalogueImage, queryImage, stylesCsv } from './support/datasets.js';
import { type FixtureIndex, fixtureIndex, subsetIds } from './support/fixture-index.js';
import { listen, spawnCli } from './support/serve.js';
import { watchChild } from './support/wait.js';

const KEY = /^lk_[0-9a-f]{10}_[A-Za-z0-9_-]{43}$/;

interface CliRun {
  code: number | string;
  stdout: string;
  stderr: string;
}

async function cli(args: string[]): Promise<CliRun> {
  const child = spawnCli(args);
  child.stdin.end();
  const watched = watchChild(child);
  const code = await watched.exited;
  return { code, stdout: watched.stdout(), stderr: watched.stderr() };
}

async function createKey(index: string, label = 'test'): Promise<string> {
  const run = await cli(['keys', 'create', '--index', index, '--label', label]);
  assert.equal(run.code, 0, run.stderr);
  const key = run.stdout.trim();
  assert.match(key, KEY);
  return key;
}

const keyIdOf = (key: string) => key.slice(3, 13);

async function assertError(response: Response, status: number, code: string): Promise<string> {
  const body = (await response.json()) as ApiErrorBody;
  assert.equal(response.status, status, JSON.stringify(body));
  assert.equal(body.error.code, code, body.error.message);
  return body.error.message;
}

const auth = (key: string) => ({ authorization: `Bearer ${key}` });

/** A writable copy of the small fixture index. */
async function indexCopy(fixture: FixtureIndex): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lookalike-admin-'));
  await cp(fixture.dir, join(dir, 'index'), { recursive: true });
  return join(dir, 'index');
}

function putForm(photo?: Buffer, metadata?: Record<string, string>): FormData {
  const form = new FormData();
  if (metadata) form.append('metadata', JSON.stringify(metadata));
  if (photo) form.append('image', new Blob([new Uint8Array(photo)], { type: 'image/jpeg' }), 'photo.jpg');
  return form;
}

let fixture: FixtureIndex;

before(async () => {
  fixture = await fixtureIndex();
});

describe('admin API: keys, auth, rate limits, --private', { timeout: 300_000 }, () => {
  let index: string;
  let recommender: Recommender;
  let access: Access;
  const apps: FastifyInstance[] = [];

  before(async () => {
    index = await indexCopy(fixture);
    recommender = await Recommender.open(index);
    access = openAccess(index);
  });

  after(async () => {
    for (const app of apps) await app.close();
    await access?.close();
    await recommender?.close();
    if (index) await rm(join(index, '..'), { recursive: true, force: true });
  });

  /** The app with keys and audit but no editor: auth answers come before anything else. */
  async function server(options: Partial<Parameters<typeof buildApp>[0]> = {}): Promise<string> {
    const app = await buildApp({ recommender, access, ...options });
    apps.push(app);
    return listen(app);
  }

  test('without any key the admin routes answer 404, as if absent; reads stay open', async () => {
    const base = await server();
    const id = [...fixture.ids][0] as string;
    await assertError(
      await fetch(`${base}/api/admin/products/${id}`, {
        method: 'PUT',
        body: putForm(undefined, { a: 'b' }),
      }),
      404,
      'not-found',
    );
    await assertError(
      await fetch(`${base}/api/admin/products/${id}`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json', authorization: 'Bearer lk_0000000000_x' },
        body: JSON.stringify({ metadata: { a: 'b' } }),
      }),
      404,
      'not-found',
    );
    await assertError(
      await fetch(`${base}/api/admin/products/${id}`, { method: 'DELETE' }),
      404,
      'not-found',
    );
    await assertError(
      await fetch(`${base}/api/admin/products:batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ changes: [{ action: 'delete', id }] }),
      }),
      404,
      'not-found',
    );
    assert.equal((await fetch(`${base}/api/products/${id}`)).status, 200);
  });

  test('keys create prints a key once and stores only its hash; list shows it; missing and bad keys get 401', async () => {
    const base = await server();
    const key = await createKey(index, 'shop sync');
    const stored = await readFile(join(index, KEYS_FILE), 'utf8');
    assert.ok(!stored.includes(key), 'the key itself is not stored');
    assert.ok(!stored.includes(key.slice(14)), 'nor its secret');
    assert.ok(stored.includes(hashKey(key)), 'its SHA-256 is');

    const list = await cli(['keys', 'list', '--index', index]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`${keyIdOf(key)}\\s+shop sync\\s+\\S+\\s+active`));
    const listed = (await cli(['keys', 'list', '--index', index, '--json'])).stdout;
    assert.deepEqual(
      listed
        .trim()
        .split('\n')
        .map((l) => Object.keys(JSON.parse(l) as object).sort()),
      [['createdAt', 'id', 'label']],
    );

    const url = `${base}/api/admin/products/x1`;
    const missing = await fetch(url, { method: 'DELETE' });
    assert.equal(missing.headers.get('www-authenticate'), 'Bearer realm="lookalike"');
    await assertError(missing, 401, 'unauthorized');
    // The key with its last character changed (a base64url key's last character is often 'A').
    const wrong = `${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`;
    const bad = await fetch(url, { method: 'DELETE', headers: auth(wrong) });
    // (The status and body first: should this fail, they say why.)
    await assertError(bad, 401, 'unauthorized');
    assert.match(bad.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    await assertError(
      await fetch(url, { method: 'DELETE', headers: auth('not a key') }),
      401,
      'unauthorized',
    );
    await assertError(
      await fetch(url, { method: 'DELETE', headers: { authorization: `Basic ${key}` } }),
      401,
      'unauthorized',
    );
    // A good key passes; this app has no editor.
    await assertError(await fetch(url, { method: 'DELETE', headers: auth(key) }), 503, 'busy');
  });

  test('a revoked key stops working at once', async () => {
    const base = await server();
    const key = await createKey(index, 'to revoke');
    const url = `${base}/api/admin/products/x1`;
    await assertError(await fetch(url, { method: 'DELETE', headers: auth(key) }), 503, 'busy');
    const revoke = await cli(['keys', 'revoke', keyIdOf(key), '--index', index]);
    assert.equal(revoke.code, 0, revoke.stderr);
    assert.match(revoke.stdout, new RegExp(`Revoked key ${keyIdOf(key)}`));
    await assertError(await fetch(url, { method: 'DELETE', headers: auth(key) }), 401, 'unauthorized');
    assert.match((await cli(['keys', 'list', '--index', index])).stdout, /to revoke\s+\S+\s+revoked/);
    const unknown = await cli(['keys', 'revoke', '0123456789', '--index', index]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no key 0123456789/);
  });

  test('bad keys are rate-limited per client: 429 with Retry-After, even for a good key then', async () => {
    const key = await createKey(index, 'rate');
    const base = await server({ authLimits: { maxFailures: 3, windowMs: 30_000 } });
    const url = `${base}/api/admin/products/x1`;
    for (let i = 0; i < 3; i++) {
      await assertError(
        await fetch(url, { method: 'DELETE', headers: auth(`lk_0123456789_${'a'.repeat(43)}`) }),
        401,
        'unauthorized',
      );
    }
    const limited = await fetch(url, { method: 'DELETE', headers: auth(key) });
    const retry = Number(limited.headers.get('retry-after'));
    assert.ok(retry >= 1 && retry <= 30, `Retry-After ${retry}`);
    await assertError(limited, 429, 'rate-limited');
  });

  test('--private: every route but the health check needs a key', async () => {
    const key = await createKey(index, 'private');
    const base = await server({ private: true });
    const id = [...fixture.ids][0] as string;
    for (const path of [
      '/api/facets',
      `/api/products/${id}`,
      `/api/products/${id}/similar`,
      '/',
      '/api/openapi.json',
    ]) {
      const refused = await fetch(`${base}${path}`);
      assert.equal(refused.headers.get('www-authenticate'), 'Bearer realm="lookalike"', path);
      await assertError(refused, 401, 'unauthorized');
    }
    assert.equal((await fetch(`${base}/api/facets`, { headers: auth(key) })).status, 200);
    const product = (await (
      await fetch(`${base}/api/products/${id}`, { headers: auth(key) })
    ).json()) as ApiProduct;
    assert.equal(product.id, id);
    assert.equal((await fetch(`${base}/api/health`)).status, 200);
  });

  test('the OpenAPI document describes the admin routes and their key', async () => {
    const base = await server();
    const doc = (await (await fetch(`${base}/api/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { security?: unknown; tags?: string[] }>>;
      components: { securitySchemes?: Record<string, unknown> };
    };
    assert.deepEqual(Object.keys(doc.paths['/api/admin/products/{id}'] ?? {}).sort(), [
      'delete',
      'patch',
      'put',
    ]);
    assert.ok(doc.paths['/api/admin/products:batch']?.post, JSON.stringify(Object.keys(doc.paths)));
    assert.deepEqual(doc.paths['/api/admin/products/{id}']?.put?.security, [{ apiKey: [] }]);
    assert.deepEqual(doc.components.securitySchemes?.apiKey, { type: 'http', scheme: 'bearer' });
  });
});

/** Waits until `check` passes, up to `ms`; returns the time it took. */
async function within(ms: number, check: () => Promise<boolean>): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < ms) {
    if (await check()) return performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`not within ${ms} ms`);
}

describe('admin API: changes through the store (index folder)', { timeout: 600_000 }, () => {
  let index: string;
  let server: RunningServer;
  let base: string;
  let key: string;
  const existing = () => [...fixture.ids].sort()[5] as string;
  const photoA = () => readFile(queryImage(10410));
  const photoB = () => readFile(queryImage(15970));

  before(async () => {
    index = await indexCopy(fixture);
    key = await createKey(index, 'changes');
    server = await startServer({ indexDir: index, host: '127.0.0.1', port: 0 });
    base = server.url.replace(/\/$/, '');
  });

  after(async () => {
    await server?.close();
    if (index) await rm(join(index, '..'), { recursive: true, force: true });
  });

  const product = async (id: string) => fetch(`${base}/api/products/${encodeURIComponent(id)}`);

  test('create, replace, patch and delete a product; searches see each change', async () => {
    const id = 'admin-new-1';
    const metadata = {
      productDisplayName: 'Admin Test Navy Shirt',
      articleType: 'Shirts',
      baseColour: 'Navy Blue',
    };
    const created = await fetch(`${base}/api/admin/products/${id}`, {
      method: 'PUT',
      headers: auth(key),
      body: putForm(await photoA(), metadata),
    });
    const c = (await created.json()) as ChangeResult;
    assert.equal(created.status, 201, JSON.stringify(c));
    assert.deepEqual([c.id, c.action, c.outcome], [id, 'put', 'created']);
    assert.match(c.hash ?? '', /^[0-9a-f]{64}$/);
    // Searches see it within a second: the product, and the identical photo recognised as it.
    await within(1000, async () => (await product(id)).status === 200);
    const got = (await (await product(id)).json()) as ApiProduct;
    assert.equal(got.metadata.productDisplayName, metadata.productDisplayName);
    const search = new FormData();
    search.append('image', new Blob([new Uint8Array(await photoA())], { type: 'image/jpeg' }), 'q.jpg');
    const results = (await (
      await fetch(`${base}/api/recommend`, { method: 'POST', body: search })
    ).json()) as ApiResults;
    assert.equal(results.query.recognisedAs, id);

    // Replace the photo.
    const replaced = await fetch(`${base}/api/admin/products/${id}`, {
      method: 'PUT',
      headers: auth(key),
      body: putForm(await photoB()),
    });
    const r = (await replaced.json()) as ChangeResult;
    assert.equal(replaced.status, 200, JSON.stringify(r));
    assert.equal(r.outcome, 'replaced');
    assert.notEqual(r.hash, c.hash);
    assert.ok(r.sequence > c.sequence);

    // Patch metadata: merged, photo kept.
    const patched = await fetch(`${base}/api/admin/products/${id}`, {
      method: 'PATCH',
      headers: { ...auth(key), 'content-type': 'application/json' },
      body: JSON.stringify({ metadata: { baseColour: 'Red' } }),
    });
    const p = (await patched.json()) as ChangeResult;
    assert.equal(patched.status, 200, JSON.stringify(p));
    assert.deepEqual([p.outcome, p.hash], ['updated', r.hash]);
    const after = (await (await product(id)).json()) as ApiProduct;
    assert.equal(after.metadata.baseColour, 'Red');
    assert.equal(after.metadata.productDisplayName, metadata.productDisplayName);

    // Delete.
    const deleted = await fetch(`${base}/api/admin/products/${id}`, { method: 'DELETE', headers: auth(key) });
    assert.equal(deleted.status, 200);
    assert.equal(((await deleted.json()) as ChangeResult).outcome, 'deleted');
    await assertError(await product(id), 404, 'unknown-product');
    const again = await fetch(`${base}/api/admin/products/${id}`, { method: 'DELETE', headers: auth(key) });
    await assertError(again, 404, 'unknown-product');
  });

  test('errors are those of uploads: 415 not an image, 400 a new product without a photo, 404, bad bodies', async () => {
    const notImage = await fetch(`${base}/api/admin/products/admin-bad`, {
      method: 'PUT',
      headers: auth(key),
      body: putForm(Buffer.from('this is not a photo, only words in a file'), { a: 'b' }),
    });
    await assertError(notImage, 415, 'not-an-image');
    await assertError(
      await fetch(`${base}/api/admin/products/admin-bad`, {
        method: 'PUT',
        headers: auth(key),
        body: putForm(undefined, { productDisplayName: 'no photo' }),
      }),
      400,
      'invalid-change',
    );
    await assertError(
      await fetch(`${base}/api/admin/products/admin-bad`, {
        method: 'PUT',
        headers: { ...auth(key), 'content-type': 'application/json' },
        body: '{}',
      }),
      415,
      'not-multipart',
    );
    // Over the photo limit: refused from its declared length, before the body is read.
    const huge = await fetch(`${base}/api/admin/products/admin-bad`, {
      method: 'PUT',
      headers: auth(key),
      body: putForm(Buffer.alloc(21 * 1024 * 1024, 1)),
    });
    await assertError(huge, 413, 'too-large');
    const form = new FormData();
    form.append('metadata', '{not json');
    await assertError(
      await fetch(`${base}/api/admin/products/admin-bad`, { method: 'PUT', headers: auth(key), body: form }),
      400,
      'bad-field',
    );
    await assertError(
      await fetch(`${base}/api/admin/products/no-such-product`, {
        method: 'PATCH',
        headers: { ...auth(key), 'content-type': 'application/json' },
        body: JSON.stringify({ metadata: { a: 'b' } }),
      }),
      404,
      'unknown-product',
    );
    await assertError(
      await fetch(`${base}/api/admin/products/${existing()}`, {
        method: 'PATCH',
        headers: { ...auth(key), 'content-type': 'text/plain' },
        body: 'baseColour=Red',
      }),
      415,
      'not-json',
    );
    await assertError(
      await fetch(`${base}/api/admin/products/${existing()}`, {
        method: 'PATCH',
        headers: { ...auth(key), 'content-type': 'application/json' },
        body: JSON.stringify({ metadata: { baseColour: 7 } }),
      }),
      400,
      'bad-request',
    );
  });

  test('a batch: JSON and multipart with photos, each change with its own result', async () => {
    const id = existing();
    const json = await fetch(`${base}/api/admin/products:batch`, {
      method: 'POST',
      headers: { ...auth(key), 'content-type': 'application/json' },
      body: JSON.stringify({
        changes: [
          { action: 'patch', id, metadata: { season: 'Winter' } },
          { action: 'delete', id: 'no-such-product' },
          { action: 'put', id: 'admin-batch-nophoto', metadata: { a: 'b' } },
        ],
      }),
    });
    const body = (await json.json()) as {
      results: {
        index: number;
        id: string;
        status: number;
        result?: ChangeResult;
        error?: { code: string };
      }[];
    };
    assert.equal(json.status, 200, JSON.stringify(body));
    assert.deepEqual(
      body.results.map((r) => [r.index, r.id, r.status, r.result?.outcome ?? r.error?.code]),
      [
        [0, id, 200, 'updated'],
        [1, 'no-such-product', 404, 'unknown-product'],
        [2, 'admin-batch-nophoto', 400, 'invalid-change'],
      ],
    );
    assert.equal(((await (await product(id)).json()) as ApiProduct).metadata.season, 'Winter');

    const form = new FormData();
    form.append(
      'changes',
      JSON.stringify({
        changes: [
          { action: 'put', id: 'admin-batch-1', photo: 'p1', metadata: { productDisplayName: 'Batch one' } },
          { action: 'put', id: 'admin-batch-2', photo: 'p2' },
          { action: 'delete', id: 'admin-batch-2' },
        ],
      }),
    );
    form.append('p1', new Blob([new Uint8Array(await photoA())], { type: 'image/jpeg' }), 'a.jpg');
    form.append('p2', new Blob([new Uint8Array(await photoB())], { type: 'image/jpeg' }), 'b.jpg');
    const multi = await fetch(`${base}/api/admin/products:batch`, {
      method: 'POST',
      headers: auth(key),
      body: form,
    });
    const mbody = (await multi.json()) as typeof body;
    assert.equal(multi.status, 200, JSON.stringify(mbody));
    assert.deepEqual(
      mbody.results.map((r) => [r.id, r.status, r.result?.outcome]),
      [
        ['admin-batch-1', 201, 'created'],
        ['admin-batch-2', 201, 'created'],
        ['admin-batch-2', 200, 'deleted'],
      ],
    );
    assert.equal((await product('admin-batch-1')).status, 200);
    assert.equal((await product('admin-batch-2')).status, 404);

    // The whole batch is refused when it is not well-formed.
    const tooMany = Array.from({ length: 101 }, (_, i) => ({ action: 'delete', id: `x${i}` }));
    await assertError(
      await fetch(`${base}/api/admin/products:batch`, {
        method: 'POST',
        headers: { ...auth(key), 'content-type': 'application/json' },
        body: JSON.stringify({ changes: tooMany }),
      }),
      400,
      'bad-request',
    );
    const unnamed = new FormData();
    unnamed.append(
      'changes',
      JSON.stringify({ changes: [{ action: 'put', id: 'admin-batch-3', photo: 'missing' }] }),
    );
    await assertError(
      await fetch(`${base}/api/admin/products:batch`, { method: 'POST', headers: auth(key), body: unnamed }),
      400,
      'bad-field',
    );
  });

  test('every write is an audit line (key id, never the key); lookalike history shows them', async () => {
    const text = await readFile(join(index, AUDIT_FILE), 'utf8');
    assert.ok(!text.includes(key), 'never the key');
    const lines = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditEntry);
    const mine = lines.filter((l) => l.productId === 'admin-new-1');
    assert.deepEqual(
      mine.map((l) => [l.action, l.result, l.keyId]),
      [
        ['put', 'created', keyIdOf(key)],
        ['put', 'replaced', keyIdOf(key)],
        ['patch', 'updated', keyIdOf(key)],
        ['delete', 'deleted', keyIdOf(key)],
        ['delete', 'unknown-product', keyIdOf(key)],
      ],
    );
    for (const l of lines) assert.ok(!Number.isNaN(Date.parse(l.time)));

    const table = await cli(['history', 'admin-new-1', '--index', index]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /time\s+key\s+action\s+result/);
    assert.equal(table.stdout.trim().split('\n').length, 6);
    assert.match(table.stdout, /put\s+created\s+201/);
    const json = await cli(['history', 'admin-new-1', '--index', index, '--json']);
    assert.deepEqual(
      json.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as AuditEntry).result),
      ['created', 'replaced', 'updated', 'deleted', 'unknown-product'],
    );
    const none = await cli(['history', 'never-changed', '--index', index]);
    assert.match(none.stdout, /No changes/);
  });
});

describe('admin API: kill -9 right after a 2xx', { timeout: 600_000 }, () => {
  let index: string;
  before(async () => {
    index = await indexCopy(fixture);
  });
  after(async () => {
    if (index) await rm(join(index, '..'), { recursive: true, force: true });
  });

  async function serve(): Promise<{ url: string; kill: () => Promise<void> }> {
    const child = spawnCli(['serve', '--index', index, '--port', '0']);
    const watched = watchChild(child);
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', () => {
        if (/open http:\/\/\S+\/ /.test(watched.stdout())) resolve();
      });
      watched.exited.then((code) => reject(new Error(`serve exited (${code}): ${watched.stderr()}`)));
    });
    const url = /open (http:\/\/\S+)\/ /.exec(watched.stdout())?.[1] as string;
    return {
      url,
      kill: async () => {
        child.kill('SIGKILL');
        await watched.exited;
      },
    };
  }

  test('the change is there after a restart', async () => {
    const key = await createKey(index, 'kill');
    const first = await serve();
    const response = await fetch(`${first.url}/api/admin/products/admin-kill-1`, {
      method: 'PUT',
      headers: auth(key),
      body: putForm(await readFile(catalogueImage(15970)), { productDisplayName: 'Survives kill -9' }),
    });
    assert.equal(response.status, 201, await response.clone().text());
    await first.kill();
    const second = await serve();
    try {
      const got = await fetch(`${second.url}/api/products/admin-kill-1`);
      assert.equal(got.status, 200);
      assert.equal(((await got.json()) as ApiProduct).metadata.productDisplayName, 'Survives kill -9');
      const history = await cli(['history', 'admin-kill-1', '--index', index, '--json']);
      assert.equal((JSON.parse(history.stdout.trim()) as AuditEntry).result, 'created');
    } finally {
      await second.kill();
    }
  });
});

const pgBase = process.env.LOOKALIKE_TEST_POSTGRES;

describe('admin API: two servers on one PostgreSQL store', {
  skip: pgBase ? false : 'LOOKALIKE_TEST_POSTGRES is not set (scripts/start-postgres.sh prints a URL)',
  timeout: 600_000,
}, () => {
  const dbName = `lookalike_admin_${process.pid}`;
  let url: string;
  let admin: pg.Client;
  const servers: RunningServer[] = [];

  before(async () => {
    admin = new pg.Client({ connectionString: pgBase });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName}`);
    await admin.query(`CREATE DATABASE ${dbName}`);
    const u = new URL(pgBase as string);
    u.pathname = `/${dbName}`;
    url = u.toString();
    await buildIndex({
      imagesDir: fixture.imagesDir,
      outDir: url,
      metadataPath: stylesCsv,
      ids: subsetIds(24),
    });
  });

  after(async () => {
    for (const s of servers) await s.close();
    await admin?.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
    await admin?.end();
  });

  test('a change on one server is seen by the other within 5 s; keys and audit live in the database', async () => {
    const key = await createKey(url, 'pg');
    for (let i = 0; i < 2; i++)
      servers.push(await startServer({ indexDir: url, host: '127.0.0.1', port: 0 }));
    const [a, b] = servers.map((s) => s.url.replace(/\/$/, '')) as [string, string];
    const put = await fetch(`${a}/api/admin/products/admin-pg-1`, {
      method: 'PUT',
      headers: auth(key),
      body: putForm(await readFile(queryImage(10410)), { productDisplayName: 'Seen by both' }),
    });
    assert.equal(put.status, 201, await put.clone().text());
    const seen = await within(5000, async () => (await fetch(`${b}/api/products/admin-pg-1`)).status === 200);
    assert.ok(seen < 5000);
    const del = await fetch(`${a}/api/admin/products/admin-pg-1`, { method: 'DELETE', headers: auth(key) });
    assert.equal(del.status, 200);
    await within(5000, async () => (await fetch(`${b}/api/products/admin-pg-1`)).status === 404);

    // A key revoked on the command line stops working on both servers at once (another key keeps
    // the routes on: without any, they would answer 404).
    await createKey(url, 'other');
    assert.equal((await cli(['keys', 'revoke', keyIdOf(key), '--index', url])).code, 0);
    await within(1000, async () => {
      const both = await Promise.all(
        [a, b].map((s) =>
          fetch(`${s}/api/admin/products/admin-pg-1`, { method: 'DELETE', headers: auth(key) }),
        ),
      );
      return both.every((r) => r.status === 401);
    });
    const history = await cli(['history', 'admin-pg-1', '--index', url, '--json']);
    assert.deepEqual(
      history.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as AuditEntry).result),
      ['created', 'deleted'],
    );
    assert.ok(!existsSync(join(process.cwd(), KEYS_FILE)));
  });
});
