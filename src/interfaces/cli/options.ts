/** Option definitions shared by the commands that embed photos (embed, index, recommend, eval...). */
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { EmbedderOptions } from '../../embeddings/embedder.js';
import { DEVICES, type Device } from '../../embeddings/runtime.js';
import { POOLINGS, type Pooling, RESIZE_POLICIES, type ResizePolicy } from '../../embeddings/spec.js';
import { SEARCH_MODES } from '../../recommend/recommender.js';

export interface EmbeddingFlags {
  pooling?: Pooling;
  resize?: ResizePolicy;
  seedCompat?: boolean;
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

/**
 * Adds --pooling, --resize, --seed-compat, --device, --batch-size, --threads. Pooling, resize and
 * seed-compat have no default here, so that a command working on an existing index can take
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
    device: flags.device,
    batchSize: flags.batchSize,
    threads: flags.threads,
  };
}

/** Adds --search exact|hnsw and --ef for commands that query an index or a PostgreSQL store. */
export function addSearchOptions(cmd: Command): Command {
  return cmd
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

export const LOCATION_HELP = 'an index folder, or a PostgreSQL + pgvector store as a postgres:// URL';
