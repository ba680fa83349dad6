/**
 * Embedding throughput on real catalogue photos, decode included, comparing configurations within
 * one run (so that a busy shared machine affects them alike): each configuration embeds the same
 * photos in turns, round after round, and the table gives images/s and the ratio to the first.
 *
 *   npm run bench:embed                         fp32 and int8 at batch 16 and batch 1 (224x224, max pooling)
 *   npm run bench:embed -- --sizes              fp32 and int8 at each input size (128, 160, 192, 224), batch 16
 *   npm run bench:embed -- --poolings           each pooling, fp32 and int8, batch 16
 *   npm run bench:embed -- --contention         alone vs beside one busy process, old and new thread settings
 *   options: --images 256 --rounds 4 --precision int8|fp32 (for --contention) --json
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { Embedder, type EmbedderOptions } from '../src/embeddings/embedder.js';
import { INPUT_SIZES, POOLINGS, PRECISIONS, type Precision } from '../src/embeddings/spec.js';
import { firstCatalogueImages } from '../test/support/datasets.js';
import { describeMachine, machine } from './support/machine.js';

const { values } = parseArgs({
  options: {
    images: { type: 'string', default: '256' },
    rounds: { type: 'string', default: '4' },
    sizes: { type: 'boolean', default: false },
    poolings: { type: 'boolean', default: false },
    contention: { type: 'boolean', default: false },
    precision: { type: 'string', default: 'int8' },
    json: { type: 'boolean', default: false },
  },
});
const count = Number(values.images);
const rounds = Math.max(1, Number(values.rounds));
const photos = firstCatalogueImages(count);
if (!(PRECISIONS as readonly string[]).includes(values.precision as string))
  throw new Error(`--precision must be one of ${PRECISIONS.join(', ')}`);

interface Config {
  name: string;
  options: EmbedderOptions;
  /** Started before this configuration's turn and stopped after it (a competing process). */
  busy?: boolean;
}

interface Row {
  config: string;
  images: number;
  seconds: number;
  imagesPerSecond: number;
  msPerImage: number;
  ratio: number;
}

/** A process that keeps one core busy, pinned to nothing, for the contention measurement. */
function startBusy(): ChildProcess {
  return spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' });
}

/** Each configuration embeds a slice of the photos in turn, for `rounds` rounds; the totals give the rates. */
async function measure(configs: Config[]): Promise<Row[]> {
  const embedders: Embedder[] = [];
  for (const c of configs) {
    const e = await Embedder.create(c.options);
    await e.embedEach(photos.slice(0, Math.min(16, photos.length))); // warm-up
    embedders.push(e);
  }
  const seconds = configs.map(() => 0);
  const done = configs.map(() => 0);
  const per = Math.ceil(photos.length / rounds);
  try {
    for (let r = 0; r < rounds; r++) {
      const slice = photos.slice(r * per, (r + 1) * per);
      if (slice.length === 0) break;
      for (const [i, c] of configs.entries()) {
        const busy = c.busy ? startBusy() : undefined;
        try {
          if (busy) await new Promise((resolve) => setTimeout(resolve, 200));
          const started = performance.now();
          const results = await (embedders[i] as Embedder).embedEach(slice);
          seconds[i] = (seconds[i] as number) + (performance.now() - started) / 1000;
          done[i] = (done[i] as number) + slice.length;
          if (results.some((x) => !(x instanceof Float32Array)))
            throw new Error('a catalogue photo failed to embed');
        } finally {
          busy?.kill('SIGKILL');
        }
      }
      process.stderr.write(`round ${r + 1}/${rounds} done\n`);
    }
  } finally {
    for (const e of embedders) await e.close();
  }
  const rate = (i: number) => (done[i] as number) / (seconds[i] as number);
  return configs.map((c, i) => ({
    config: c.name,
    images: done[i] as number,
    seconds: seconds[i] as number,
    imagesPerSecond: rate(i),
    msPerImage: (1000 * (seconds[i] as number)) / (done[i] as number),
    ratio: rate(i) / rate(0),
  }));
}

function table(title: string, rows: Row[], ratioOf: string): string {
  const lines = [
    title,
    '',
    `| configuration | images/s | ms/image | ratio to ${ratioOf} |`,
    '|---|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.config} | ${r.imagesPerSecond.toFixed(1)} | ${r.msPerImage.toFixed(1)} | ${r.ratio.toFixed(2)} |`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}

const m = machine();
const header = `Machine: ${describeMachine(m)}; ${photos.length} catalogue photos (decode + pre-process + ResNet-50, max pooling unless named), ${rounds} interleaved rounds`;
const output: {
  machine: typeof m;
  tables: { title: string; rows: Row[] }[];
  contention?: { setting: string; busyOverAlone: number }[];
} = { machine: m, tables: [] };

if (values.contention) {
  const precision = values.precision as Precision;
  // Old: onnxruntime's default spinning intra-op threads; new: no spinning, one inter-op thread.
  const settings: [string, EmbedderOptions][] = [
    ['old (spinning)', { precision, spinning: true }],
    ['new (no spinning)', { precision, spinning: false }],
  ];
  // All four in one interleaved run: the machine's other load affects them alike.
  const rows = await measure(
    settings.flatMap(([name, options]) => [
      { name: `${name}, alone`, options },
      { name: `${name}, beside a busy process`, options, busy: true },
    ]),
  );
  output.tables.push({ title: `Threads, ${precision}, batch 16`, rows });
  output.contention = settings.map(([name], i) => ({
    setting: name,
    busyOverAlone: (rows[2 * i + 1] as Row).imagesPerSecond / (rows[2 * i] as Row).imagesPerSecond,
  }));
} else if (values.sizes) {
  const configs: Config[] = PRECISIONS.flatMap((precision) =>
    [...INPUT_SIZES].reverse().map((inputSize) => ({
      name: `${precision} ${inputSize}x${inputSize}`,
      options: { precision, inputSize },
    })),
  );
  output.tables.push({ title: 'Input size and precision, batch 16', rows: await measure(configs) });
} else if (values.poolings) {
  const configs: Config[] = PRECISIONS.flatMap((precision) =>
    POOLINGS.map((pooling) => ({ name: `${precision} ${pooling}`, options: { precision, pooling } })),
  );
  output.tables.push({ title: 'Pooling and precision, batch 16', rows: await measure(configs) });
} else {
  for (const batchSize of [16, 1]) {
    const rows = await measure(
      PRECISIONS.map((precision) => ({
        name: `${precision}, batch ${batchSize}`,
        options: { precision, batchSize },
      })),
    );
    output.tables.push({ title: `Precision, batch ${batchSize}`, rows });
  }
}

if (values.json) process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
else {
  process.stdout.write(`${header}\n\n`);
  for (const t of output.tables) process.stdout.write(`${table(t.title, t.rows, t.rows[0]?.config ?? '')}\n`);
  for (const c of output.contention ?? [])
    process.stdout.write(`${c.setting}: beside a busy process / alone = ${c.busyOverAlone.toFixed(2)}\n`);
}
