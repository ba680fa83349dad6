/**
 * Search and recommendation latency on a built index (default: the project's default index,
 * the whole 44k catalogue once `lookalike index` has run):
 *   - index load time;
 *   - search-only latency p50/p99: usearch, the TypeScript fallback, and the two-pass search
 *     (index/pruned-search.ts, with the time to build it);
 *   - `recommend` latency for 224x224 JPEGs and for shoppers' photos in a long-running process with
 *     the model loaded, decode, preparation and embedding included, for the original similarity
 *     and (where the index has one) the learned one, each with the two-pass search and with full
 *     scans (LOOKALIKE_TWO_PASS=0), measured in the same run (the two ways photo by photo in
 *     turn), with their ratios;
 *   - the search's own share: Recommender.nearest (search, colour within kind, reasons) with the
 *     same photos' vectors, resolved once, each way in turn.
 *
 *   npm run bench:search [-- --index <dir> --queries 200 --photos 100 --json]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { datasetsDir, defaultIndexDir } from '../src/config.js';
import { type ImageError, isImageError } from '../src/images/errors.js';
import { PrunedSearch } from '../src/index/pruned-search.js';
import { ExactSearch } from '../src/index/search.js';
import { loadIndex } from '../src/index/store.js';
import { Recommender } from '../src/recommend/recommender.js';
import { recordedSimilarity } from '../src/similarity/derive.js';
import type { SimilarityKind } from '../src/similarity/model.js';
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
/** Queries searched at once, as a server's concurrent recommendations reach the search. */
const TOGETHER = 16;
// While it builds: the longest the event loop went without a turn (a server's pause while it
// builds in the background), and the process's resident size after.
let twoPassLongestPauseMs = 0;
let lastTick = performance.now();
const ticker = setInterval(() => {
  const now = performance.now();
  twoPassLongestPauseMs = Math.max(twoPassLongestPauseMs, now - lastTick);
  lastTick = now;
}, 5);
const tBuild = performance.now();
const twoPass = await PrunedSearch.build(data.vectors, dim);
const twoPassBuildMs = performance.now() - tBuild;
clearInterval(ticker);
const twoPassRssMb = process.memoryUsage().rss / 1e6;
const alone: number[] = [];
for (const q of queries) {
  const t = performance.now();
  twoPass.search(q, 5);
  alone.push(performance.now() - t);
}
searchStats['two passes'] = stats(alone);
// Queries that arrive together (a server's recommendations of one inference batch): the first pass
// of them all is one matrix product. Per query: the batch's time over its size.
const together: number[] = [];
for (let start = 0; start + TOGETHER <= queries.length; start += TOGETHER) {
  const t = performance.now();
  await twoPass.searchMany(queries.slice(start, start + TOGETHER).map((query) => ({ query, k: 5 })));
  together.push((performance.now() - t) / TOGETHER);
}
const togetherStats = stats(together);
searchStats[`two passes, ${TOGETHER} at once (per query)`] = togetherStats;
await twoPass.close();
process.stderr.write(
  `search two passes: p50 ${searchStats['two passes'].p50.toFixed(1)} ms alone, ${togetherStats.p50.toFixed(2)} ms per query ${TOGETHER} at once (built in ${twoPassBuildMs.toFixed(0)} ms, longest pause ${twoPassLongestPauseMs.toFixed(0)} ms, resident size then ${twoPassRssMb.toFixed(0)} MB)\n`,
);

// Per similarity (original, and the index's learned one): opening for service (index files, id
// and filter tables, search vectors), then end to end recommend latency of photos that are not
// byte-identical to any catalogue photo: 224x224 JPEGs, and shoppers' photos (about 400x533).
const photos = readdirSync(queryImages)
  .filter((f) => f.endsWith('.jpg'))
  .sort()
  .slice(0, Number(values.photos))
  .map((f) => join(queryImages, f));
const streetImages = join(datasetsDir, 'street-dev', 'images');
const streetPhotos = readdirSync(streetImages)
  .filter((f) => f.endsWith('.jpg'))
  .sort()
  .slice(0, Number(values.photos))
  .map((f) => join(streetImages, f));

