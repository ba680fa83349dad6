/**
 * Hostile and broken photos, through the decoders and through the HTTP API (a real server over a small
 * real index): a progressive JPEG "scan bomb", and a few hundred seeded mutants of real JPEG, PNG, WebP,
 * GIF and TIFF photos. `npm run bench:fuzz` runs thousands of mutants and prints the figures.
 * Run: node --import tsx --test test/fuzz.test.ts
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { smallRgb } from '../src/images/colour.js';
import { isImageError } from '../src/images/errors.js';
import { decodeToRgb } from '../src/images/preprocess.js';
import { prepareQuery } from '../src/images/query-prep.js';
import type { ApiErrorBody, ApiResults } from '../src/interfaces/http/api/contract.js';
import { buildApp } from '../src/interfaces/http/app.js';
import { Recommender } from '../src/recommend/recommender.js';
import { queryImage } from './support/datasets.js';
import { fixtureIndex } from './support/fixture-index.js';
import { type FuzzSource, fuzzSources, mutate, prng, scanBombJpeg } from './support/hostile-images.js';
import { listen } from './support/serve.js';

/** The fixed seed: every run fuzzes the same cases. */
const SEED = 20261201;
const DECODE_CASES = 400;
const HTTP_CASES = 200;
/** A refused photo is answered at once; decoding the scan bomb takes tens of seconds. */
const PROMPT_MS = 5000;
/** No single case may take this long: it would be a hang, not a slow decode. */
const CASE_LIMIT_MS = 10_000;
/** RSS may grow by this much over a fuzz run (the allocator keeps freed pages; a leak grows without end). */
const RSS_GROWTH_LIMIT = 400 * 1024 * 1024;
/** What an upload the server cannot use may be answered with. */
const PHOTO_ERRORS = new Set([
  'empty',
  'not-an-image',
  'unsupported-format',
  'truncated',
  'too-large',
  'too-complex',
]);

const PHOTO = queryImage(10410);

let app: FastifyInstance;
let recommender: Recommender;
let base: string;
let sources: FuzzSource[];

async function upload(bytes: Buffer, filename = 'photo.jpg'): Promise<Response> {
  const form = new FormData();
  form.append('image', new Blob([new Uint8Array(bytes)], { type: 'application/octet-stream' }), filename);
  return fetch(`${base}/api/recommend`, { method: 'POST', body: form });
}

/** Runs `work` and gives its result (or error) and how long it took. */
async function timed<T>(work: () => Promise<T>): Promise<{ value?: T; error?: unknown; ms: number }> {
  const started = performance.now();
  try {
    const value = await work();
    return { value, ms: performance.now() - started };
  } catch (error) {
    return { error, ms: performance.now() - started };
  }
}

/** Asserts an answer is a JSON photo error (4xx, {error: {code, message}}) and gives its code. */
async function photoError(response: Response, context: string): Promise<string> {
  const text = await response.text();
  assert.ok(
    response.status >= 400 && response.status < 500,
    `${context}: expected a 4xx, got ${response.status} ${text}`,
  );
  const body = JSON.parse(text) as ApiErrorBody;
  assert.deepEqual(Object.keys(body), ['error'], context);
  assert.equal(typeof body.error.message, 'string', context);
  assert.ok(PHOTO_ERRORS.has(body.error.code), `${context}: code ${body.error.code}`);
  return body.error.code;
}

