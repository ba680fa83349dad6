/**
 * From nothing to the first recommendation, as a new user's `npm start` does it once the
 * dependencies are installed: `lookalike serve --catalogue` with an empty cache (weights fetched,
 * model converted, catalogue planned, first photos embedded), timed to its first answered search;
 * then, with --until done, on to the end of the background indexing of the whole catalogue.
 *
 *   npm run build && npm run bench:first-start [-- --until done --json]
 *
 * The cache (weights, models, index) is a new temporary folder unless --cache is given.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { datasetsDir, projectRoot } from '../src/config.js';
import { describeMachine, machine } from './support/machine.js';

const { values } = parseArgs({
  options: {
    until: { type: 'string', default: 'first' },
    cache: { type: 'string' },
    images: { type: 'string', default: join(datasetsDir, 'fashion-small', 'images') },
    metadata: { type: 'string', default: join(datasetsDir, 'fashion-small', 'styles.csv') },
    'shopper-photos': { type: 'string', default: join(datasetsDir, 'street-dev') },
    query: { type: 'string', default: join(datasetsDir, 'fashion-224', 'images', '15970.jpg') },
    json: { type: 'boolean', default: false },
  },
});
if (values.until !== 'first' && values.until !== 'done') throw new Error('--until is first or done');

const cache = values.cache ?? (await mkdtemp(join(tmpdir(), 'lookalike-first-start-')));
const started = performance.now();
const seconds = () => Math.round((performance.now() - started) / 100) / 10;
const marks: Record<string, number> = {};
const child = spawn(
  process.execPath,
  [
    join(projectRoot, 'bin', 'lookalike.js'),
    'serve',
    '--catalogue',
    values.images,
    '--metadata',
    values.metadata,
    '--shopper-photos',
    values['shopper-photos'],
    '--port',
    '0',
  ],
  {
    env: { ...process.env, LOOKALIKE_CACHE: cache, LOOKALIKE_INDEX: join(cache, 'index') },
    stdio: ['ignore', 'pipe', 'pipe'],
  },
);
let stdout = '';
let stderr = '';
child.stdout.on('data', (chunk: Buffer) => {
  stdout += chunk;
});
child.stderr.on('data', (chunk: Buffer) => {
  stderr += chunk;
  process.stderr.write(chunk);
  if (marks.firstGeneration === undefined && /published \d+ of/.test(stderr))
    marks.firstGeneration = seconds();
});
const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function until<T>(what: string, test: () => Promise<T | undefined>): Promise<T> {
  for (;;) {
    const found = await test();
    if (found !== undefined) return found;
    const code = await Promise.race([exited, sleep(250).then(() => 'running' as const)]);
    if (code !== 'running') throw new Error(`serve exited (${code}) before ${what}:\n${stderr.slice(-4000)}`);
  }
}

try {
  const url = await until('listening', async () => /open (http:\/\/\S+?)\/? /.exec(stdout)?.[1]);
  marks.listening = seconds();
  const photo = await readFile(values.query);
  await until('the first recommendation', async () => {
    const form = new FormData();
    form.append('image', new Blob([photo], { type: 'image/jpeg' }), 'query.jpg');
    const answer = await fetch(`${url}/api/recommend`, { method: 'POST', body: form }).catch(() => undefined);
    return answer?.status === 200 ? true : undefined;
  });
  marks.firstRecommendation = seconds();
  let health: { index: { count: number; similarity: string }; indexing?: { state: string } } | undefined;
  if (values.until === 'done') {
    const rates: number[] = [];
    health = await until('the end of indexing', async () => {
      const h = (await (await fetch(`${url}/api/health`)).json()) as typeof health & {
        indexing?: { state: string; rate: number | null };
      };
      if (h?.indexing?.rate) rates.push(h.indexing.rate);
      if (h?.indexing?.state === 'learning' && marks.embedded === undefined) marks.embedded = seconds();
      if (h?.indexing?.state === 'failed') throw new Error(`indexing failed: ${JSON.stringify(h.indexing)}`);
      if (h?.indexing?.state !== 'done') {
        await sleep(2000);
        return undefined;
      }
      return h;
    });
    marks.done = seconds();
  }
  const report = { machine: machine(), cache, seconds: marks, index: health?.index };
  if (values.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else {
    process.stdout.write(`first start on ${describeMachine(report.machine)}\n`);
    for (const [mark, s] of Object.entries(marks)) process.stdout.write(`  ${mark}: ${s.toFixed(1)} s\n`);
    if (health)
      process.stdout.write(`  products: ${health.index.count}, similarity ${health.index.similarity}\n`);
  }
} finally {
  child.kill('SIGTERM');
  await exited;
  if (!values.cache) await rm(cache, { recursive: true, force: true });
}
