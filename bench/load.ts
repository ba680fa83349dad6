/**
 * Load test of the HTTP API: the real server (in a child process, so that the load generator
 * does not share its event loop) over an index, and autocannon driving POST /api/recommend with
 * real 224x224 catalogue photos, rotating among several.
 *
 *   npm run bench:load [-- --index <dir> --similarity learned|original --connections 16 --duration 30 --photos 8 --json]
 */
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { datasetsDir, defaultIndexDir } from '../src/config.js';
import { SIMILARITIES, type SimilarityKind } from '../src/similarity/model.js';
import { serveInChild, startChildServer } from './support/child-server.js';

const { values } = parseArgs({
  options: {
    index: { type: 'string', default: defaultIndexDir },
    connections: { type: 'string', default: '16' },
    duration: { type: 'string', default: '30' },
    photos: { type: 'string', default: '8' },
    timeout: { type: 'string', default: '30' },
    queue: { type: 'string', default: '64' },
    json: { type: 'boolean', default: false },
    serve: { type: 'boolean', default: false },
    similarity: { type: 'string' },
  },
});
if (values.similarity !== undefined && !(SIMILARITIES as readonly string[]).includes(values.similarity)) {
  throw new Error(`--similarity must be one of ${SIMILARITIES.join(', ')}`);
}

function positive(name: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer (got ${value})`);
  return n;
}

/** `count` photos spread over the fashion-224 set, each as a complete multipart body. */
async function uploadBodies(count: number, boundary: string): Promise<{ name: string; body: Buffer }[]> {
  const dir = join(datasetsDir, 'fashion-224', 'images');
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.jpg'))
    .sort();
  const step = Math.max(1, Math.floor(files.length / count));
  const chosen = Array.from({ length: Math.min(count, files.length) }, (_, i) => files[i * step] as string);
  return Promise.all(
    chosen.map(async (name) => ({
      name,
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

async function run(): Promise<void> {
  const connections = positive('connections', values.connections);
  const duration = positive('duration', values.duration);
  const boundary = 'lookalike-load-boundary';
  const uploads = await uploadBodies(positive('photos', values.photos), boundary);

  const { ready, stop } = await startChildServer(fileURLToPath(import.meta.url));
  try {
    const url = `${ready.url}api/recommend`;
    const headers = { 'content-type': `multipart/form-data; boundary=${boundary}` };

    // Every photo once, to check the answers and to warm the model up.
    for (const { name, body } of uploads) {
      const response = await fetch(url, { method: 'POST', headers, body: new Uint8Array(body) });
      if (response.status !== 200)
        throw new Error(`${name}: HTTP ${response.status} ${await response.text()}`);
    }

    process.stderr.write(
      `POST /api/recommend: ${connections} connections for ${duration} s, rotating ${uploads.length} photos ` +
        `(index of ${ready.count} products, ${values.similarity ?? "the index's own"} similarity, model on ${ready.device})\n`,
    );
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

    const byStatus = Object.fromEntries(
      Object.entries(result.statusCodeStats ?? {}).map(([code, s]) => [code, s.count ?? 0]),
    );
    const summary = {
      connections,
      durationSeconds: result.duration,
      photos: uploads.length,
      indexCount: ready.count,
      device: ready.device,
      requests: result.requests.total,
      requestsPerSecond: Number(result.requests.average.toFixed(2)),
      latencyMs: {
        p50: result.latency.p50,
        p90: result.latency.p90,
        p99: result.latency.p99,
        max: result.latency.max,
      },
      errors: result.errors,
      timeouts: result.timeouts,
      non2xx: result.non2xx,
      byStatus,
    };
    if (values.json) {
      process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    } else {
      process.stdout.write(
        [
          `requests:        ${summary.requests} in ${summary.durationSeconds.toFixed(1)} s`,
          `requests/s:      ${summary.requestsPerSecond}`,
          `latency p50:     ${summary.latencyMs.p50} ms`,
          `latency p99:     ${summary.latencyMs.p99} ms (max ${summary.latencyMs.max} ms)`,
          `errors:          ${summary.errors} (timeouts ${summary.timeouts})`,
          `non-2xx:         ${summary.non2xx}`,
          `by status:       ${JSON.stringify(byStatus)}`,
          '',
        ].join('\n'),
      );
    }
    if (summary.errors > 0 || summary.non2xx > 0) process.exitCode = 1;
  } finally {
    await stop();
  }
}

if (values.serve) {
  await serveInChild({
    index: values.index,
    similarity: values.similarity as SimilarityKind | undefined,
    maxWaiting: positive('queue', values.queue),
  });
} else await run();
