/** Option definitions shared by the commands that embed photos (embed, index, recommend, eval...). */
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { EmbedderOptions } from '../../embeddings/embedder.js';
import { DEVICES, type Device } from '../../embeddings/runtime.js';
import {
  DEFAULT_INPUT_SIZE,
  DEFAULT_PRECISION,
  INPUT_SIZES,
  type InputSize,
  POOLINGS,
  type Pooling,
  PRECISIONS,
  type Precision,
  RESIZE_POLICIES,
  type ResizePolicy,
} from '../../embeddings/spec.js';
import type { QueryPrep } from '../../images/query-prep.js';
import { SEARCH_MODES } from '../../index/port.js';
import { type FusionWeights, SIMILARITIES } from '../../similarity/model.js';

export interface EmbeddingFlags {
  pooling?: Pooling;
  resize?: ResizePolicy;
  seedCompat?: boolean;
  precision?: Precision;
  inputSize?: InputSize;
  device: Device;
  batchSize: number;
  threads?: number;
}

export function positiveInt(name: string, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > max)
      throw new InvalidArgumentError(`${name} must be an integer from 1 to ${max}.`);
    return n;
  };
}

/** --precision fp32|int8, without a default (an existing index keeps its own). */
export function precisionOption(): Option {
  return new Option(
    '--precision <kind>',
    `network precision: int8 (statically quantised, faster) or fp32 (default: ${DEFAULT_PRECISION})`,
  ).choices(PRECISIONS);
}

/** --input-size 128|160|192|224, without a default (an existing index keeps its own). */
export function inputSizeOption(): Option {
  return new Option(
    '--input-size <pixels>',
    `side of the square the photo is resized to before the network: ${INPUT_SIZES.join(', ')} (default: ${DEFAULT_INPUT_SIZE})`,
  ).argParser((v): InputSize => {
    const n = Number(v);
    if (!(INPUT_SIZES as readonly number[]).includes(n))
      throw new InvalidArgumentError(`--input-size must be one of ${INPUT_SIZES.join(', ')}.`);
    return n as InputSize;
  });
}

/**
 * Adds --pooling, --resize, --seed-compat, --precision, --input-size, --device, --batch-size,
 * --threads. Pooling, resize, seed-compat, precision and input size have no default here, so that a command working on an existing index can take
 * them from the index.
 */
export function addEmbeddingOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--pooling <kind>', 'global pooling of the last feature map (default: max)').choices(
        POOLINGS,
      ),
    )
    .addOption(
      new Option(
        '--resize <policy>',
        'stretch to 224x224, or pad to square with white first (default: stretch)',
      ).choices(RESIZE_POLICIES),
    )
    .option('--seed-compat', "reproduce the original system's R,G,B channel mistake (for comparison only)")
    .addOption(precisionOption())
    .addOption(inputSizeOption())
    .addOption(
      new Option('--device <device>', 'inference device; cuda falls back to cpu where unavailable')
        .choices(DEVICES)
        .default('cpu'),
    )
    .option('--batch-size <n>', 'images per inference call', positiveInt('--batch-size', 256), 16)
    .option('--threads <n>', 'inference threads (default: one per core)', positiveInt('--threads', 256));
}

export function embedderOptions(flags: EmbeddingFlags): EmbedderOptions {
  return {
    pooling: flags.pooling ?? 'max',
    resize: flags.resize ?? 'stretch',
    seedCompat: flags.seedCompat ?? false,
    precision: flags.precision ?? DEFAULT_PRECISION,
    inputSize: flags.inputSize ?? DEFAULT_INPUT_SIZE,
    device: flags.device,
    batchSize: flags.batchSize,
    threads: flags.threads,
  };
}

/** Adds --search exact|hnsw, --ef and --similarity for commands that query an index or a store. */
export function addSearchOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        '--similarity <kind>',
        "learned (fused visual, learned and colour similarity, with shopper-photo preparation) or original (the original design's visual similarity alone); default: the index's own",
      ).choices(SIMILARITIES),
    )
    .addOption(
      new Option(
        '--search <mode>',
        'exact search, or approximate HNSW (default: exact for an index folder, hnsw for PostgreSQL)',
      ).choices(SEARCH_MODES),
    )
    .option(
      '--ef <n>',
      'HNSW search expansion: more is slower and closer to exact',
      positiveInt('--ef', 1000),
    );
}

export interface SchemaFlags {
  idColumn?: string;
  imageColumn?: string;
  titleColumn?: string;
  facets?: string[];
}

const columnList = (value: string): string[] => {
  const columns = value
    .split(',')
    .map((c) => c.trim())
    .filter(Boolean);
  if (columns.length === 0) throw new InvalidArgumentError('--facets needs column names, e.g. brand,colour');
  return columns;
};

/** Adds --id-column, --image-column, --title-column, --facets: the catalogue schema's overrides. */
export function addSchemaOptions(cmd: Command): Command {
  return cmd
    .option(
      '--id-column <name>',
      'the metadata column that identifies a product (default: detected, e.g. id or sku)',
    )
    .option(
      '--image-column <name>',
      "a metadata column holding each product's photo path, relative to the photos folder (default: photos named <id>.<ext> anywhere under it)",
    )
    .option('--title-column <name>', "the column shown as a product's name (default: detected, e.g. title)")
    .option(
      '--facets <columns>',
      'the columns to filter by, comma-separated (default: detected)',
      columnList,
    );
}

/** The schema overrides given on the command line (they win over lookalike.json beside the metadata). */
export function schemaOverrides(flags: SchemaFlags) {
  return {
    ...(flags.idColumn ? { idColumn: flags.idColumn } : {}),
    ...(flags.imageColumn ? { imageColumn: flags.imageColumn } : {}),
    ...(flags.titleColumn ? { titleColumn: flags.titleColumn } : {}),
    ...(flags.facets ? { facets: flags.facets } : {}),
  };
}

export const LOCATION_HELP = 'an index folder, or a PostgreSQL + pgvector store as a postgres:// URL';

/** "visual=0.3,learned=0.2,labels=0.3,colour=0.2" → weights summing to 1. */
export function parseWeights(value: string): FusionWeights {
  const w: FusionWeights = { visual: 0, learned: 0, labels: 0, colour: 0 };
  for (const part of value.split(',')) {
    const [name, v] = part.split('=');
    const n = Number(v);
    if (!name || !(name in w) || !Number.isFinite(n) || n < 0) {
      throw new InvalidArgumentError(
        `"${part}": expected visual=, learned= or colour= with a weight of 0 or more`,
      );
    }
    w[name as keyof FusionWeights] = n;
  }
  const total = w.visual + w.learned + w.labels + w.colour;
  if (total <= 0) throw new InvalidArgumentError('the weights must not all be 0');
  return {
    visual: w.visual / total,
    learned: w.learned / total,
    labels: w.labels / total,
    colour: w.colour / total,
  };
}

/** "crop,whiten,match=60x80" or "none" → query preparation. */
export function parseQueryPrep(value: string): QueryPrep {
  const prep: QueryPrep = {};
  if (value === 'none') return prep;
  for (const part of value.split(',')) {
    const [name, arg] = part.split('=');
    if (name === 'crop') prep.crop = true;
    else if (name === 'whiten') prep.whiten = true;
    else if (name === 'flip') prep.flip = true;
    else if (name === 'match' && arg && /^\d+x\d+$/.test(arg)) {
      const [width, height] = arg.split('x').map(Number) as [number, number];
      prep.match = { width, height };
    } else throw new InvalidArgumentError(`"${part}": expected crop, whiten, flip, match=<w>x<h> or none`);
  }
  return prep;
}
