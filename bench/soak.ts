/**
 * A soak test of the HTTP API: the real server (child process) over an index, 16 clients mixing
 * uploads, "more like this" and photos for 10 minutes, with a few hostile clients among them
 * (slow uploads, uploads cut off halfway, oversized and malformed bodies, long URLs, huge headers,
 * path tricks). Reports the requests served, the normal clients' errors and latency, what the
 * hostile clients got, and the server's memory (RSS) growth after the warm-up.
 *
 *   npm run bench:soak [-- --index <dir> --duration 600 --clients 16 --hostile 3 --warmup 60 --json]
 *
 * Written by hand: a load generator (autocannon) drives one kind of request; this mixes kinds and
 * speaks raw, broken HTTP on purpose.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { datasetsDir, defaultIndexDir } from '../src/config.js';
import { serveInChild, startChildServer } from './support/child-server.js';

const { values } = parseArgs({
  options: {
    index: { type: 'string', default: defaultIndexDir },
    duration: { type: 'string', default: '600' },
    clients: { type: 'string', default: '16' },
    hostile: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '60' },
    photos: { type: 'string', default: '16' },
    json: { type: 'boolean', default: false },
    serve: { type: 'boolean', default: false },
  },
});

const num = (name: keyof typeof values) => {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a whole number`);
  return n;
};

const BOUNDARY = 'lookalike-soak-boundary';

function multipart(name: string, data: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from(
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="${name}"\r\n` +
        'Content-Type: image/jpeg\r\n\r\n',
    ),
    data,
    Buffer.from(`\r\n--${BOUNDARY}--\r\n`),
  ]);
}

/** Resident memory of a process, in MB (Linux). */
function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0
    ? 0
    : (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number);
}

interface Tally {
  requests: number;
  errors: number;
  errorSamples: string[];
  latencies: number[];
  byKind: Record<string, number>;
}

/** One raw HTTP exchange on its own socket: what the server answered (status) or how the socket ended. */
function raw(
  host: string,
  port: number,
  write: (socket: Socket) => Promise<void>,
  deadlineMs: number,
): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    let answer = '';
    let done = false;
    const finish = (outcome: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => finish('gave up'), deadlineMs);
    socket.on('data', (chunk) => {
      answer += chunk.toString('latin1');
      const status = /^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1];
      if (status) finish(status);
    });
    socket.on('error', () => finish('closed'));
    socket.on('close', () => finish('closed'));
    socket.on('connect', () => {
      write(socket).catch(() => finish('closed'));
    });
  });
}

