/**
 * Approximate nearest-neighbour search against exact search, on synthetic embeddings at scale
 * and on the real index:
 *   - exact: usearch's brute force over the f32 vectors (what ExactSearch does);
 *   - HNSW f16 and HNSW i8 (src/index/hnsw.ts), at several search expansions (ef);
 *   - pgvector's HNSW over halfvec(2048) (2048 dimensions exceed pgvector's 2,000 limit for
 *     `vector` indexes), when a PostgreSQL URL is given, on the first --pg-n vectors, with
 *     usearch HNSW f16 on the same vectors beside it.
 * For each: build time, index size, RSS growth while building, single-query latency p50/p99 (one
 * query at a time, one thread), recall@5 against exact search. The synthetic generator is
 * described in bench/synthetic.ts.
 *
 *   npm run bench:ann [-- --n 250000 --queries 300 --index <dir> --ef 32,64,128,256
 *                         --postgres <url> --pg-n 20000 --datasets synthetic,real --json]
 *
 * --postgres defaults to $LOOKALIKE_TEST_POSTGRES (see scripts/start-postgres.sh). The real
 * index defaults to the project's default index (the whole catalogue once indexed); its queries
 * are some of its own vectors (each query finds itself on both sides).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import usearch, { type BatchMatches } from 'usearch';
import { defaultIndexDir } from '../src/config.js';
import {
  HNSW_DEFAULTS,
  type HnswDtype,
  type HnswParams,
  HnswSearch,
  hnswHardware,
} from '../src/index/hnsw.js';
import { ExactSearch } from '../src/index/search.js';
import { loadIndex, readManifest } from '../src/index/store.js';
import { syntheticEmbeddings } from './synthetic.js';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '250000' },
    queries: { type: 'string', default: '300' },
    index: { type: 'string', default: defaultIndexDir },
    datasets: { type: 'string', default: 'synthetic,real' },
    dtypes: { type: 'string', default: 'f16,i8' },
    ef: { type: 'string', default: '32,64,128,256' },
    connectivity: { type: 'string', default: String(HNSW_DEFAULTS.connectivity) },
    'expansion-add': { type: 'string', default: String(HNSW_DEFAULTS.expansionAdd) },
    threads: { type: 'string' },
    postgres: { type: 'string', default: process.env.LOOKALIKE_TEST_POSTGRES },
    'pg-n': { type: 'string', default: '20000' },
    seed: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
});

const K = 5;
const efs = values.ef.split(',').map(Number);
const dtypes = values.dtypes.split(',') as HnswDtype[];
const datasets = new Set(values.datasets.split(','));
const base: Omit<HnswParams, 'dtype'> = {
  connectivity: Number(values.connectivity),
  expansionAdd: Number(values['expansion-add']),
  expansionSearch: efs[0] ?? HNSW_DEFAULTS.expansionSearch,
};
const threads = values.threads ? Number(values.threads) : undefined;
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
const say = (s: string) => process.stderr.write(`${s}\n`);

interface Row {
  method: string;
  n: number;
  params: string;
  buildSeconds?: number;
  indexBytes?: number;
  rssDeltaBytes?: number;
  p50: number;
  p99: number;
  recall: number;
  note?: string;
}

interface Dataset {
  name: string;
  description: string;
  dim: number;
  vectors: Float32Array;
  /** nq x dim */
  queries: Float32Array;
}

const percentile = (samples: number[], p: number) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
};

/** Resident memory after collecting garbage (native usearch memory is freed by finalisers, a tick later). */
const rss = async () => {
  for (let i = 0; i < 3; i++) {
    gc();
    await setImmediate();
  }
  return process.memoryUsage().rss;
};

function queryList(d: Dataset): Float32Array[] {
  const nq = d.queries.length / d.dim;
  return Array.from({ length: nq }, (_, i) => d.queries.slice(i * d.dim, (i + 1) * d.dim));
}

/** Exact top-K rows of every query (usearch brute force, all cores). */
function groundTruth(vectors: Float32Array, queries: Float32Array, dim: number): Set<number>[] {
  const nq = queries.length / dim;
  const m = usearch.exactSearch(vectors, queries, dim, K, usearch.MetricKind.L2sq) as BatchMatches;
  return Array.from({ length: nq }, (_, i) => {
    const keys = nq === 1 ? m.keys : m.keys.subarray(i * K, (i + 1) * K);
    return new Set(Array.from(keys, Number));
  });
}

