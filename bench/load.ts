/**
 * Load test of the HTTP API: the real server (in a child process, so that the load generator
 * does not share its event loop) over an index, and autocannon driving POST /api/recommend with
 * real 224x224 catalogue photos, rotating among several. In one run: the model's own batch-16
 * throughput on the same photos (in this process, with no server running, before and after);
 * two servers, one with the default batch wait and one with none, between which one client alone
 * takes turns; then --connections clients on the default one. So the ratios hold on a shared machine.
 * Where /proc can tell (Linux), it also prints the CPU time each request took on the server's main
 * thread and on its other threads, and how many cores the server and the load generator kept busy.
 *
 *   npm run bench:load [-- --index <dir> --similarity learned|original --search exact|hnsw --connections 16 --duration 30 --single-duration 5 --single-rounds 3 --photos 64 --profile <file.cpuprofile> --json]
 *
 * --profile writes a CPU profile of the server's main thread during the clients' run (open it in
 * Chrome's DevTools) and prints where its time went.
 */
import type { ChildProcess, Serializable } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { datasetsDir, defaultIndexDir } from '../src/config.js';
import { describeSpec, Embedder, optionsForSpec } from '../src/embeddings/embedder.js';
import { readStoreSpec } from '../src/index/location/open.js';
import { SEARCH_MODES, type SearchMode } from '../src/index/port.js';
import { SIMILARITIES, type SimilarityKind } from '../src/similarity/model.js';
import { serveInChild, startChildServer } from './support/child-server.js';
import { profileParts } from './support/cpu-profile.js';
import { describeMachine, machine } from './support/machine.js';

const { values } = parseArgs({
  options: {
    index: { type: 'string', default: defaultIndexDir },
    connections: { type: 'string', default: '16' },
    duration: { type: 'string', default: '30' },
    photos: { type: 'string', default: '64' },
    'single-duration': { type: 'string', default: '5' },
    'single-rounds': { type: 'string', default: '3' },
    timeout: { type: 'string', default: '30' },
    queue: { type: 'string', default: '64' },
    json: { type: 'boolean', default: false },
    serve: { type: 'boolean', default: false },
    similarity: { type: 'string' },
    search: { type: 'string' },
    profile: { type: 'string' },
  },
});
if (values.similarity !== undefined && !(SIMILARITIES as readonly string[]).includes(values.similarity)) {
  throw new Error(`--similarity must be one of ${SIMILARITIES.join(', ')}`);
}
if (values.search !== undefined && !(SEARCH_MODES as readonly string[]).includes(values.search)) {
  throw new Error(`--search must be one of ${SEARCH_MODES.join(', ')}`);
}

