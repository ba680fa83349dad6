/**
 * The embedding-options sweep: resize policy x pooling, plus the original system's channel
 * mistake, each indexed over the same stratified subset of a catalogue and evaluated the same way.
 * Further configurations (`EXTRA_CONFIGS`: int8 and smaller inputs) are swept when named. Each
 * configuration's top-5 for the query photos is compared with the first configuration's
 * (`overlapAt5`: the mean share of the same products), e.g. int8 against fp32.
 * Restartable: indexing is incremental and checkpointed, and each configuration's evaluation is
 * kept (<work>/<config>/eval.json) and reused while its index and the query settings are unchanged.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { cacheDir } from '../config.js';
import type { EmbedderOptions } from '../embeddings/embedder.js';
import {
  INPUT_SIZES,
  type InputSize,
  POOLINGS,
  type Pooling,
  PRECISIONS,
  type Precision,
  RESIZE_POLICIES,
  type ResizePolicy,
} from '../embeddings/spec.js';
import { openWriter } from '../index/location/open.js';
import { type IndexingResult, runIndexing } from '../index/pipeline.js';
import { readManifest } from '../index/store.js';
import { writeJsonDurably } from '../io/durable.js';
import { FileFormatError, readJsonFile } from '../io/json-file.js';
import { DEFAULT_MAX_QUERIES, type Evaluation, evaluate } from './evaluate.js';
import type { SweepRow } from './format.js';
import { writeReport } from './report.js';
import { catalogueSubset, type Stratum } from './subset.js';
import { type EvalSummary, evalSummaryZ } from './summary.js';

export interface SweepConfig {
  name: string;
  resize: ResizePolicy;
  pooling: Pooling;
  seedCompat: boolean;
  precision: Precision;
  inputSize: InputSize;
}

/** resize x pooling, then `seed-compat`: stretch + max + the original's R,G,B channel order (fp32, 224). */
export const SWEEP_CONFIGS: readonly SweepConfig[] = [
  ...RESIZE_POLICIES.flatMap((resize) =>
    POOLINGS.map((pooling) => ({
      name: `${resize}-${pooling}`,
      resize,
      pooling,
      seedCompat: false,
      precision: 'fp32' as const,
      inputSize: 224 as const,
    })),
  ),
  {
    name: 'seed-compat',
    resize: 'stretch',
    pooling: 'max',
    seedCompat: true,
    precision: 'fp32',
    inputSize: 224,
  },
];

/**
 * stretch + max at each precision and input size, named `stretch-max[-int8][-<size>]` (fp32 at 224
 * is `stretch-max` itself): swept only when named, e.g.
 * --configs stretch-max,stretch-max-int8,stretch-max-192,stretch-max-160,stretch-max-128.
 */
export const EXTRA_CONFIGS: readonly SweepConfig[] = PRECISIONS.flatMap((precision) =>
  INPUT_SIZES.map((inputSize) => ({
    name: `stretch-max${precision === 'int8' ? '-int8' : ''}${inputSize === 224 ? '' : `-${inputSize}`}`,
    resize: 'stretch' as const,
    pooling: 'max' as const,
    seedCompat: false,
    precision,
    inputSize,
  })),
).filter((c) => c.name !== 'stretch-max');

/** Configurations by comma-separated names (all of them when none are given). */
export function parseConfigs(names?: string): SweepConfig[] {
  if (!names) return [...SWEEP_CONFIGS];
  const chosen = names
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean)
    .map((name) => {
      const config = [...SWEEP_CONFIGS, ...EXTRA_CONFIGS].find((c) => c.name === name);
      if (!config) {
        throw new Error(
          `unknown configuration "${name}"; choose from ${[...SWEEP_CONFIGS, ...EXTRA_CONFIGS].map((c) => c.name).join(', ')}`,
        );
      }
      return config;
    });
  if (chosen.length === 0) throw new Error('no configuration given');
  return [...new Map(chosen.map((c) => [c.name, c])).values()];
}

export const defaultWorkDir = (subset: number, seed: number) =>
  join(cacheDir, 'eval', `subset-${subset}-seed-${seed}`);