/** Latency of one query at a time (after a warm-up), and recall@K. */
async function measure(
  queries: Float32Array[],
  truth: Set<number>[],
  search: (q: Float32Array, i: number) => number[] | Promise<number[]>,
  limit = queries.length,
): Promise<Pick<Row, 'p50' | 'p99' | 'recall'>> {
  for (let i = 0; i < Math.min(10, queries.length); i++) await search(queries[i] as Float32Array, i);
  const times: number[] = [];
  let found = 0;
  const count = Math.min(limit, queries.length);
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    const rows = await search(queries[i] as Float32Array, i);
    times.push(performance.now() - t);
    const want = truth[i] as Set<number>;
    found += rows.filter((r) => want.has(r)).length;
  }
  return { p50: percentile(times, 50), p99: percentile(times, 99), recall: found / (K * count) };
}

async function exactRow(d: Dataset, vectors: Float32Array, truth: Set<number>[]): Promise<Row> {
  const n = vectors.length / d.dim;
  const exact = new ExactSearch(vectors, d.dim, 'usearch');
  const queries = queryList(d);
  const m = await measure(queries, truth, (q) => exact.search(q, K).map((h) => h.row), 100);
  return { method: 'exact (usearch brute force, f32)', n, params: '-', indexBytes: n * d.dim * 4, ...m };
}

async function hnswRows(
  d: Dataset,
  vectors: Float32Array,
  truth: Set<number>[],
  dtype: HnswDtype,
): Promise<Row[]> {
  const n = vectors.length / d.dim;
  const params: HnswParams = { ...base, dtype };
  const before = await rss();
  const started = performance.now();
  let lastReport = 0;
  let graph: HnswSearch | undefined = await HnswSearch.build(vectors, d.dim, params, {
    threads,
    onProgress: (done, total) => {
      if (performance.now() - lastReport > 15_000 || done === total) {
        lastReport = performance.now();
        say(`  HNSW ${dtype}: ${done}/${total} inserted, ${((lastReport - started) / 1000).toFixed(0)} s`);
      }
    },
  });
  const buildSeconds = (performance.now() - started) / 1000;
  const rssDeltaBytes = (await rss()) - before; // the graph is still referenced here
  const dir = await mkdtemp(join(tmpdir(), 'lookalike-ann-'));
  const file = join(dir, `graph-${dtype}.usearch`);
  graph.save(file);
  graph = undefined;
  const indexBytes = (await stat(file)).size;
  const queries = queryList(d);
  const rows: Row[] = [];
  const label = `HNSW ${dtype} (usearch)`;
  const shape = `M=${params.connectivity} efC=${params.expansionAdd}`;
  for (const ef of efs) {
    const g = HnswSearch.open(file, d.dim, params, { view: true, expansionSearch: ef });
    const m = await measure(queries, truth, (q) => g.search(q, K).map((h) => h.row));
    rows.push({ method: label, n, params: `${shape} ef=${ef}`, ...m });
    say(`  ${label} ef=${ef}: recall@5 ${m.recall.toFixed(3)}, p50 ${m.p50.toFixed(2)} ms`);
  }
  if (dtype === 'i8') {
    // Candidates re-scored with the f32 vectors (2 x K fetched), at the default ef.
    const ef = efs.includes(HNSW_DEFAULTS.expansionSearch)
      ? HNSW_DEFAULTS.expansionSearch
      : (efs[0] as number);
    const g = HnswSearch.open(file, d.dim, params, { view: true, expansionSearch: ef, vectors });
    const m = await measure(queries, truth, (q) => g.search(q, K).map((h) => h.row));
    rows.push({ method: `${label} + f32 re-score of 2k`, n, params: `${shape} ef=${ef}`, ...m });
  }
  rows[0] = { ...(rows[0] as Row), buildSeconds, indexBytes, rssDeltaBytes };
  await rm(dir, { recursive: true, force: true });
  gc();
  return rows;
}

/** pgvector's text form, with the precision that halfvec keeps anyway. */
const literal = (v: Float32Array) =>
  `[${Array.from(v, (x) => (x === 0 ? '0' : x.toPrecision(6))).join(',')}]`;

