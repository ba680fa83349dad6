/**
 * `lookalike eval`: recommendation quality of an index (leave-one-out label precision, and with
 * --queries exact-product recall), with an HTML report; `lookalike eval --sweep`: the same over
 * embedding configurations on a fixed stratified subset of a catalogue.
 */
import { join, resolve } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { defaultIndexDir } from '../../../config.js';
import { DEVICES, type Device } from '../../../embeddings/runtime.js';
import { DEFAULT_MAX_QUERIES, evaluate } from '../../../evaluation/evaluate.js';
import { metricsText, sweepTable } from '../../../evaluation/format.js';
import { writeReport } from '../../../evaluation/report.js';
import {
  defaultWorkDir,
  EXTRA_CONFIGS,
  parseConfigs,
  runSweep,
  SWEEP_CONFIGS,
} from '../../../evaluation/sweep.js';
import type { QueryPrep } from '../../../images/query-prep.js';
import { localFolder } from '../../../index/location/open.js';
import { log } from '../../../log.js';
import { type FusionWeights, SIMILARITIES, type SimilarityKind } from '../../../similarity/model.js';
import { EXIT_PARTIAL } from '../exit.js';
import { parseQueryPrep, parseWeights, positiveInt } from '../options.js';
import { stagedProgress } from '../progress.js';

interface Flags {
  index: string;
  queries?: string;
  street?: string;
  similarity?: SimilarityKind;
  weights?: FusionWeights;
  shopperWeights?: FusionWeights;
  queryPrep?: QueryPrep;
  /** false with --no-runner-up. */
  runnerUp: boolean;
  /** false with --no-colour-within-kind. */
  colourWithinKind: boolean;
  maxQueries: number;
  seed: number;
  report: string | boolean;
  samples: number;
  json?: boolean;
  sweep?: boolean;
  images?: string;
  metadata?: string;
  subset?: number;
  configs?: string;
  work?: string;
  device: Device;
  batchSize: number;
  threads?: number;
}

function nonNegativeInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff)
      throw new InvalidArgumentError(`${name} must be an integer from 0 to ${0xffffffff}.`);
    return n;
  };
}

const UNITS: Record<string, string> = {
  'leave-one-out': 'queries',
  embedding: 'query photos',
  street: 'street photos',
};

/** The query photos and the seed that samples them, as both evaluations take them. */
const queryPhotos = (flags: Flags) => ({
  queriesDir: flags.queries,
  maxQueries: flags.maxQueries,
  seed: flags.seed,
});

async function evalIndex(flags: Flags): Promise<void> {
  const progress = stagedProgress();
  const embedder = { device: flags.device, batchSize: flags.batchSize, threads: flags.threads };
  let ev: Awaited<ReturnType<typeof evaluate>>;
  try {
    ev = await evaluate({
      indexDir: flags.index,
      ...queryPhotos(flags),
      streetDir: flags.street,
      similarity: flags.similarity,
      tuning: {
        weights: flags.weights,
        shopperWeights: flags.shopperWeights,
        query: flags.queryPrep,
        shopperQuery: flags.queryPrep,
        ...(flags.runnerUp ? {} : { runnerUp: false }),
        ...(flags.colourWithinKind ? {} : { colourWithinKind: false }),
      },
      embedder,
      onStage: (stage, detail) => {
        progress.stop();
        if (stage !== 'done') log.info(`${stage}: ${detail ?? ''}`);
      },
      onProgress: (stage, done, total) => progress.update(stage, UNITS[stage] ?? '', done, total),
    });
  } finally {
    progress.close();
  }
  let reportPath: string | undefined;
  try {
    if (flags.report !== false) {
      reportPath = resolve(
        typeof flags.report === 'string'
          ? flags.report
          : join(localFolder(flags.index) ?? '.', 'eval-report.html'),
      );
      await writeReport(reportPath, ev, { seed: flags.seed, samples: flags.samples });
    }
  } finally {
    await ev.index.close();
  }
  for (const f of ev.queries?.failed ?? []) log.warn({ path: f.path }, `query photo skipped: ${f.reason}`);
  process.stdout.write(
    flags.json
      ? `${JSON.stringify({ ...ev.summary, ...(reportPath ? { report: reportPath } : {}) }, null, 2)}\n`
      : metricsText(ev.summary, reportPath),
  );
  if ((ev.queries?.failed.length ?? 0) > 0) process.exitCode = EXIT_PARTIAL;
}

