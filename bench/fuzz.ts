/**
 * Fuzzing at scale: thousands of seeded mutants of real JPEG, PNG, WebP, GIF and TIFF photos through the
 * decoders (decodeToRgb, and smallRgb and prepareQuery, which read shoppers' photos for the learned
 * similarity) and through the HTTP API (a real server over the small test index), plus the hostile files of
 * the tests (scan bomb, frame and page bombs). Prints the cases, the outcomes by error code, the slowest
 * cases, and RSS growth. Fails (exit 1) on a non-ImageError, a 5xx, or an answer that is not JSON.
 *
 *   npm run bench:fuzz [-- --cases 3000 --http 1000 --seed 20261201 --json]
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { smallRgb } from '../src/images/colour.js';
import { isImageError } from '../src/images/errors.js';
import { decodeToRgb } from '../src/images/preprocess.js';
import { prepareQuery } from '../src/images/query-prep.js';
import { buildApp } from '../src/interfaces/http/app.js';
import { Recommender } from '../src/recommend/recommender.js';
import { queryImage } from '../test/support/datasets.js';
import { fixtureIndex } from '../test/support/fixture-index.js';
import {
  type FuzzSource,
  fuzzSources,
  jpegInTiff,
  manyFrameGif,
  manyPageTiff,
  mutate,
  prng,
  repeatWebpFrames,
  scanBombJpeg,
} from '../test/support/hostile-images.js';

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '3000' },
    http: { type: 'string', default: '1000' },
    seed: { type: 'string', default: '20261201' },
    json: { type: 'boolean', default: false },
  },
});
const cases = Number(values.cases);
const httpCases = Number(values.http);
const seed = Number(values.seed);

const mb = (bytes: number) => Math.round(bytes / 1048576);
const failures: string[] = [];

interface Timing {
  ms: number[];
  slowest: { ms: number; name: string };
}
const newTiming = (): Timing => ({ ms: [], slowest: { ms: 0, name: '' } });
function record(t: Timing, ms: number, name: string): void {
  t.ms.push(ms);
  if (ms > t.slowest.ms) t.slowest = { ms, name };
}
function percentile(xs: number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}
function count(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

let peakRss = 0;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 50);

const sources = await fuzzSources(queryImage);
const rssStart = process.memoryUsage().rss;

// --- the hostile files: how fast each is refused ----------------------------------------------------------------
const { data, info } = await sharp(queryImage(10410))
  .resize(16, 16)
  .raw()
  .toBuffer({ resolveWithObject: true });
const animated = await sharp(Buffer.concat([data, Buffer.from(data.map((v) => 255 - v))]), {
  raw: { width: info.width, height: info.height * 2, channels: 3, pageHeight: info.height },
})
  .webp({ lossless: true })
  .toBuffer();
const hostile: [string, Buffer][] = [
  ['JPEG, 883 scans, 10000x10000', scanBombJpeg()],
  ['JPEG, 64 scans, 10000x10000', scanBombJpeg({ al: 0 })],
  [
    'TIFF, JPEG strip of 81 scans',
    jpegInTiff(scanBombJpeg({ width: 2000, height: 2000, al: 1, coefficients: 40 }), 2000, 2000),
  ],
  ['GIF, 900,000 frames', manyFrameGif(900_000)],
  ['WebP, 30,000 frames', repeatWebpFrames(animated, 15_000)],
  ['TIFF, 100,000 pages', manyPageTiff(100_000)],
];
const hostileRows: { file: string; kb: number; ms: number; outcome: string }[] = [];
for (const [file, bytes] of hostile) {
  const started = performance.now();
  const outcome = await decodeToRgb(bytes, 'stretch').then(
    () => 'decoded',
    (e: unknown) => (isImageError(e) ? e.code : `NOT AN ImageError: ${String(e)}`),
  );
  hostileRows.push({ file, kb: Math.round(bytes.length / 1024), ms: performance.now() - started, outcome });
}

// --- decoders -----------------------------------------------------------------------------------------------------
const decoders = {
  decodeToRgb: (b: Buffer, name: string, i: number) => decodeToRgb(b, i % 2 ? 'pad' : 'stretch', name),
  smallRgb: (b: Buffer) => smallRgb(b),
  prepareQuery: (b: Buffer) =>
    prepareQuery(b, { crop: true, whiten: true, match: { width: 60, height: 80 } }),
};
type DecoderName = keyof typeof decoders;
const decodeOutcomes = new Map<DecoderName, Map<string, number>>();
const decodeTimings = new Map<DecoderName, Timing>();
const rand = prng(seed);
const decodeStarted = performance.now();
for (let i = 0; i < cases; i++) {
  const source = sources[i % sources.length] as FuzzSource;
  const mutant = mutate(source.bytes, rand);
  const name = `case ${i}: ${source.name}, ${mutant.name}`;
  for (const decoder of Object.keys(decoders) as DecoderName[]) {
    const started = performance.now();
    let outcome: string;
    try {
      await decoders[decoder](mutant.bytes, name, i);
      outcome = 'decoded';
    } catch (e) {
      outcome = isImageError(e) ? e.code : 'NOT AN ImageError';
      if (!isImageError(e)) failures.push(`${decoder}, ${name}: ${String(e)}`);
    }
    const outcomes = decodeOutcomes.get(decoder) ?? new Map<string, number>();
    decodeOutcomes.set(decoder, outcomes);
    count(outcomes, outcome);
    const timing = decodeTimings.get(decoder) ?? newTiming();
    decodeTimings.set(decoder, timing);
    record(timing, performance.now() - started, name);
  }
  if ((i + 1) % 500 === 0) {
    process.stderr.write(`decoders: ${i + 1}/${cases}, RSS ${mb(process.memoryUsage().rss)} MB\n`);
  }
}
const decodeSeconds = (performance.now() - decodeStarted) / 1000;
const rssAfterDecode = process.memoryUsage().rss;

// --- HTTP ---------------------------------------------------------------------------------------------------------
const fixture = await fixtureIndex();
const recommender = await Recommender.open(fixture.dir, { eager: true });
const app = await buildApp({ recommender });
await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address();
if (!address || typeof address !== 'object') throw new Error('no server address');
const base = `http://127.0.0.1:${address.port}`;
const upload = async (bytes: Buffer, filename: string) => {
  const form = new FormData();
  form.append('image', new Blob([new Uint8Array(bytes)]), filename);
  return fetch(`${base}/api/recommend`, { method: 'POST', body: form });
};
const httpOutcomes = new Map<string, number>();
const httpTiming = newTiming();
const httpRand = prng(seed + 1);
const rssBeforeHttp = process.memoryUsage().rss;
const httpStarted = performance.now();
for (let i = 0; i < httpCases; i++) {
  const source = sources[i % sources.length] as FuzzSource;
  const mutant = mutate(source.bytes, httpRand);
  const name = `case ${i}: ${source.name}, ${mutant.name}`;
  const started = performance.now();
  try {
    const response = await upload(mutant.bytes, source.name);
    const text = await response.text();
    let code = '';
    try {
      const body = JSON.parse(text) as { error?: { code?: string } };
      code = body.error?.code ?? '';
    } catch {
      failures.push(`HTTP ${name}: ${response.status}, not JSON: ${text.slice(0, 200)}`);
    }
    if (response.status >= 500) failures.push(`HTTP ${name}: ${response.status} ${text.slice(0, 200)}`);
    count(httpOutcomes, code ? `${response.status} ${code}` : String(response.status));
  } catch (e) {
    failures.push(`HTTP ${name}: no answer: ${String(e)}`);
    count(httpOutcomes, 'no answer');
  }
  record(httpTiming, performance.now() - started, name);
  if ((i + 1) % 250 === 0) {
    process.stderr.write(`HTTP: ${i + 1}/${httpCases}, RSS ${mb(process.memoryUsage().rss)} MB\n`);
  }
}
const httpSeconds = (performance.now() - httpStarted) / 1000;
const normal = await upload(await readFile(queryImage(10410)), 'normal.jpg');
if (normal.status !== 200) failures.push(`a normal photo after the fuzzing: ${normal.status}`);
const rssEnd = process.memoryUsage().rss;
await app.close();
await recommender.close();
clearInterval(sampler);

// --- report -------------------------------------------------------------------------------------------------------
const report = {
  seed,
  sources: sources.map((s) => s.name),
  hostile: hostileRows,
  decode: {
    cases,
    seconds: decodeSeconds,
    decoders: Object.fromEntries(
      [...decodeOutcomes].map(([decoder, outcomes]) => {
        const t = decodeTimings.get(decoder) ?? newTiming();
        return [
          decoder,
          {
            outcomes: Object.fromEntries([...outcomes].sort()),
            p50Ms: percentile(t.ms, 50),
            p99Ms: percentile(t.ms, 99),
            maxMs: t.slowest.ms,
            slowest: t.slowest.name,
          },
        ];
      }),
    ),
  },
  http: {
    cases: httpCases,
    seconds: httpSeconds,
    answers: Object.fromEntries([...httpOutcomes].sort()),
    p50Ms: percentile(httpTiming.ms, 50),
    p99Ms: percentile(httpTiming.ms, 99),
    maxMs: httpTiming.slowest.ms,
    slowest: httpTiming.slowest.name,
  },
  rssMb: {
    start: mb(rssStart),
    afterDecoders: mb(rssAfterDecode),
    beforeHttp: mb(rssBeforeHttp),
    end: mb(rssEnd),
    peak: mb(peakRss),
    growthDecoders: mb(rssAfterDecode - rssStart),
    growthHttp: mb(rssEnd - rssBeforeHttp),
  },
  failures,
};

if (values.json) {
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
} else {
  const out = (s = '') => process.stdout.write(`${s}\n`);
  out(`Fuzzing, seed ${seed}: ${sources.length} real sources (${report.sources.join(', ')})`);
  out();
  out('Hostile files through decodeToRgb:');
  out('| file | KB | ms | outcome |\n|---|---:|---:|---|');
  for (const r of hostileRows) out(`| ${r.file} | ${r.kb} | ${r.ms.toFixed(1)} | ${r.outcome} |`);
  out();
  out(`Decoders: ${cases} mutants each, ${decodeSeconds.toFixed(1)} s`);
  out('| decoder | outcomes | p50 ms | p99 ms | max ms | slowest case |\n|---|---|---:|---:|---:|---|');
  for (const [decoder, r] of Object.entries(report.decode.decoders)) {
    const outcomes = Object.entries(r.outcomes)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    out(
      `| ${decoder} | ${outcomes} | ${r.p50Ms.toFixed(1)} | ${r.p99Ms.toFixed(1)} | ${r.maxMs.toFixed(0)} | ${r.slowest} |`,
    );
  }
  out();
  out(`HTTP: ${httpCases} mutant uploads to POST /api/recommend, ${httpSeconds.toFixed(1)} s`);
  out(
    `answers: ${Object.entries(report.http.answers)
      .map(([k, n]) => `${k}: ${n}`)
      .join(', ')}`,
  );
  out(
    `p50 ${report.http.p50Ms.toFixed(1)} ms, p99 ${report.http.p99Ms.toFixed(1)} ms, max ${report.http.maxMs.toFixed(0)} ms (${report.http.slowest})`,
  );
  out();
  const r = report.rssMb;
  out(
    `RSS: start ${r.start} MB, after the decoders ${r.afterDecoders} MB (+${r.growthDecoders}), ` +
      `HTTP +${r.growthHttp} MB, end ${r.end} MB, peak ${r.peak} MB`,
  );
  out(failures.length === 0 ? 'No failures.' : `${failures.length} FAILURES:\n${failures.join('\n')}`);
}
if (failures.length > 0) process.exitCode = 1;