async function run(): Promise<void> {
  const duration = num('duration');
  const warmup = Math.min(num('warmup'), Math.floor(duration / 2));
  const dir = join(datasetsDir, 'fashion-224', 'images');
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.jpg'))
    .sort();
  const step = Math.max(1, Math.floor(files.length / num('photos')));
  const chosen = Array.from({ length: num('photos') }, (_, i) => files[i * step] as string);
  const uploads = await Promise.all(chosen.map(async (f) => multipart(f, await readFile(join(dir, f)))));
  const ids = chosen.map((f) => f.slice(0, -4));

  const { child, ready, stop } = await startChildServer(fileURLToPath(import.meta.url));
  const base = ready.url.replace(/\/$/, '');
  const { hostname: host, port } = new URL(base);
  const pid = child.pid as number;
  const tally: Tally = { requests: 0, errors: 0, errorSamples: [], latencies: [], byKind: {} };
  const hostileOutcomes: Record<string, Record<string, number>> = {};
  const memory: { at: number; mb: number }[] = [];
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;
  const end = started + duration * 1000;
  let rng = 12345;
  const random = () => {
    rng = (rng * 1103515245 + 12345) % 2 ** 31;
    return rng / 2 ** 31;
  };

  const normal = async () => {
    while (performance.now() < end) {
      const r = random();
      const i = Math.floor(random() * ids.length);
      const kind = r < 0.5 ? 'upload' : r < 0.8 ? 'similar' : 'image';
      const t0 = performance.now();
      try {
        const response =
          kind === 'upload'
            ? await fetch(`${base}/api/recommend?k=5`, {
                method: 'POST',
                headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
                body: new Uint8Array(uploads[i] as Buffer),
              })
            : await fetch(
                kind === 'similar'
                  ? `${base}/api/products/${ids[i]}/similar?k=5`
                  : `${base}/images/${ids[i]}`,
              );
        await response.arrayBuffer();
        tally.requests += 1;
        tally.byKind[kind] = (tally.byKind[kind] ?? 0) + 1;
        tally.latencies.push(performance.now() - t0);
        if (response.status !== 200) {
          tally.errors += 1;
          if (tally.errorSamples.length < 10) tally.errorSamples.push(`${kind}: HTTP ${response.status}`);
        }
      } catch (err) {
        tally.errors += 1;
        if (tally.errorSamples.length < 10) tally.errorSamples.push(`${kind}: ${(err as Error).message}`);
      }
    }
  };

  const head = (method: string, path: string, extra = '') =>
    `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\n${extra}`;
  /** The head of a multipart upload to /api/recommend claiming `length` bytes of body. */
  const uploadHead = (length: number) =>
    head(
      'POST',
      '/api/recommend',
      `Content-Type: multipart/form-data; boundary=${BOUNDARY}\r\nContent-Length: ${length}\r\n\r\n`,
    );
  /** An attack: what it writes on its own socket, and how long it may take. */
  const attack = (write: (s: Socket) => Promise<void>, deadlineMs: number) => () =>
    raw(host, Number(port), write, deadlineMs);
  const attacks: Record<string, () => Promise<string>> = {
    // Headers, then a byte every 500 ms: the server must not give it a model turn, nor wait forever.
    'slow upload': attack(async (s) => {
      s.write(uploadHead(50000));
      for (let i = 0; i < 60 && !s.destroyed; i++) {
        s.write('x');
        await sleep(500);
      }
    }, 40_000),
    'cut-off upload': attack(async (s) => {
      const body = uploads[0] as Buffer;
      s.write(uploadHead(body.length));
      s.write(body.subarray(0, body.length >> 1));
      await sleep(200);
      s.destroy();
    }, 5_000),
    oversized: attack(async (s) => {
      s.write(uploadHead(31457280));
      s.write(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="big.jpg"\r\n\r\n`);
      const chunk = Buffer.alloc(1 << 20, 0xff);
      for (let i = 0; i < 30 && !s.destroyed; i++) {
        if (!s.write(chunk)) await new Promise((r) => s.once('drain', r));
      }
    }, 30_000),
    'no boundary': attack(async (s) => {
      s.write(
        head('POST', '/api/recommend', 'Content-Type: multipart/form-data\r\nContent-Length: 5\r\n\r\nhello'),
      );
    }, 10_000),
    'not an image': attack(async (s) => {
      const body = multipart('x.jpg', Buffer.from('this is not a photo'));
      s.write(uploadHead(body.length));
      s.write(body);
    }, 10_000),
    'long URL': attack(async (s) => {
      s.write(head('GET', `/api/products/${'a'.repeat(20_000)}`, '\r\n'));
    }, 10_000),
    'huge header': attack(async (s) => {
      s.write(head('GET', '/api/health', `X-Junk: ${'j'.repeat(40_000)}\r\n\r\n`));
    }, 10_000),
    'path trick': attack(async (s) => {
      s.write(head('GET', '/images/..%2f..%2f..%2fetc%2fpasswd', '\r\n'));
    }, 10_000),
    'bad k': attack(async (s) => {
      s.write(head('GET', `/api/products/${ids[0]}/similar?k=0x10`, '\r\n'));
    }, 10_000),
  };
  const names = Object.keys(attacks);
  const hostile = async (offset: number) => {
    for (let n = offset; performance.now() < end; n++) {
      const name = names[n % names.length] as string;
      const outcome = await (attacks[name] as () => Promise<string>)();
      hostileOutcomes[name] ??= {};
      const o = hostileOutcomes[name] as Record<string, number>;
      o[outcome] = (o[outcome] ?? 0) + 1;
    }
  };

  const sampler = setInterval(() => memory.push({ at: elapsed(), mb: rssMb(pid) }), 5_000);
  memory.push({ at: 0, mb: rssMb(pid) });
  process.stderr.write(
    `soak: ${num('clients')} clients + ${num('hostile')} hostile for ${duration} s against ${ready.count} products ` +
      `(warm-up ${warmup} s; ${cpus()[0]?.model ?? 'cpu'}, ${cpus().length} cores)\n`,
  );
  const progress = setInterval(() => {
    const last = memory.at(-1);
    process.stderr.write(
      `  ${elapsed().toFixed(0)} s: ${tally.requests} requests, ${tally.errors} errors, server RSS ${last?.mb.toFixed(0)} MB\n`,
    );
  }, 30_000);
  try {
    await Promise.all([
      ...Array.from({ length: num('clients') }, () => normal()),
      ...Array.from({ length: num('hostile') }, (_, i) => hostile(i * 3)),
    ]);
  } finally {
    clearInterval(sampler);
    clearInterval(progress);
  }
  memory.push({ at: elapsed(), mb: rssMb(pid) });
  await stop();

  const afterWarmup = memory.filter((m) => m.at >= warmup);
  const baseline = afterWarmup[0]?.mb ?? 0;
  const final = memory.at(-1)?.mb ?? 0;
  const peak = Math.max(...afterWarmup.map((m) => m.mb));
  const sorted = [...tally.latencies].sort((a, b) => a - b);
  const summary = {
    seconds: Number(elapsed().toFixed(1)),
    clients: num('clients'),
    hostileClients: num('hostile'),
    requests: tally.requests,
    byKind: tally.byKind,
    errors: tally.errors,
    errorSamples: tally.errorSamples,
    latencyMs: { p50: Math.round(percentile(sorted, 50)), p99: Math.round(percentile(sorted, 99)) },
    hostile: hostileOutcomes,
    memoryMb: {
      atWarmupEnd: Math.round(baseline),
      final: Math.round(final),
      peakAfterWarmup: Math.round(peak),
      growthAfterWarmup: Math.round(final - baseline),
    },
  };
  if (values.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  else {
    process.stdout.write(
      [
        `requests:            ${summary.requests} in ${summary.seconds} s (${JSON.stringify(summary.byKind)})`,
        `errors:              ${summary.errors}${summary.errorSamples.length ? ` e.g. ${summary.errorSamples.join('; ')}` : ''}`,
        `latency p50 / p99:   ${summary.latencyMs.p50} / ${summary.latencyMs.p99} ms`,
        `server RSS:          ${summary.memoryMb.atWarmupEnd} MB after warm-up, ${summary.memoryMb.final} MB at the end (peak ${summary.memoryMb.peakAfterWarmup}); growth ${summary.memoryMb.growthAfterWarmup} MB`,
        'hostile clients got:',
        ...Object.entries(hostileOutcomes).map(([name, o]) => `  ${name.padEnd(16)} ${JSON.stringify(o)}`),
        '',
      ].join('\n'),
    );
  }
  if (summary.errors > 0 || summary.memoryMb.growthAfterWarmup >= 50) process.exitCode = 1;
}

if (values.serve) await serveInChild({ index: values.index, maxWaiting: 64 });
else await run();