export interface SweepEvents {
  subset?(info: { ids: number; strata: number; label: string | null; workDir: string }): void;
  configStart?(i: number, total: number, config: SweepConfig): void;
  buildPlan?(plan: { total: number; toEmbed: number; reused: number; removed: number }): void;
  buildProgress?(done: number, total: number): void;
  built?(result: IndexingResult): void;
  evalStage?(stage: string, detail?: string): void;
  evalProgress?(stage: string, done: number, total: number): void;
  configDone?(i: number, total: number, config: SweepConfig, summary: EvalSummary, reused: boolean): void;
}

export interface SweepOptions {
  imagesDir: string;
  metadataPath: string;
  /** Photos in the subset, at least (default 10000). */
  subset?: number;
  seed?: number;
  queriesDir?: string;
  maxQueries?: number;
  configs?: readonly SweepConfig[];
  workDir?: string;
  /** Indexes whose vectors are reused where the spec matches (e.g. the full default index). */
  seedFrom?: string[];
  embedder?: Pick<EmbedderOptions, 'device' | 'batchSize' | 'threads'>;
  /** Cases per report section. */
  samples?: number;
  on?: SweepEvents;
}

export interface SweepConfigResult {
  config: SweepConfig;
  indexDir: string;
  report: string;
  /** The evaluation was kept from an earlier run. */
  reused: boolean;
  summary: EvalSummary;
  /**
   * Mean share of each query photo's top-5 products that the first configuration's top-5 also
   * holds (1 for the first itself); null without query photos.
   */
  overlapAt5: number | null;
}

export interface SweepResult {
  workDir: string;
  date: string;
  subset: {
    requested: number;
    size: number;
    seed: number;
    imagesDir: string;
    metadataPath: string;
    /** The metadata column stratified by (the kind column); null: none. */
    stratifiedBy: string | null;
    strata: Stratum[];
  };
  queries?: { dir: string; max: number };
  configs: SweepConfigResult[];
  /** By leave-one-out P@5 of the kind column, ties broken by recall@1. */
  best?: string;
}

/** The best configuration: highest leave-one-out P@5 of the kind column, then highest recall@1. */
export function bestConfig(rows: readonly SweepRow[]): string | undefined {
  const key = (s: EvalSummary): [number, number] => [
    (s.labels.kind === null ? undefined : s.leaveOneOut.precisionAll[s.labels.kind]?.value) ?? -1,
    s.queries?.recallAt1 ?? -1,
  ];
  let best: SweepRow | undefined;
  for (const row of rows) {
    if (!best) best = row;
    else {
      const [a1, a2] = key(row.summary);
      const [b1, b2] = key(best.summary);
      if (a1 > b1 || (a1 === b1 && a2 > b2)) best = row;
    }
  }
  return best?.config;
}

const storedEvaluationZ = z.object({
  key: z.string(),
  summary: evalSummaryZ,
  /** Query photo id -> its top-5 product ids (absent in evaluations kept by older versions). */
  top5: z.record(z.string(), z.array(z.string())).optional(),
});
type StoredEvaluation = z.infer<typeof storedEvaluationZ>;

/** A configuration's kept evaluation, while its key holds; undefined when absent, stale or unreadable. */
async function storedEvaluation(path: string, key: string): Promise<StoredEvaluation | undefined> {
  try {
    const stored = await readJsonFile(path, storedEvaluationZ, { optional: true });
    return stored?.key === key && stored.top5 ? stored : undefined;
  } catch (err) {
    // Damaged, or kept by an older version in another shape: evaluated again.
    if (err instanceof FileFormatError) return undefined;
    throw err;
  }
}

/** Query photo id -> the product ids of its top-5 results. */
function topProducts(ev: Evaluation): Record<string, string[]> {
  return Object.fromEntries(
    (ev.queries?.cases ?? []).map((c) => [c.id, c.results.map((n) => ev.index.item(n.row).id)]),
  );
}