async function pgvectorRows(
  d: Dataset,
  vectors: Float32Array,
  truth: Set<number>[],
  url: string,
): Promise<Row[]> {
  const n = vectors.length / d.dim;
  const client = new pg.Client({ connectionString: url, application_name: 'lookalike-bench-ann' });
  await client.connect();
  try {
    const table = 'lookalike_bench_ann';
    const version = (await client.query("SELECT extversion FROM pg_extension WHERE extname = 'vector'"))
      .rows[0]?.extversion as string | undefined;
    if (!version) throw new Error(`${url}: no "vector" extension (CREATE EXTENSION vector)`);
    await client.query(`DROP TABLE IF EXISTS ${table}`);
    await client.query(
      `CREATE TABLE ${table} (id integer PRIMARY KEY, embedding halfvec(${d.dim}) NOT NULL)`,
    );
    const loadStart = performance.now();
    const batch = 100;
    for (let start = 0; start < n; start += batch) {
      const end = Math.min(n, start + batch);
      const params: (string | number)[] = [];
      const tuples: string[] = [];
      for (let i = start; i < end; i++) {
        params.push(i, literal(vectors.subarray(i * d.dim, (i + 1) * d.dim)));
        tuples.push(`($${params.length - 1}, $${params.length}::halfvec)`);
      }
      await client.query(`INSERT INTO ${table} (id, embedding) VALUES ${tuples.join(',')}`, params);
    }
    const loadSeconds = (performance.now() - loadStart) / 1000;
    say(`  pgvector: loaded ${n} rows in ${loadSeconds.toFixed(1)} s`);
    await client.query(`ANALYZE ${table}`);
    await client.query("SET maintenance_work_mem = '2GB'");
    await client.query('SET max_parallel_maintenance_workers = 1'); // leader + 1 worker: 2 cores
    const buildStart = performance.now();
    await client.query(
      `CREATE INDEX ${table}_hnsw ON ${table} USING hnsw (embedding halfvec_cosine_ops) ` +
        `WITH (m = ${base.connectivity}, ef_construction = ${base.expansionAdd})`,
    );
    const buildSeconds = (performance.now() - buildStart) / 1000;
    const sizes = (
      await client.query(
        `SELECT pg_relation_size('${table}_hnsw')::bigint AS index, pg_total_relation_size('${table}')::bigint AS total`,
      )
    ).rows[0] as { index: string; total: string };
    const sql = `SELECT id FROM ${table} ORDER BY embedding <=> $1::halfvec LIMIT ${K}`;
    const plan = (
      await client.query(`EXPLAIN ${sql.replace('$1', `'${literal(d.queries.subarray(0, d.dim))}'`)}`)
    ).rows
      .map((r) => r['QUERY PLAN'])
      .join('\n');
    if (!/Index Scan using/.test(plan)) say(`  pgvector: the query does not use the HNSW index:\n${plan}`);
    const queries = queryList(d);
    const literals = queries.map(literal);
    const rows: Row[] = [];
    const shape = `m=${base.connectivity} ef_construction=${base.expansionAdd}`;
    for (const ef of efs) {
      await client.query(`SET hnsw.ef_search = ${ef}`);
      const m = await measure(queries, truth, async (_q, i) => {
        const r = await client.query({ name: `ann-${ef}`, text: sql, values: [literals[i]] });
        return r.rows.map((row) => Number(row.id));
      });
      rows.push({
        method: `pgvector ${version} HNSW halfvec`,
        n,
        params: `${shape} ef_search=${ef}`,
        ...m,
      });
      say(`  pgvector ef_search=${ef}: recall@5 ${m.recall.toFixed(3)}, p50 ${m.p50.toFixed(2)} ms`);
    }
    rows[0] = {
      ...(rows[0] as Row),
      buildSeconds,
      indexBytes: Number(sizes.index),
      note: `load (INSERT) ${loadSeconds.toFixed(0)} s; table + TOAST + indexes ${mib(Number(sizes.total))} MiB; latency is a client round trip`,
    };
    await client.query(`DROP TABLE ${table}`);
    return rows;
  } finally {
    await client.end();
  }
}

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