interface SimilarityStats {
  similarity: SimilarityKind;
  /** The two-pass search or full scans (LOOKALIKE_TWO_PASS=0). */
  search: SearchWay;
  dim: number;
  openMs: number;
  modelMs: number;
  recommendMs: ReturnType<typeof stats>;
  streetMs: ReturnType<typeof stats>;
  /** Recommender.nearest alone (search, colour within kind, reasons) with the photos' own vectors. */
  nearestMs: ReturnType<typeof stats>;
  streetNearestMs: ReturnType<typeof stats>;
}
const perSimilarity: SimilarityStats[] = [];
const kinds: SimilarityKind[] =
  recordedSimilarity(data.manifest.similarity)?.kind === 'learned' ? ['original', 'learned'] : ['original'];
type SearchWay = 'two passes' | 'full scans';
const ways = ['two passes', 'full scans'] as const;
for (const similarity of kinds) {
  // Both ways open at once, and each photo is recommended by one and then the other (in turn
  // which first): on a shared machine, their ratio then compares like with like.
  const opened: { recommender: Recommender; openMs: number; modelMs: number }[] = [];
  for (const search of ways) {
    if (search === 'full scans') process.env.LOOKALIKE_TWO_PASS = '0';
    else delete process.env.LOOKALIKE_TWO_PASS;
    const t1 = performance.now();
    const recommender = await Recommender.open(values.index, { similarity });
    const openMs = performance.now() - t1;
    const t2 = performance.now();
    await recommender.getEmbedder();
    const modelMs = performance.now() - t2;
    // (Built in the background from the first search on: here before timing.)
    await recommender.store.searchReady();
    opened.push({ recommender, openMs, modelMs });
  }
  delete process.env.LOOKALIKE_TWO_PASS;
  /** Times `run` on each item with one way and then the other (in turn which first): stats per way. */
  const inTurn = async <T>(items: T[], run: (recommender: Recommender, item: T) => Promise<void>) => {
    const times: number[][] = ways.map(() => []);
    for (const [i, item] of items.entries()) {
      for (const w of i % 2 === 0 ? [0, 1] : [1, 0]) {
        const t = performance.now();
        await run((opened[w] as (typeof opened)[number]).recommender, item);
        (times[w] as number[]).push(performance.now() - t);
      }
    }
    return times.map(stats);
  };
  const timed = async (list: string[]) => {
    for (const { recommender } of opened) await recommender.recommend(list[0] as string);
    return inTurn(list, async (recommender, photo) => {
      const result = await recommender.recommend(photo, { k: 5 });
      if (result.results.length !== 5) throw new Error(`${photo}: ${result.results.length} results`);
    });
  };
  // The search's own share: each photo resolved once, then searched by one way and the other.
  const searchTimed = async (list: string[]) => {
    const first = (opened[0] as (typeof opened)[number]).recommender;
    const resolved = (await first.resolvePhotos(list)).filter(
      (r): r is Exclude<typeof r, ImageError> => !isImageError(r),
    );
    return inTurn(resolved, async (recommender, r) => {
      await recommender.nearest(r.vector, { k: 5 }, [], r.kind);
    });
  };
  const recommendMs = await timed(photos);
  const streetMs = await timed(streetPhotos);
  const nearestMs = await searchTimed(photos);
  const streetNearestMs = await searchTimed(streetPhotos);
  for (const [w, search] of ways.entries()) {
    const { recommender, openMs, modelMs } = opened[w] as (typeof opened)[number];
    const r = recommendMs[w] as ReturnType<typeof stats>;
    const st = streetMs[w] as ReturnType<typeof stats>;
    perSimilarity.push({
      similarity,
      search,
      dim: recommender.manifest.dim,
      openMs,
      modelMs,
      recommendMs: r,
      streetMs: st,
      nearestMs: nearestMs[w] as ReturnType<typeof stats>,
      streetNearestMs: streetNearestMs[w] as ReturnType<typeof stats>,
    });
    process.stderr.write(
      `${similarity}, ${search}: recommend p50 ${r.p50.toFixed(1)} ms, street p50 ${st.p50.toFixed(1)} ms\n`,
    );
    await recommender.close();
  }
}

