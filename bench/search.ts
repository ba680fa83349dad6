/**
 * Search and recommendation latency on a built index (default: the project's default index,
 * the whole 44k catalogue once `lookalike index` has run):
 *   - index load time;
 *   - search-only latency p50/p99, usearch and the TypeScript fallback;
 *   - `recommend` latency for 224x224 JPEGs in a long-running process with the model loaded,
 *     decode and embedding included.
 *
 *   npm run bench:search [-- --index <dir> --queries 200 --photos 100 --json]
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultIndexDir } from '../src/config.js';
import { ExactSearch } from '../src/index/search.js';
import { loadIndex } from '../src/index/store.js';
import { Recommender } from '../src/recommend/recommender.js';
import { queryImages } from '../test/support/datasets.js';

const { values } = parseArgs({
  options: {
    index: { type: 'string', default: defaultIndexDir },
    queries: { type: 'string', default: '200' },
    photos: { type: 'string', default: '100' },
    json: { type: 'boolean', default: false },
  },
});

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

function stats(samples: number[]) {
  return { p50: percentile(samples, 50), p99: percentile(samples, 99), n: samples.length };
}

const t0 = performance.now();
const data = await loadIndex(values.index);
const loadMs = performance.now() - t0;
const { count, dim } = data.manifest;
process.stderr.write(`index: ${count} x ${dim} loaded in ${loadMs.toFixed(0)} ms\n`);

// Queries: vectors of evenly spread catalogue products.
const nQueries = Number(values.queries);
const queries = Array.from({ length: nQueries }, (_, i) => {
  const row = Math.floor((i * count) / nQueries);
  return data.vectors.slice(row * dim, (row + 1) * dim);
});

const searchStats: Record<string, ReturnType<typeof stats>> = {};
for (const backend of ['usearch', 'typescript'] as const) {
  const search = new ExactSearch(data.vectors, dim, backend);
  search.search(queries[0] as Float32Array, 5);
  const times = queries.slice(0, backend === 'typescript' ? Math.min(50, nQueries) : nQueries).map((q) => {
    const t = performance.now();
    search.search(q, 5);
    return performance.now() - t;
  });
  searchStats[backend] = stats(times);
  process.stderr.write(`search ${backend}: p50 ${searchStats[backend].p50.toFixed(1)} ms\n`);
}

// Opening for service: index files, id and filter tables, search structure (the model loads separately).
const t1 = performance.now();
const recommender = await Recommender.open(values.index);
const openMs = performance.now() - t1;
const t2 = performance.now();
await recommender.getEmbedder();
const modelMs = performance.now() - t2;

// End to end: a 224x224 JPEG that is not byte-identical to any catalogue photo.
const photos = readdirSync(queryImages)
  .filter((f) => f.endsWith('.jpg'))
  .sort()
  .slice(0, Number(values.photos))
  .map((f) => join(queryImages, f));
await recommender.recommend(photos[0] as string);
const recommendTimes: number[] = [];
for (const photo of photos) {
  const t = performance.now();
  const result = await recommender.recommend(photo, { k: 5 });
  recommendTimes.push(performance.now() - t);
  if (result.results.length !== 5) throw new Error(`${photo}: ${result.results.length} results`);
}
await recommender.close();
const recommendStats = stats(recommendTimes);

const report = {
  index: values.index,
  count,
  dim,
  loadMs,
  openMs,
  modelMs,
  searchMs: searchStats,
  recommendMs: recommendStats,
};
if (values.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
else {
  const f = (x: number) => x.toFixed(1);
  process.stdout.write(`Index ${values.index}: ${count} vectors x ${dim}\n\n`);
  process.stdout.write('| measure | p50 ms | p99 ms | samples |\n|---|---:|---:|---:|\n');
  process.stdout.write(`| index load (files into memory) | ${f(loadMs)} | | 1 |\n`);
  process.stdout.write(`| index open for recommendations (load + id/filter tables) | ${f(openMs)} | | 1 |\n`);
  process.stdout.write(`| model load | ${f(modelMs)} | | 1 |\n`);
  for (const [backend, s] of Object.entries(searchStats)) {
    process.stdout.write(`| search only, exact, ${backend} | ${f(s.p50)} | ${f(s.p99)} | ${s.n} |\n`);
  }
  process.stdout.write(
    `| recommend 224x224 JPEG (decode + embed + search) | ${f(recommendStats.p50)} | ${f(recommendStats.p99)} | ${recommendStats.n} |\n`,
  );
}