function table(rows: Row[]): string {
  const lines = [
    '| method | n | parameters | build s | index MiB | RSS Δ MiB | p50 ms | p99 ms | recall@5 |',
    '|---|---:|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.method} | ${r.n.toLocaleString('en')} | ${r.params} | ${r.buildSeconds?.toFixed(1) ?? ''} | ` +
        `${r.indexBytes !== undefined ? mib(r.indexBytes) : ''} | ` +
        `${r.rssDeltaBytes !== undefined ? mib(r.rssDeltaBytes) : ''} | ` +
        `${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.recall.toFixed(3)} |`,
    );
  }
  const notes = rows.filter((r) => r.note).map((r) => `- ${r.method}: ${r.note}`);
  return `${lines.join('\n')}\n${notes.length ? `\n${notes.join('\n')}\n` : ''}`;
}

async function benchDataset(d: Dataset): Promise<Row[]> {
  const n = d.vectors.length / d.dim;
  say(d.description);
  let t = performance.now();
  const truth = groundTruth(d.vectors, d.queries, d.dim);
  say(`  ground truth in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const rows: Row[] = [await exactRow(d, d.vectors, truth)];
  for (const dtype of dtypes) rows.push(...(await hnswRows(d, d.vectors, truth, dtype)));
  if (values.postgres) {
    const pgN = Math.min(n, Number(values['pg-n']));
    const subset = d.vectors.slice(0, pgN * d.dim);
    t = performance.now();
    const subTruth = groundTruth(subset, d.queries, d.dim);
    say(
      `  pgvector comparison on the first ${pgN} vectors (ground truth in ${((performance.now() - t) / 1000).toFixed(1)} s)`,
    );
    rows.push(await exactRow(d, subset, subTruth));
    rows.push(...(await hnswRows(d, subset, subTruth, 'f16')));
    rows.push(...(await pgvectorRows(d, subset, subTruth, values.postgres)));
  }
  return rows;
}

const report: { dataset: string; description: string; rows: Row[] }[] = [];
const cpu = cpus();
const header =
  `Machine: ${cpu.length} x ${cpu[0]?.model ?? 'cpu'}; Node ${process.version}; usearch SIMD targets: ${hnswHardware()}. ` +
  `Queries one at a time on one thread; recall@${K} against exact f32 search.`;
say(header);

if (datasets.has('synthetic')) {
  const n = Number(values.n);
  const t = performance.now();
  const s = syntheticEmbeddings({ n, queries: Number(values.queries), seed: Number(values.seed) });
  const description =
    `synthetic: ${n.toLocaleString('en')} x ${s.dim} clustered embeddings (${s.clusters} clusters, bench/synthetic.ts), ` +
    `${s.queries.length / s.dim} held-out queries; generated in ${((performance.now() - t) / 1000).toFixed(0)} s`;
  const d: Dataset = { name: 'synthetic', description, dim: s.dim, vectors: s.vectors, queries: s.queries };
  report.push({ dataset: d.name, description, rows: await benchDataset(d) });
  gc();
}

if (datasets.has('real')) {
  const manifest = existsSync(values.index) ? await readManifest(values.index) : undefined;
  if (!manifest)
    say(`real: no index at ${values.index}; skipped (build one with lookalike index, or pass --index)`);
  else {
    const data = await loadIndex(values.index);
    const { count, dim } = data.manifest;
    const nq = Math.min(Number(values.queries), count);
    const queries = new Float32Array(nq * dim);
    for (let i = 0; i < nq; i++) {
      const row = Math.floor((i * count) / nq);
      queries.set(data.vectors.subarray(row * dim, (row + 1) * dim), i * dim);
    }
    const description =
      `real: the index at ${values.index}, ${count.toLocaleString('en')} x ${dim} ` +
      `(${data.manifest.spec.pooling} pooling); ${nq} of its own vectors as queries (each finds itself)`;
    const d: Dataset = { name: 'real', description, dim, vectors: data.vectors, queries };
    report.push({ dataset: d.name, description, rows: await benchDataset(d) });
  }
}

if (values.json) process.stdout.write(`${JSON.stringify({ header, report }, null, 2)}\n`);
else {
  process.stdout.write(`${header}\n`);
  for (const r of report) process.stdout.write(`\n### ${r.description}\n\n${table(r.rows)}`);
}
