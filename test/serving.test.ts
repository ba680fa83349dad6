/**
 * The server against hostile clients and a changing catalogue, for real: a real server on real
 * sockets, the real model and real photos. Uploads that trickle, stall, hang up or come in
 * numbers; catalogue photos re-pointed, changed or replaced after indexing; SIGTERM with an upload
 * in flight. Tests wait on events (the server's upload limiter reports each change), never on
 * fixed sleeps.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, type TestContext, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import type { ApiErrorBody, ApiHealth, ApiResults } from '../src/interfaces/http/api/contract.js';
import type { UploadLimiter, UploadLimits } from '../src/interfaces/http/api/upload-limiter.js';
import { buildApp } from '../src/interfaces/http/app.js';
import { Recommender } from '../src/recommend/recommender.js';
import { buildIndex } from './support/build-index.js';
import { firstCatalogueImages, queryImage } from './support/datasets.js';
import { type FixtureIndex, fixtureIndex } from './support/fixture-index.js';
import { spawnCli } from './support/serve.js';

/** A 224x224 photo of a catalogue product that is not byte-identical to it: it is embedded. */
const QUERY_PHOTO = queryImage(10410);
const BOUNDARY = 'lookalike-serving-test';

let fixture: FixtureIndex;
let recommender: Recommender;
let photo: Buffer;

before(async () => {
  fixture = await fixtureIndex();
  recommender = await Recommender.open(fixture.dir, { eager: true });
  photo = await readFile(QUERY_PHOTO);
});

after(async () => {
  await recommender?.close();
});

// ---------------------------------------------------------------------------------------------------------------
// Helpers

/**
 * The recommender, counting the uploads it is asked to process; while closed, the gate holds them
 * at its door. The gate opens when the test ends, whatever happened.
 */
function gatedRecommender(t: TestContext, inner: Recommender, { open = true } = {}) {
  const events = new EventEmitter();
  const counts = { started: 0, finished: 0 };
  let openGate = () => {};
  let gate = Promise.resolve();
  if (!open) gate = new Promise((resolve) => (openGate = resolve));
  t.after(() => openGate());
  // Everything else is the real recommender's, through the prototype.
  const wrapper = Object.create(inner) as Recommender;
  wrapper.recommend = async (image, options) => {
    counts.started += 1;
    events.emit('change');
    await gate;
    try {
      return await inner.recommend(image, options);
    } finally {
      counts.finished += 1;
      events.emit('change');
    }
  };
  const until = (ready: () => boolean) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (!ready()) return;
        events.off('change', check);
        resolve();
      };
      events.on('change', check);
      check();
    });
  return { recommender: wrapper, counts, open: () => openGate(), until };
}

/** Resolves once the limiter's counts satisfy `ready` (it emits 'change' on every change). */
function until(limiter: UploadLimiter, ready: (l: UploadLimiter) => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (!ready(limiter)) return;
      limiter.off('change', check);
      resolve();
    };
    limiter.on('change', check);
    check();
  });
}

interface Served {
  app: FastifyInstance;
  base: string;
  limiter: UploadLimiter;
}