const cpu = cpus()[0]?.model ?? 'unknown CPU';
const flags = (() => {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('flags'));
    const all = new Set(line?.split(':')[1]?.trim().split(/\s+/) ?? []);
    return (
      ['avx2', 'fma', 'avx512f', 'avx512_vnni', 'avx_vnni'].filter((f) => all.has(f)).join(' ') ||
      'none of avx2/avx512'
    );
  } catch {
    return 'unknown';
  }
})();
const report = {
  index: values.index,
  cpu,
  cpuFlags: flags,
  cores: cpus().length,
  count,
  dim,
  loadMs,
  searchMs: searchStats,
  twoPassBuildMs,
  twoPassLongestPauseMs,
  twoPassRssMb,
  similarities: perSimilarity,
};
if (values.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
else {
  const f = (x: number) => x.toFixed(1);
  process.stdout.write(
    `Index ${values.index}: ${count} vectors x ${dim}; ${cpu} (${flags}), ${cpus().length} cores\n\n`,
  );
  process.stdout.write('| measure | p50 ms | p99 ms | samples |\n|---|---:|---:|---:|\n');
  process.stdout.write(`| index load (files into memory) | ${f(loadMs)} | | 1 |\n`);
  for (const [backend, s] of Object.entries(searchStats)) {
    process.stdout.write(
      `| search only, exact, ${backend}, original vectors | ${f(s.p50)} | ${f(s.p99)} | ${s.n} |\n`,
    );
  }
  process.stdout.write(`| two-pass search: built (in one thread) | ${f(twoPassBuildMs)} | | 1 |\n`);
  process.stdout.write(
    `| two-pass search: longest pause of the event loop while it builds | ${f(twoPassLongestPauseMs)} | | 1 |\n`,
  );
  for (const r of perSimilarity) {
    const name = `${r.similarity}, ${r.search}`;
    process.stdout.write(
      `| ${name}: index open for recommendations (load + tables + ${r.dim}-d search vectors) | ${f(r.openMs)} | | 1 |\n`,
    );
    process.stdout.write(`| ${name}: model load | ${f(r.modelMs)} | | 1 |\n`);
    process.stdout.write(
      `| ${name}: recommend 224x224 JPEG (decode + embed + search) | ${f(r.recommendMs.p50)} | ${f(r.recommendMs.p99)} | ${r.recommendMs.n} |\n`,
    );
    process.stdout.write(
      `| ${name}: recommend shopper photo | ${f(r.streetMs.p50)} | ${f(r.streetMs.p99)} | ${r.streetMs.n} |\n`,
    );
    process.stdout.write(
      `| ${name}: search + re-rank only (Recommender.nearest, the 224x224 JPEGs' own vectors) | ${f(r.nearestMs.p50)} | ${f(r.nearestMs.p99)} | ${r.nearestMs.n} |\n`,
    );
    process.stdout.write(
      `| ${name}: search + re-rank only, shopper photos' vectors | ${f(r.streetNearestMs.p50)} | ${f(r.streetNearestMs.p99)} | ${r.streetNearestMs.n} |\n`,
    );
  }
  const find = (k: SimilarityKind, w: SearchWay) =>
    perSimilarity.find((r) => r.similarity === k && r.search === w);
  const ratio = (a: SimilarityStats | undefined, b: SimilarityStats | undefined, what: string) => {
    if (!a || !b) return;
    process.stdout.write(
      `${what} recommend p50: 224x224 ${(a.recommendMs.p50 / b.recommendMs.p50).toFixed(2)}x, shopper photos ${(a.streetMs.p50 / b.streetMs.p50).toFixed(2)}x\n`,
    );
  };
  process.stdout.write(`\nResident size once the two-pass search was built: ${twoPassRssMb.toFixed(0)} MB\n`);
  ratio(find('learned', 'two passes'), find('original', 'two passes'), 'learned / original (two passes):');
  ratio(find('learned', 'full scans'), find('original', 'full scans'), 'learned / original (full scans):');
  ratio(find('learned', 'two passes'), find('learned', 'full scans'), 'learned, two passes / full scans:');
  ratio(find('original', 'two passes'), find('original', 'full scans'), 'original, two passes / full scans:');
}