function positive(name: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer (got ${value})`);
  return n;
}

/** `count` photos spread over the fashion-224 set, each as a complete multipart body. */
async function uploadBodies(
  count: number,
  boundary: string,
): Promise<{ name: string; path: string; body: Buffer }[]> {
  const dir = join(datasetsDir, 'fashion-224', 'images');
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.jpg'))
    .sort();
  const step = Math.max(1, Math.floor(files.length / count));
  const chosen = Array.from({ length: Math.min(count, files.length) }, (_, i) => files[i * step] as string);
  return Promise.all(
    chosen.map(async (name) => ({
      name,
      path: join(dir, name),
      body: Buffer.concat([
        Buffer.from(
          `--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="${name}"\r\n` +
            'Content-Type: image/jpeg\r\n\r\n',
        ),
        await readFile(join(dir, name)),
        Buffer.from(`\r\n--${boundary}--\r\n`),
      ]),
    })),
  );
}

interface LoadFigures {
  connections: number;
  durationSeconds: number;
  requests: number;
  requestsPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  byStatus: Record<string, number>;
  /** Photos the model embedded per second (a learned similarity with test-time flip embeds 2 per request). */
  modelImagesPerSecond: number;
  /** Mean photos per inference call. */
  meanBatch: number;
  /** Share of the run's wall time the model spent in inference calls. */
  modelBusyShare: number;
  /**
   * CPU time per request: the server's main thread (HTTP, search, scoring), its other threads
   * (the model's, decoding, garbage collection), and this process (the load generator); where
   * /proc can tell (Linux).
   */
  cpuMsPerRequest?: { serverMain: number; serverOther: number; loadGenerator: number };
  /** Cores kept busy on average by the server and by the load generator (of the machine's). */
  busyCores?: { server: number; loadGenerator: number };
}

/** CPU seconds of a process so far, all threads (those ended included) and its main thread alone. */
function processCpu(pid: number | undefined): { total: number; main: number } | undefined {
  if (pid === undefined) return undefined;
  // utime and stime, in clock ticks (USER_HZ, 100 on Linux), after the command name's ')'.
  const seconds = (path: string) => {
    const stat = readFileSync(path, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  };
  try {
    return { total: seconds(`/proc/${pid}/stat`), main: seconds(`/proc/${pid}/task/${pid}/stat`) };
  } catch {
    return undefined;
  }
}

type Timings = { inferenceCalls: number; imagesInferred: number; inferenceMs: number };

/** Sends the server a message and waits for its reply: the first message that has `key`. */
function askChild<T>(child: ChildProcess, message: Serializable, key: string): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: unknown) => {
      if (typeof m !== 'object' || m === null || !(key in m)) return;
      child.off('message', on);
      resolve((m as Record<string, T>)[key] as T);
    };
    child.on('message', on);
    child.send(message);
  });
}

const childTimings = (child: ChildProcess) => askChild<Timings>(child, 'timings', 'timings');

/** Embeds the upload photos with the index's own spec at batch 16 in this process: the rate to compare with. */
async function embedThroughput(photos: string[]): Promise<{ imagesPerSecond: number; spec: string }> {
  const spec = await readStoreSpec(values.index);
  const embedder = await Embedder.create({ ...(spec ? optionsForSpec(spec) : {}), batchSize: 16 });
  try {
    const batch = Array.from({ length: 64 }, (_, i) => photos[i % photos.length] as string);
    await embedder.embed(batch.slice(0, 16)); // warm-up
    const started = performance.now();
    await embedder.embed(batch);
    return {
      imagesPerSecond: batch.length / ((performance.now() - started) / 1000),
      spec: describeSpec(embedder.spec),
    };
  } finally {
    await embedder.close();
  }
}

type Upload = { name: string; path: string; body: Buffer };
type Server = Awaited<ReturnType<typeof startChildServer>> & { batchWaitMs?: number };

/** A server in a child process (LOOKALIKE_BATCH_WAIT_MS as given), checked and warmed with every photo once. */
async function startLoadServer(uploads: Upload[], boundary: string, batchWaitMs?: number): Promise<Server> {
  if (batchWaitMs === undefined) delete process.env.LOOKALIKE_BATCH_WAIT_MS;
  else process.env.LOOKALIKE_BATCH_WAIT_MS = String(batchWaitMs);
  const server = await startChildServer(fileURLToPath(import.meta.url));
  const headers = { 'content-type': `multipart/form-data; boundary=${boundary}` };
  for (const { name, body } of uploads) {
    const response = await fetch(`${server.ready.url}api/recommend`, {
      method: 'POST',
      headers,
      body: new Uint8Array(body),
    });
    if (response.status !== 200) {
      await server.stop();
      throw new Error(`${name}: HTTP ${response.status} ${await response.text()}`);
    }
  }
  return { ...server, batchWaitMs };
}

/** `connections` clients POST the photos in turn to one server for `duration` seconds. */
async function drive(
  server: Server,
  uploads: Upload[],
  boundary: string,
  connections: number,
  duration: number,
  /** A .cpuprofile to write of the server's main thread during the run. */
  profileTo?: string,
): Promise<LoadFigures> {
  const url = `${server.ready.url}api/recommend`;
  const headers = { 'content-type': `multipart/form-data; boundary=${boundary}` };
  process.stderr.write(
    `POST /api/recommend: ${connections} connection(s) for ${duration} s, rotating ${uploads.length} photos ` +
      `(index of ${server.ready.count} products, ${values.similarity ?? "the index's own"} similarity, ${values.search ?? 'exact'} search, model on ${server.ready.device}, ` +
      `batch wait ${server.batchWaitMs ?? 'default'} ms)\n`,
  );
  if (profileTo) await askChild(server.child, 'profile-start', 'profiling');
  const before = await childTimings(server.child);
  const cpuBefore = processCpu(server.child.pid);
  const ownBefore = process.cpuUsage();
  let next = 0;
  const result = await autocannon({
    url,
    method: 'POST',
    connections,
    duration,
    timeout: positive('timeout', values.timeout),
    headers,
    requests: [
      {
        setupRequest: (request) => {
          const upload = uploads[next++ % uploads.length] as { body: Buffer };
          return { ...request, method: 'POST', headers, body: upload.body };
        },
      },
    ],
  });
  const own = process.cpuUsage(ownBefore);
  const cpuAfter = processCpu(server.child.pid);
  const after = await childTimings(server.child);
  if (profileTo) await askChild(server.child, { profileTo }, 'profiled');
  const images = after.imagesInferred - before.imagesInferred;
  const calls = after.inferenceCalls - before.inferenceCalls;
  const requests = Math.max(1, result.requests.total);
  const ownSeconds = (own.user + own.system) / 1e6;
  const cpu =
    cpuBefore && cpuAfter
      ? {
          cpuMsPerRequest: {
            serverMain: ((cpuAfter.main - cpuBefore.main) * 1000) / requests,
            serverOther:
              ((cpuAfter.total - cpuAfter.main - (cpuBefore.total - cpuBefore.main)) * 1000) / requests,
            loadGenerator: (ownSeconds * 1000) / requests,
          },
          busyCores: {
            server: (cpuAfter.total - cpuBefore.total) / result.duration,
            loadGenerator: ownSeconds / result.duration,
          },
        }
      : {};
  return {
    connections,
    durationSeconds: result.duration,
    requests: result.requests.total,
    requestsPerSecond: result.requests.total / result.duration,
    latencyMs: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
    },
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    byStatus: Object.fromEntries(
      Object.entries(result.statusCodeStats ?? {}).map(([code, s]) => [code, s.count ?? 0]),
    ),
    modelImagesPerSecond: images / result.duration,
    meanBatch: calls > 0 ? images / calls : 0,
    modelBusyShare: (after.inferenceMs - before.inferenceMs) / (result.duration * 1000),
    ...cpu,
  };
}

const median = (xs: number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

async function run(): Promise<void> {
  const connections = positive('connections', values.connections);
  const duration = positive('duration', values.duration);
  const singleDuration = positive('single-duration', values['single-duration']);
  const singleRounds = positive('single-rounds', values['single-rounds']);
  const boundary = 'lookalike-load-boundary';
  const uploads = await uploadBodies(positive('photos', values.photos), boundary);
  const profileFile = values.profile === undefined ? undefined : resolvePath(values.profile);
  const m = machine();

  // 1. The model alone, same photos, same spec, batch 16: what the server is compared with
  // (measured again at the end; the mean of the two is the reference, on a machine whose load may drift).
  const embedBefore = await embedThroughput(uploads.map((u) => u.path));
  process.stderr.write(`embedding alone (batch 16): ${embedBefore.imagesPerSecond.toFixed(1)} images/s\n`);
  // 2. Two servers: the default batch wait, and none. One client alone takes turns between them
  // (so that drifting load affects both alike); then `connections` clients on the default one.
  const withWait = await startLoadServer(uploads, boundary);
  const noWait = await startLoadServer(uploads, boundary, 0).catch(async (err) => {
    await withWait.stop();
    throw err;
  });
  const singles: LoadFigures[] = [];
  const singlesNoWait: LoadFigures[] = [];
  let many: LoadFigures;
  try {
    for (let r = 0; r < singleRounds; r++) {
      singles.push(await drive(withWait, uploads, boundary, 1, singleDuration));
      singlesNoWait.push(await drive(noWait, uploads, boundary, 1, singleDuration));
    }
    many = await drive(withWait, uploads, boundary, connections, duration, profileFile);
  } finally {
    await withWait.stop();
    await noWait.stop();
  }
  const embedAfter = await embedThroughput(uploads.map((u) => u.path));
  const embed = {
    spec: embedBefore.spec,
    imagesPerSecond: (embedBefore.imagesPerSecond + embedAfter.imagesPerSecond) / 2,
  };
  const single = {
    p50: median(singles.map((x) => x.latencyMs.p50)),
    p99: median(singles.map((x) => x.latencyMs.p99)),
  };
  const singleNoWait = {
    p50: median(singlesNoWait.map((x) => x.latencyMs.p50)),
    p99: median(singlesNoWait.map((x) => x.latencyMs.p99)),
  };
  const summary = {
    machine: m,
    spec: embed.spec,
    indexCount: withWait.ready.count,
    device: withWait.ready.device,
    photos: uploads.length,
    similarity: values.similarity ?? 'index',
    search: values.search ?? 'exact',
    embedImagesPerSecond: embed.imagesPerSecond,
    embedBeforeAfter: [embedBefore.imagesPerSecond, embedAfter.imagesPerSecond],
    load: many,
    ratioRequestsToEmbed: many.requestsPerSecond / embed.imagesPerSecond,
    ratioModelImagesToEmbed: many.modelImagesPerSecond / embed.imagesPerSecond,
    single,
    singleNoWait,
    singleP50Ratio: single.p50 / singleNoWait.p50,
    singleRounds: { withWait: singles, noWait: singlesNoWait },
    mainThreadProfile: profileFile
      ? { file: profileFile, ...profileParts(JSON.parse(await readFile(profileFile, 'utf8'))) }
      : undefined,
  };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  } else {
    const f = (x: number) => x.toFixed(2);
    process.stdout.write(
      [
        `Machine:         ${describeMachine(m)}`,
        `Index:           ${summary.indexCount} products (${embed.spec}), ${values.similarity ?? "the index's own"} similarity, ${values.search ?? 'exact'} search, model on ${summary.device}`,
        `embed batch 16:  ${f(embed.imagesPerSecond)} images/s (same photos, this process, no server running; ${f(embedBefore.imagesPerSecond)} before, ${f(embedAfter.imagesPerSecond)} after)`,
        '',
        `${connections} clients, ${many.durationSeconds.toFixed(1)} s:`,
        `  requests/s:    ${f(many.requestsPerSecond)}  (${f(summary.ratioRequestsToEmbed)}x embed batch 16)`,
        `  model images/s ${f(many.modelImagesPerSecond)}  (${f(summary.ratioModelImagesToEmbed)}x; ${f(many.modelImagesPerSecond / Math.max(many.requestsPerSecond, 1e-9))} photos per request, mean batch ${f(many.meanBatch)}, model busy ${(100 * many.modelBusyShare).toFixed(0)}% of the time)`,
        `  latency p50:   ${many.latencyMs.p50} ms, p99: ${many.latencyMs.p99} ms (max ${many.latencyMs.max} ms)`,
        ...(many.cpuMsPerRequest && many.busyCores
          ? [
              `  CPU/request:   server main thread ${f(many.cpuMsPerRequest.serverMain)} ms, its other threads (model, decoding, GC) ${f(many.cpuMsPerRequest.serverOther)} ms; load generator ${f(many.cpuMsPerRequest.loadGenerator)} ms`,
              `  busy cores:    server ${f(many.busyCores.server)}, load generator ${f(many.busyCores.loadGenerator)} (of ${m.cores})`,
            ]
          : []),
        `  errors:        ${many.errors} (timeouts ${many.timeouts}), non-2xx ${many.non2xx} ${JSON.stringify(many.byStatus)}`,
        ...(summary.mainThreadProfile
          ? [
              `  main thread, self time by part (${summary.mainThreadProfile.file}; ms per request, share of the run):`,
              ...summary.mainThreadProfile.parts
                .slice(0, 16)
                .map(
                  (p) =>
                    `    ${p.part.padEnd(34)} ${f(p.ms / Math.max(1, many.requests)).padStart(6)} ms  ${(100 * p.share).toFixed(1).padStart(5)}%`,
                ),
            ]
          : []),
        '',
        `1 client alone (${singleRounds} alternating rounds of ${singleDuration} s per server; medians):`,
        `  default batch wait: p50 ${single.p50} ms, p99 ${single.p99} ms`,
        `  batch wait 0:       p50 ${singleNoWait.p50} ms, p99 ${singleNoWait.p99} ms`,
        `  p50 ratio (default / no wait): ${f(summary.singleP50Ratio)}`,
        '',
      ].join('\n'),
    );
  }
  if ([...singles, ...singlesNoWait, many].some((x) => x.errors > 0 || x.non2xx > 0)) process.exitCode = 1;
}

if (values.serve) {
  await serveInChild({
    index: values.index,
    similarity: values.similarity as SimilarityKind | undefined,
    search: values.search as SearchMode | undefined,
    maxWaiting: positive('queue', values.queue),
  });
} else await run();