async function sweep(flags: Flags): Promise<void> {
  if (!flags.images || !flags.metadata) throw new Error('--sweep needs --images <dir> and --metadata <csv>');
  const configs = parseConfigs(flags.configs);
  const progress = stagedProgress();
  let result: Awaited<ReturnType<typeof runSweep>>;
  try {
    result = await runSweep({
      imagesDir: flags.images,
      metadataPath: flags.metadata,
      subset: flags.subset,
      ...queryPhotos(flags),
      configs,
      workDir: flags.work,
      seedFrom: [flags.index],
      embedder: { device: flags.device, batchSize: flags.batchSize, threads: flags.threads },
      samples: flags.samples,
      on: {
        subset: (s) =>
          log.info(
            `subset: ${s.ids} photos over ${s.label === null ? 'one stratum' : `${s.strata} values of ${s.label}`}; work folder ${s.workDir}`,
          ),
        configStart: (i, total, c) => log.info(`config ${i}/${total}: ${c.name}`),
        buildPlan: (p) =>
          log.info(`indexing: ${p.total} photos, ${p.toEmbed} to embed, ${p.reused} already embedded`),
        buildProgress: (done, total) => progress.update('index', 'photos', done, total),
        built: () => progress.stop(),
        evalStage: (stage, detail) => {
          progress.stop();
          if (stage !== 'done') log.info(`${stage}: ${detail ?? ''}`);
        },
        evalProgress: (stage, done, total) => progress.update(stage, UNITS[stage] ?? '', done, total),
        configDone: (i, total, c, summary, reused) => {
          progress.stop();
          const { kind } = summary.labels;
          const figure =
            kind === null
              ? ''
              : `: ${kind} P@5 ${summary.leaveOneOut.precisionAll[kind]?.value?.toFixed(3) ?? '–'}`;
          log.info(
            `config ${i}/${total}: ${c.name} ${reused ? 'evaluated earlier (kept)' : 'evaluated'}${figure}`,
          );
        },
      },
    });
  } finally {
    progress.close();
  }
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  const rows = result.configs.map((c) => ({
    config: c.config.name,
    summary: c.summary,
    overlapAt5: c.overlapAt5,
  }));
  const stratified = result.subset.stratifiedBy;
  const kind = rows[0]?.summary.labels.kind ?? null;
  process.stdout.write(
    `Sweep over ${result.subset.size} photos (${stratified === null ? 'not stratified' : `stratified by ${stratified}`}, seed ${result.subset.seed})` +
      `${result.queries ? `, query photos from ${result.queries.dir} (at most ${result.queries.max})` : ''}:\n\n` +
      `${sweepTable(rows)}\n` +
      `Best: ${result.best ?? '–'} (by ${kind === null ? 'recall@1' : `leave-one-out ${kind} P@5, ties broken by recall@1`})\n` +
      `Results: ${join(result.workDir, 'results.json')}; reports: ${join(result.workDir, '<config>', 'eval-report.html')}\n`,
  );
}

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description(
      'measure recommendation quality of an index: leave-one-out label precision@5, exact-product recall with --queries, and an HTML report',
    )
    .option(
      '--index <dir>',
      'the index to evaluate (with --sweep: whose vectors are reused)',
      defaultIndexDir,
    )
    .option(
      '--queries <dir>',
      'photos of catalogue products named <product-id>.<ext> (e.g. fashion-224/images)',
    )
    .option(
      '--street <dir>',
      "shoppers' photos with class labels (images/, labels.csv, and label-to-kinds.json or label-to-articletypes.json mapping each label to values of the kind column; e.g. street-dev)",
    )
    .addOption(
      new Option('--similarity <kind>', "the similarity to evaluate (default: the index's own)").choices(
        SIMILARITIES,
      ),
    )
    .option(
      '--weights <visual=,learned=,labels=,colour=>',
      "with the learned similarity: fusion weights to measure instead of the model's own",
      parseWeights,
    )
    .option(
      '--shopper-weights <visual=,learned=,labels=,colour=>',
      "with the learned similarity: fusion weights for shoppers' photos to measure instead of the model's own",
      parseWeights,
    )
    .option(
      '--query-prep <steps>',
      "with the learned similarity: query preparation of every photo to measure instead of the model's own (crop, whiten, match=<w>x<h>, flip, or none)",
      parseQueryPrep,
    )
    .option(
      '--max-queries <n>',
      'at most this many query photos, chosen with --seed',
      positiveInt('--max-queries'),
      DEFAULT_MAX_QUERIES,
    )
    .option(
      '--seed <n>',
      'seed of every random choice (query photos, report samples, sweep subset)',
      nonNegativeInt('--seed'),
      1,
    )
    .option('--report <file.html>', 'where the HTML report is written (default: <index>/eval-report.html)')
    .option('--no-report', 'write no HTML report')
    .option(
      '--no-colour-within-kind',
      'with the learned similarity: fuse the colour part with the rest, rather than re-rank within the kinds chosen without it (to measure that lever)',
    )
    .option(
      '--no-runner-up',
      "with a shopper head: do not give the runner-up kind of a shopper's photo a result of its own (to measure that lever)",
    )
    .option('--samples <n>', 'cases per report section', positiveInt('--samples', 1000), 12)
    .option('--json', 'print the metrics as JSON')
    .option(
      '--sweep',
      `compare embedding configurations (${SWEEP_CONFIGS.map((c) => c.name).join(', ')}) on a subset`,
    )
    .option('--images <dir>', 'with --sweep: the catalogue photos')
    .option(
      '--metadata <csv>',
      "with --sweep: the catalogue metadata (stratified by its schema's kind column)",
    )
    .option(
      '--subset <n>',
      'with --sweep: photos in the stratified subset, at least (default 10000)',
      positiveInt('--subset'),
    )
    .option(
      '--configs <names>',
      `with --sweep: comma-separated configurations (default: ${SWEEP_CONFIGS.map((c) => c.name).join(', ')}; also ${EXTRA_CONFIGS.map((c) => c.name).join(', ')}); the top-5 overlap is against the first`,
    )
    .option(
      '--work <dir>',
      `with --sweep: where the indexes and results go (default: ${defaultWorkDir(10_000, 1)} for the defaults)`,
    )
    .addOption(new Option('--device <device>', 'inference device').choices(DEVICES).default('cpu'))
    .option('--batch-size <n>', 'images per inference call', positiveInt('--batch-size', 256), 16)
    .option('--threads <n>', 'inference threads (default: one per core)', positiveInt('--threads', 256))
    .action(async (flags: Flags) => {
      if (flags.sweep) return sweep(flags);
      const sweepOnly = (['images', 'metadata', 'subset', 'configs', 'work'] as const).filter(
        (f) => flags[f] !== undefined,
      );
      if (sweepOnly.length > 0) throw new Error(`--${sweepOnly.join(', --')}: only with --sweep`);
      return evalIndex(flags);
    });
}