/** Mean over the query photos both hold of |top5 ∩ reference top5| / |reference top5|. */
export function topOverlap(
  reference: Record<string, string[]>,
  other: Record<string, string[]>,
): number | null {
  let sum = 0;
  let n = 0;
  for (const [id, ref] of Object.entries(reference)) {
    const mine = other[id];
    if (!mine || ref.length === 0) continue;
    const set = new Set(mine);
    sum += ref.filter((p) => set.has(p)).length / ref.length;
    n += 1;
  }
  return n === 0 ? null : sum / n;
}

export async function runSweep(options: SweepOptions): Promise<SweepResult> {
  const requested = options.subset ?? 10_000;
  const seed = options.seed ?? 1;
  const configs = options.configs ?? SWEEP_CONFIGS;
  const imagesDir = resolve(options.imagesDir);
  const metadataPath = resolve(options.metadataPath);
  const workDir = resolve(options.workDir ?? defaultWorkDir(requested, seed));
  const maxQueries = options.maxQueries ?? DEFAULT_MAX_QUERIES;
  const queriesDir = options.queriesDir ? resolve(options.queriesDir) : undefined;
  const on = options.on ?? {};

  const sample = await catalogueSubset({ imagesDir, metadataPath, size: requested, seed });
  await mkdir(workDir, { recursive: true });
  await writeJsonDurably(join(workDir, 'subset.json'), {
    requested,
    seed,
    imagesDir,
    metadataPath,
    stratifiedBy: sample.label,
    ids: sample.ids,
  });
  on.subset?.({ ids: sample.ids.length, strata: sample.strata.length, label: sample.label, workDir });
  const ids = new Set(sample.ids);

  const result: SweepResult = {
    workDir,
    date: new Date().toISOString(),
    subset: {
      requested,
      size: sample.ids.length,
      seed,
      imagesDir,
      metadataPath,
      stratifiedBy: sample.label,
      strata: sample.strata,
    },
    ...(queriesDir ? { queries: { dir: queriesDir, max: maxQueries } } : {}),
    configs: [],
  };
  const tops: Record<string, string[]>[] = [];
  for (const [i, config] of configs.entries()) {
    on.configStart?.(i + 1, configs.length, config);
    const indexDir = join(workDir, config.name);
    const built = await runIndexing({
      sink: openWriter(indexDir, { seedFrom: options.seedFrom }),
      source: { imagesDir, metadataPath, ids },
      embedder: {
        ...options.embedder,
        pooling: config.pooling,
        resize: config.resize,
        seedCompat: config.seedCompat,
        precision: config.precision,
        inputSize: config.inputSize,
      },
      onPlan: on.buildPlan,
      onProgress: on.buildProgress,
    });
    on.built?.(built);

    const manifest = await readManifest(indexDir);
    const key = JSON.stringify({
      generation: manifest?.generation,
      updatedAt: manifest?.updatedAt,
      queriesDir,
      maxQueries,
      seed,
      samples: options.samples,
    });
    const evalPath = join(indexDir, 'eval.json');
    const report = join(indexDir, 'eval-report.html');
    const stored = existsSync(report) ? await storedEvaluation(evalPath, key) : undefined;
    let summary = stored?.summary;
    let top5 = stored?.top5 ?? {};
    const reused = summary !== undefined;
    if (!summary) {
      const ev = await evaluate({
        indexDir,
        queriesDir,
        maxQueries,
        seed,
        embedder: options.embedder,
        onStage: on.evalStage,
        onProgress: on.evalProgress,
      });
      try {
        await writeReport(report, ev, { seed, samples: options.samples, title: config.name });
        top5 = topProducts(ev);
      } finally {
        await ev.index.close();
      }
      summary = ev.summary;
      await writeJsonDurably(evalPath, { key, summary, top5 } satisfies StoredEvaluation);
    }
    tops.push(top5);
    const overlapAt5 = queriesDir ? topOverlap(tops[0] ?? {}, top5) : null;
    result.configs.push({ config, indexDir, report, reused, summary, overlapAt5 });
    on.configDone?.(i + 1, configs.length, config, summary, reused);
    await writeJsonDurably(join(workDir, 'results.json'), result);
  }
  result.best = bestConfig(result.configs.map((c) => ({ config: c.config.name, summary: c.summary })));
  await writeJsonDurably(join(workDir, 'results.json'), result);
  return result;
}