function count(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

const summary = (map: Map<string, number>) =>
  [...map]
    .sort()
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');

before(
  async () => {
    sources = await fuzzSources(queryImage);
    const fixture = await fixtureIndex();
    recommender = await Recommender.open(fixture.dir, { eager: true });
    app = await buildApp({ recommender });
    base = await listen(app);
  },
  { timeout: 300_000 },
);

after(async () => {
  await app?.close();
  await recommender?.close();
});

describe('a progressive JPEG scan bomb (10000x10000 grey, 883 valid scans, 352 KB)', () => {
  const bomb = scanBombJpeg();

  test('is refused by every decoder at once as too-complex', { timeout: 60_000 }, async () => {
    assert.equal(bomb.length, 351_581);
    const decoders: [string, () => Promise<unknown>][] = [
      ['decodeToRgb', () => decodeToRgb(bomb, 'stretch', 'bomb.jpg')],
      ['smallRgb', () => smallRgb(bomb)],
      ['prepareQuery', () => prepareQuery(bomb, { crop: true, whiten: true })],
    ];
    for (const [name, decode] of decoders) {
      const { error, ms } = await timed(decode);
      assert.ok(isImageError(error), `${name}: expected an ImageError, got ${String(error)}`);
      assert.equal(error.code, 'too-complex', error.message);
      assert.match(error.reason, /scans/);
      assert.ok(ms < PROMPT_MS, `${name} took ${ms.toFixed(0)} ms`);
    }
  });

  test('over HTTP: a 4xx too-complex JSON error within a few seconds', { timeout: 120_000 }, async () => {
    const { value: response, ms } = await timed(() => upload(bomb, 'bomb.jpg'));
    assert.ok(response);
    assert.equal(await photoError(response, 'bomb'), 'too-complex');
    assert.ok(ms < PROMPT_MS, `answered in ${ms.toFixed(0)} ms`);
  });

  test('three bombs and a normal photo at once: all answered promptly, the photo with results', {
    timeout: 180_000,
  }, async () => {
    // Three bombs hold more than the two upload turns the server gives at once.
    const started = performance.now();
    const answers = await Promise.all([
      ...[1, 2, 3].map(async (i) => {
        const response = await upload(bomb, `bomb-${i}.jpg`);
        return { code: await photoError(response, `bomb ${i}`), ms: performance.now() - started };
      }),
      (async () => {
        const response = await upload(await readFile(PHOTO));
        const text = await response.text();
        assert.equal(response.status, 200, text);
        const body = JSON.parse(text) as ApiResults;
        assert.equal(body.results.length, 5);
        return { code: 'ok', ms: performance.now() - started };
      })(),
    ]);
    assert.deepEqual(
      answers.map((a) => a.code),
      ['too-complex', 'too-complex', 'too-complex', 'ok'],
    );
    const photoMs = (answers[3] as { ms: number }).ms;
    assert.ok(photoMs < 2 * PROMPT_MS, `the normal photo was answered after ${photoMs.toFixed(0)} ms`);
  });
});

describe(`fuzzing (seed ${SEED})`, () => {
  test(`decoders: ${DECODE_CASES} mutants of real photos decode or raise an ImageError; memory stays bounded`, {
    timeout: 300_000,
  }, async (t) => {
    const rand = prng(SEED);
    const outcomes = new Map<string, number>();
    let slowest = { ms: 0, name: '' };
    const rssBefore = process.memoryUsage().rss;
    for (let i = 0; i < DECODE_CASES; i++) {
      const source = sources[i % sources.length] as FuzzSource;
      const mutant = mutate(source.bytes, rand);
      const name = `case ${i}: ${source.name}, ${mutant.name}`;
      // decodeToRgb embeds every photo; smallRgb and prepareQuery read shoppers' photos for the learned similarity.
      const decoders: [string, () => Promise<unknown>][] = [
        ['decodeToRgb', () => decodeToRgb(mutant.bytes, i % 2 ? 'pad' : 'stretch', name)],
        ...(i % 3 === 0
          ? ([
              ['smallRgb', () => smallRgb(mutant.bytes)],
              ['prepareQuery', () => prepareQuery(mutant.bytes, { crop: true, whiten: true })],
            ] as [string, () => Promise<unknown>][])
          : []),
      ];
      for (const [decoder, decode] of decoders) {
        const { error, ms } = await timed(decode);
        if (error !== undefined) {
          assert.ok(isImageError(error), `${decoder}, ${name}: not an ImageError: ${String(error)}`);
          if (decoder === 'decodeToRgb') assert.equal(error.path, name);
        }
        if (decoder === 'decodeToRgb')
          count(outcomes, error === undefined ? 'decoded' : (error as { code: string }).code);
        if (ms > slowest.ms) slowest = { ms, name: `${decoder}, ${name}` };
        assert.ok(ms < CASE_LIMIT_MS, `${decoder}, ${name}: ${ms.toFixed(0)} ms`);
      }
    }
    const growth = process.memoryUsage().rss - rssBefore;
    t.diagnostic(`outcomes: ${summary(outcomes)}`);
    t.diagnostic(
      `slowest: ${slowest.ms.toFixed(0)} ms (${slowest.name}); RSS growth ${(growth / 1048576).toFixed(0)} MB`,
    );
    assert.ok((outcomes.get('decoded') ?? 0) > 0, 'some mutants still decode');
    assert.ok(outcomes.size >= 3, 'the mutants fail in several ways');
    assert.ok(growth < RSS_GROWTH_LIMIT, `RSS grew by ${(growth / 1048576).toFixed(0)} MB`);
    // The process is unharmed: a good photo still decodes as before.
    assert.equal((await decodeToRgb(PHOTO, 'stretch')).length, 224 * 224 * 3);
  });

  test(`HTTP: ${HTTP_CASES} mutant uploads get results or a 4xx JSON error, never a 5xx`, {
    timeout: 600_000,
  }, async (t) => {
    // Other cases than the decoders' (another seed), uploaded one after another.
    const rand = prng(SEED + 1);
    const outcomes = new Map<string, number>();
    let slowest = { ms: 0, name: '' };
    for (let i = 0; i < HTTP_CASES; i++) {
      const source = sources[i % sources.length] as FuzzSource;
      const mutant = mutate(source.bytes, rand);
      const name = `case ${i}: ${source.name}, ${mutant.name}`;
      const { value: response, error, ms } = await timed(() => upload(mutant.bytes, source.name));
      assert.ok(response, `${name}: no answer: ${String(error)}`);
      if (response.status === 200) {
        const body = (await response.json()) as ApiResults;
        assert.ok(Array.isArray(body.results) && body.results.length > 0, name);
        count(outcomes, '200');
      } else {
        count(outcomes, `${response.status} ${await photoError(response, name)}`);
      }
      if (ms > slowest.ms) slowest = { ms, name };
      assert.ok(ms < CASE_LIMIT_MS, `${name}: ${ms.toFixed(0)} ms`);
    }
    t.diagnostic(`answers: ${summary(outcomes)}`);
    t.diagnostic(`slowest: ${slowest.ms.toFixed(0)} ms (${slowest.name})`);
    assert.ok((outcomes.get('200') ?? 0) > 0, 'some mutants are still photos');
    // The server is unharmed: a good photo still gets its results.
    const response = await upload(await readFile(PHOTO));
    assert.equal(response.status, 200);
  });
});