/** A real server on a free port; closed when the test `t` ends, whatever happened (its connections cut). */
async function serve(
  rec: Recommender,
  uploadLimits: Partial<UploadLimits> = {},
  t?: TestContext,
): Promise<Served> {
  const app = await buildApp({ recommender: rec, uploadLimits });
  t?.after(async () => {
    if (!app.server.listening) return;
    app.server.closeAllConnections();
    await app.close();
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  return { app, base: `http://127.0.0.1:${port}`, limiter: app.uploadLimiter };
}

function form(bytes: Buffer, filename = 'photo.jpg'): FormData {
  const body = new FormData();
  body.append('image', new Blob([new Uint8Array(bytes)], { type: 'image/jpeg' }), filename);
  return body;
}

async function upload(base: string, bytes = photo): Promise<Response> {
  return fetch(`${base}/api/recommend`, { method: 'POST', body: form(bytes) });
}

async function assertError(response: Response, status: number, code: string): Promise<string> {
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  const body = (await response.json()) as ApiErrorBody;
  assert.equal(response.status, status, JSON.stringify(body));
  assert.deepEqual(Object.keys(body), ['error']);
  assert.equal(body.error.code, code, body.error.message);
  return body.error.message;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * An upload sent by hand on a socket of its own: its multipart head and the first `sent` bytes of
 * the photo at once, the rest when told (or a byte at a time, every `ms`, with `trickle`).
 */
function slowUpload(base: string, bytes: Buffer, sent = 0) {
  const head = Buffer.from(
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="slow.jpg"\r\n` +
      'Content-Type: image/jpeg\r\n\r\n',
  );
  const body = Buffer.concat([head, bytes, Buffer.from(`\r\n--${BOUNDARY}--\r\n`)]);
  let at = head.length + sent;
  const req = httpRequest(`${base}/api/recommend`, {
    method: 'POST',
    agent: false,
    headers: {
      'content-type': `multipart/form-data; boundary=${BOUNDARY}`,
      'content-length': body.length,
    },
  });
  let timer: NodeJS.Timeout | undefined;
  const stop = () => clearInterval(timer);
  const closed = new Promise<void>((resolve) => {
    req.on('socket', (socket) => socket.once('close', () => resolve()));
  });
  closed.then(stop);
  const answer = new Promise<Answer>((resolve, reject) => {
    req.on('response', (res) => {
      stop();
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        text += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      res.on('error', reject);
    });
    // Writing after the server has answered and closed fails: the answer is what counts.
    req.on('error', (err) => {
      stop();
      closed.then(() => reject(err));
    });
  });
  answer.catch(() => {});
  req.write(body.subarray(0, at));
  return {
    answer,
    closed,
    /** Sends the rest of the body. */
    finish() {
      stop();
      req.end(body.subarray(at));
      at = body.length;
    },
    /** Sends `size` bytes every `ms` milliseconds, never the last byte. */
    trickle(ms: number, size = 1) {
      timer = setInterval(() => {
        const end = Math.min(at + size, body.length - 1);
        if (end > at && !req.destroyed) req.write(body.subarray(at, end));
        at = end;
      }, ms);
    },
    hangUp() {
      stop();
      req.destroy();
    },
  };
}

function errorOf(answer: Answer): ApiErrorBody['error'] {
  assert.match(String(answer.headers['content-type']), /^application\/json/);
  const body = JSON.parse(answer.body) as ApiErrorBody;
  assert.deepEqual(Object.keys(body), ['error']);
  return body.error;
}

// ---------------------------------------------------------------------------------------------------------------

describe('slow uploads', { timeout: 120_000 }, () => {
  test('trickling uploads hold no turn of the model nor a place in its queue: other uploads are answered meanwhile', {
    timeout: 60_000,
  }, async (t) => {
    const gated = gatedRecommender(t, recommender);
    // The report's settings (2 turns, 32 places in the queue), and no minimum rate: the trickling
    // clients stay as long as the test needs.
    const { base, limiter } = await serve(gated.recommender, { minBytesPerSecond: 0 }, t);
    // Forty clients sending a byte every 200 ms, as in the report (a byte every 2 s).
    const slow = Array.from({ length: 40 }, () => slowUpload(base, photo, 100));
    for (const s of slow) s.trickle(200);
    await until(limiter, (l) => l.receiving === 40);
    for (let i = 0; i < 3; i++) {
      const response = await upload(base);
      assert.equal(response.status, 200, await response.clone().text());
      assert.equal(((await response.json()) as ApiResults).results.length, 5);
      assert.deepEqual(
        [limiter.receiving, limiter.active, limiter.waiting],
        [40, 0, 0],
        'the slow ones are still arriving',
      );
    }
    assert.equal(gated.counts.finished, 3);
    // Most hang up; the last two send the rest of their photos, and are answered.
    for (const s of slow.slice(2)) s.hangUp();
    await until(limiter, (l) => l.receiving === 2);
    for (const s of slow.slice(0, 2)) s.finish();
    for (const s of slow.slice(0, 2)) assert.equal((await s.answer).status, 200);
    assert.equal(gated.counts.finished, 5);
  });

  test('an upload slower than the minimum rate is answered 408 in JSON, and its connection closed', {
    timeout: 60_000,
  }, async (t) => {
    const gated = gatedRecommender(t, recommender);
    const { base, limiter } = await serve(
      gated.recommender,
      {
        minBytesPerSecond: 1000,
        rateGraceMs: 300,
      },
      t,
    );
    const slow = slowUpload(base, photo, 0);
    slow.trickle(100);
    const answer = await slow.answer;
    assert.equal(answer.status, 408);
    const error = errorOf(answer);
    assert.equal(error.code, 'timeout');
    assert.match(error.message, /too slowly/);
    assert.equal(answer.headers.connection, 'close');
    await slow.closed;
    await until(limiter, (l) => l.receiving === 0 && l.bufferedBytes === 0);
    assert.equal(gated.counts.started, 0, 'never given to the model');
    // The server goes on as before.
    assert.equal((await upload(base)).status, 200);
  });

  test('an upload that does not arrive within the body timeout is answered 408', {
    timeout: 60_000,
  }, async (t) => {
    const { base, limiter } = await serve(recommender, { minBytesPerSecond: 0, bodyTimeoutMs: 500 }, t);
    const slow = slowUpload(base, photo, 2000);
    const answer = await slow.answer;
    assert.equal(answer.status, 408);
    assert.match(errorOf(answer).message, /did not arrive within 0.5 s/);
    await slow.closed;
    await until(limiter, (l) => l.receiving === 0);
  });

  test('a client that hangs up frees its place at once, while arriving or waiting for the model', {
    timeout: 60_000,
  }, async (t) => {
    const gated = gatedRecommender(t, recommender, { open: false });
    const { base, limiter } = await serve(
      gated.recommender,
      {
        concurrency: 1,
        maxReceiving: 1,
        minBytesPerSecond: 0,
      },
      t,
    );
    // While its photo arrives: the only receiving place is free again at once.
    const arriving = slowUpload(base, photo, 100);
    await until(limiter, (l) => l.receiving === 1);
    arriving.hangUp();
    await until(limiter, (l) => l.receiving === 0 && l.bufferedBytes === 0);

    // While waiting for the model: one upload has the turn (held at the gate), one waits.
    const first = upload(base);
    await gated.until(() => gated.counts.started === 1);
    const leaving = new AbortController();
    const second = fetch(`${base}/api/recommend`, {
      method: 'POST',
      body: form(photo),
      signal: leaving.signal,
    });
    second.catch(() => {});
    await until(limiter, (l) => l.waiting === 1);
    leaving.abort();
    await until(limiter, (l) => l.waiting === 0);
    gated.open();
    assert.equal((await first).status, 200);
    await until(limiter, (l) => l.active === 0 && l.bufferedBytes === 0);
    assert.deepEqual(
      gated.counts,
      { started: 1, finished: 1 },
      'the upload whose client left was not processed',
    );
  });
});

describe('many uploads at once', { timeout: 120_000 }, () => {
  test('beyond the bodies received at once: 503 with Retry-After at once, in JSON', {
    timeout: 60_000,
  }, async (t) => {
    const gated = gatedRecommender(t, recommender);
    const { base, limiter } = await serve(gated.recommender, { maxReceiving: 2, minBytesPerSecond: 0 }, t);
    const slow = [slowUpload(base, photo, 100), slowUpload(base, photo, 100)];
    await until(limiter, (l) => l.receiving === 2);
    const refused = await upload(base);
    assert.equal(refused.headers.get('retry-after'), '2');
    assert.equal(refused.headers.get('connection'), 'close');
    assert.match(await assertError(refused, 503, 'busy'), /busy/);
    assert.equal(gated.counts.started, 0);
    for (const s of slow) s.finish();
    for (const s of slow) assert.equal((await s.answer).status, 200);
    assert.equal((await upload(base)).status, 200);
    assert.equal(gated.counts.finished, 3);
  });

  test('beyond the bytes uploads may hold: 503, and the bytes are given back', {
    timeout: 60_000,
  }, async (t) => {
    // Room for one photo and a half.
    const budget = Math.round(photo.length * 1.5);
    const { base, limiter } = await serve(
      recommender,
      {
        maxBufferedBytes: budget,
        minBytesPerSecond: 0,
      },
      t,
    );
    const holding = slowUpload(base, photo, photo.length - 10);
    await until(limiter, (l) => l.bufferedBytes > photo.length);
    await assertError(await upload(base), 503, 'busy');
    holding.finish();
    assert.equal((await holding.answer).status, 200);
    await until(limiter, (l) => l.bufferedBytes === 0);
    assert.equal((await upload(base)).status, 200);
  });

  test('beyond the model queue: 503 at once, and the uploads taken are all processed', {
    timeout: 60_000,
  }, async (t) => {
    const gated = gatedRecommender(t, recommender, { open: false });
    const { base, limiter } = await serve(gated.recommender, { concurrency: 1, maxWaiting: 1 }, t);
    const first = upload(base);
    await gated.until(() => gated.counts.started === 1);
    const second = upload(base);
    await until(limiter, (l) => l.waiting === 1);
    const refused = await upload(base);
    assert.equal(refused.headers.get('retry-after'), '2');
    await assertError(refused, 503, 'busy');
    gated.open();
    for (const answer of [await first, await second]) {
      assert.equal(answer.status, 200);
      assert.equal(((await answer.json()) as ApiResults).results.length, 5);
    }
    assert.deepEqual(gated.counts, { started: 2, finished: 2 });
  });
});

describe('closing', { timeout: 120_000 }, () => {
  test('the request in progress finishes; the next one on its kept-alive connection is 503 in JSON', {
    timeout: 60_000,
  }, async (t) => {
    const gated = gatedRecommender(t, recommender, { open: false });
    const { app, base } = await serve(gated.recommender, {}, t);
    const { port } = new URL(base);
    // One connection, kept alive: an upload, then (once closing has begun) another request.
    const socket = connect(Number(port), '127.0.0.1');
    t.after(() => socket.destroy());
    let received = '';
    const answers = new EventEmitter();
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => {
      received += chunk;
      answers.emit('data');
    });
    const closed = once(socket, 'close');
    const answered = (n: number) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if ((received.match(/HTTP\/1\.1 \d{3} /g) ?? []).length >= n && /\}$/.test(received)) resolve();
        };
        answers.on('data', check);
        check();
      });
    const head = Buffer.from(
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n` +
        'Content-Type: image/jpeg\r\n\r\n',
    );
    const body = Buffer.concat([head, photo, Buffer.from(`\r\n--${BOUNDARY}--\r\n`)]);
    socket.write(
      'POST /api/recommend HTTP/1.1\r\nHost: test\r\n' +
        `Content-Type: multipart/form-data; boundary=${BOUNDARY}\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    socket.write(body);
    await gated.until(() => gated.counts.started === 1);
    const closing = app.close();
    gated.open();
    await answered(1);
    assert.match(received, /^HTTP\/1\.1 200 /);
    socket.write('GET /api/health HTTP/1.1\r\nHost: test\r\n\r\n');
    await answered(2);
    const second = received.slice(received.lastIndexOf('HTTP/1.1 '));
    assert.match(second, /^HTTP\/1\.1 503 /);
    assert.match(second, /\r\nconnection: close\r\n/i);
    assert.match(second, /\r\nretry-after: 2\r\n/i);
    const error = JSON.parse(second.slice(second.indexOf('\r\n\r\n') + 4)) as ApiErrorBody;
    assert.equal(error.error.code, 'busy');
    await closed;
    await closing;
    assert.deepEqual(gated.counts, { started: 1, finished: 1 });
  });
});

describe('catalogue photos that change after indexing', { timeout: 300_000 }, () => {
  let dir: string;
  let images: string;
  let served: Served;
  let catalogueRecommender: Recommender;
  /** Product id -> its photo's path and original bytes. */
  const photos = new Map<string, { path: string; bytes: Buffer }>();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lookalike-serving-'));
    images = join(dir, 'images');
    await mkdir(images);
    // Plain copies (not links) of six real catalogue photos, and an index of them.
    for (const source of firstCatalogueImages(6)) {
      const bytes = await readFile(source);
      const path = join(images, basename(source));
      await writeFile(path, bytes);
      photos.set(basename(source, '.jpg'), { path, bytes });
    }
    await buildIndex({ imagesDir: images, outDir: join(dir, 'index') });
    catalogueRecommender = await Recommender.open(join(dir, 'index'), { eager: true });
    served = await serve(catalogueRecommender);
  });

  after(async () => {
    await served?.app.close();
    await catalogueRecommender?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const ids = () => [...photos.keys()];
  const image = (id: string, headers: Record<string, string> = {}) =>
    fetch(`${served.base}/images/${id}`, { headers });

  test('an unchanged photo: its bytes, an ETag, and 304 on revalidation', { timeout: 30_000 }, async () => {
    const id = ids()[0] as string;
    const response = await image(id);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'image/jpeg');
    assert.deepEqual(Buffer.from(await response.arrayBuffer()), photos.get(id)?.bytes);
    const etag = response.headers.get('etag') ?? '';
    assert.match(etag, /^"[0-9a-f]{64}-/);
    assert.equal((await image(id, { 'if-none-match': etag })).status, 304);
    assert.equal((await image(id, { 'if-none-match': `"other", W/${etag}` })).status, 304);
  });

  test('a photo re-pointed outside the catalogue (to /etc/passwd) is 404, never that file', {
    timeout: 30_000,
  }, async () => {
    const id = ids()[1] as string;
    const path = photos.get(id)?.path as string;
    await unlink(path);
    await symlink('/etc/passwd', path);
    const response = await image(id);
    const text = await response.clone().text();
    assert.doesNotMatch(text, /root:/);
    assert.match(await assertError(response, 404, 'not-found'), /outside the catalogue folder/);
  });

  test('a photo changed since indexing is 409: other bytes of the same size, another size, or another photo', {
    timeout: 30_000,
  }, async () => {
    const [, , same, resized, linked, linkedTwin] = ids() as [string, string, string, string, string, string];
    // Same size, one byte changed: only the hash tells.
    const entry = photos.get(same) as { path: string; bytes: Buffer };
    const before = await image(same);
    const etag = before.headers.get('etag') ?? '';
    await before.arrayBuffer();
    const changed = Buffer.from(entry.bytes);
    changed[changed.length - 3] = (changed[changed.length - 3] ?? 0) ^ 0xff;
    await writeFile(entry.path, changed);
    await assertError(await image(same), 409, 'photo-changed');
    // Not a 304 either: the cached copy is not this photo any more.
    await assertError(await image(same, { 'if-none-match': etag }), 409, 'photo-changed');

    const other = photos.get(resized) as { path: string; bytes: Buffer };
    await writeFile(other.path, Buffer.concat([other.bytes, Buffer.from('more')]));
    assert.match(await assertError(await image(resized), 409, 'photo-changed'), /bytes, indexed with/);

    // A link to another photo inside the catalogue: inside, but not this photo.
    const link = photos.get(linked)?.path as string;
    await unlink(link);
    await symlink(photos.get(linkedTwin)?.path as string, link);
    assert.ok(!photos.get(linkedTwin)?.bytes.equals(photos.get(linked)?.bytes as Buffer));
    await assertError(await image(linked), 409, 'photo-changed');
  });

  test('a photo touched but unchanged is served with a new ETag', { timeout: 30_000 }, async () => {
    const id = ids()[0] as string;
    const first = await image(id);
    const etag = first.headers.get('etag') ?? '';
    await first.arrayBuffer();
    const path = photos.get(id)?.path as string;
    const later = new Date(Date.now() + 60_000);
    await utimes(path, later, later);
    const second = await image(id, { 'if-none-match': etag });
    assert.equal(second.status, 200, 'not 304: the ETag follows the file');
    assert.notEqual(second.headers.get('etag'), etag);
    assert.deepEqual(Buffer.from(await second.arrayBuffer()), photos.get(id)?.bytes);
  });

  test('a photo replaced by a FIFO or a folder is 404 at once (no read that never ends)', {
    timeout: 30_000,
  }, async () => {
    const id = ids()[5] as string;
    const path = photos.get(id)?.path as string;
    await unlink(path);
    execFileSync('mkfifo', [path]);
    assert.match(await assertError(await image(id), 404, 'not-found'), /not a regular file/);
    await unlink(path);
    await mkdir(path);
    await assertError(await image(id), 404, 'not-found');
  });
});

describe('lookalike serve and SIGTERM', { timeout: 180_000 }, () => {
  test('stops accepting, finishes the upload in flight, then exits 0', { timeout: 150_000 }, async () => {
    const child = spawnCli(['serve', '--index', fixture.dir, '--port', '0']);
    const output = { stdout: '', stderr: '' };
    const events = new EventEmitter();
    child.stdout.on('data', (chunk) => {
      output.stdout += chunk;
      events.emit('output');
    });
    child.stderr.on('data', (chunk) => {
      output.stderr += chunk;
      events.emit('output');
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const printed = (pattern: RegExp, where: 'stdout' | 'stderr') =>
      new Promise<RegExpMatchArray>((resolve, reject) => {
        const check = () => {
          const match = output[where].match(pattern);
          if (match) {
            events.off('output', check);
            resolve(match);
          }
        };
        events.on('output', check);
        exited.then(() => reject(new Error(`exited; stdout: ${output.stdout}; stderr: ${output.stderr}`)));
        check();
      });
    try {
      const url = ((await printed(/open (http:\/\/\S+\/) /, 'stdout'))[1] as string).replace(/\/$/, '');
      // A large real photo (the query photo, upscaled), sent at a steady, slow but acceptable rate.
      const big = await sharp(photo).resize(2400, 2400).jpeg({ quality: 100 }).toBuffer();
      const inFlight = slowUpload(url, big, 1000);
      inFlight.trickle(100, 4096);
      // Until the server is receiving it: asked of the server itself.
      for (let tries = 0; ; tries++) {
        const health = (await (await fetch(`${url}/api/health`)).json()) as ApiHealth;
        if (health.uploads.receiving === 1) break;
        assert.ok(tries < 1000, 'the upload reaches the server');
      }
      child.kill('SIGTERM');
      await printed(/SIGTERM: finishing requests in progress/, 'stderr');
      // No new connections: refused once the listener is closed (until then, the API's own 503).
      const { port, hostname } = new URL(url);
      for (let tries = 0; ; tries++) {
        const refused = await new Promise<boolean>((resolve) => {
          const socket = connect(Number(port), hostname);
          socket.on('connect', () => {
            socket.destroy();
            resolve(false);
          });
          socket.on('error', () => resolve(true));
        });
        if (refused) break;
        assert.ok(tries < 1000, 'the server stops accepting connections');
      }
      inFlight.finish();
      const answer = await inFlight.answer;
      assert.equal(answer.status, 200, answer.body);
      assert.equal((JSON.parse(answer.body) as ApiResults).results.length, 5);
      assert.equal(await exited, 0, output.stderr);
      assert.match(output.stderr, /"msg":"stopped"/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
