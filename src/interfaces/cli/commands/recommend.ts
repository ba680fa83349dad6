/** `lookalike recommend <image>` and `lookalike similar <product-id>`. */
import type { Command } from 'commander';
import { Option } from 'commander';
import { MAX_PHOTO_BYTES } from '../../../catalogue/limits.js';
import { defaultIndexDir } from '../../../config.js';
import { DEVICES, type Device } from '../../../embeddings/runtime.js';
import { parseWhere } from '../../../index/filters.js';
import { readInputFile } from '../../../io/input-file.js';
import {
  Recommender,
  type RecommendOptions,
  type RecommendResult,
  type SearchMode,
} from '../../../recommend/recommender.js';
import type { SimilarityKind } from '../../../similarity/model.js';
import { resultsAsJson, resultsAsText } from '../format.js';
import { addSearchOptions, LOCATION_HELP, positiveInt } from '../options.js';

interface Flags {
  search?: SearchMode;
  similarity?: SimilarityKind;
  ef?: number;
  store?: string;
  k: number;
  where: string[];
  index: string;
  json?: boolean;
  device: Device;
}

function open(flags: Flags): Promise<Recommender> {
  return Recommender.open(flags.store ?? flags.index, {
    device: flags.device,
    search: flags.search,
    efSearch: flags.ef,
    similarity: flags.similarity,
  });
}

function withQueryOptions(cmd: Command): Command {
  return addSearchOptions(cmd)
    .option('-k, --k <n>', 'how many products', positiveInt('-k', 1000), 5)
    .option(
      '--where <column=value>',
      'keep products whose metadata column has this value (repeatable; same column = any of, columns = all of)',
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option('--index <location>', `the index to search: ${LOCATION_HELP}`, defaultIndexDir)
    .option('--store <postgres-url>', 'search a PostgreSQL + pgvector store (same as --index <url>)')
    .option('--json', 'print {"query": ..., "results": [...]} as JSON')
    .addOption(new Option('--device <device>', 'inference device').choices(DEVICES).default('cpu'));
}

/**
 * Reads the command's input first (a photo is read before the index is opened, so that a bad one
 * is refused at once), opens the index, answers one query with the flags' k and filters, prints
 * the results, closes.
 */
async function answer<T>(
  flags: Flags,
  input: () => Promise<T>,
  query: (r: Recommender, input: T, options: RecommendOptions) => Promise<RecommendResult>,
  title: (r: Recommender) => string,
): Promise<void> {
  const where = parseWhere(flags.where);
  const value = await input();
  const recommender = await open(flags);
  try {
    const result = await query(recommender, value, { k: flags.k, where });
    process.stdout.write(
      flags.json
        ? resultsAsJson(result, recommender.schema)
        : resultsAsText(title(recommender), result, recommender.schema),
    );
  } finally {
    await recommender.close();
  }
}

/** A query command: its name, argument, how it reads that argument, queries and titles its answer. */
interface QueryCommand<T> {
  name: string;
  description: string;
  argument: [string, string];
  input: (argument: string) => Promise<T>;
  query: (r: Recommender, input: T, options: RecommendOptions) => Promise<RecommendResult>;
  title: (r: Recommender, argument: string) => string;
}

function register<T>(program: Command, c: QueryCommand<T>): void {
  withQueryOptions(
    program
      .command(c.name)
      .description(c.description)
      .argument(...c.argument),
  ).action((argument: string, flags: Flags) =>
    answer(
      flags,
      () => c.input(argument),
      c.query,
      (r) => c.title(r, argument),
    ),
  );
}

export function registerRecommend(program: Command): void {
  register(program, {
    name: 'recommend',
    description: 'the k catalogue products most similar to a photo',
    argument: ['<image>', 'a photo (JPEG, PNG, WebP, GIF, AVIF, TIFF)'],
    // Only a regular file, of at most the size of an upload: a FIFO or /dev/zero is refused at once.
    input: async (image) => ({
      data: await readInputFile(image, { maxBytes: MAX_PHOTO_BYTES, what: 'the photo' }),
      label: image,
    }),
    query: (r, photo, options) => r.recommend(photo, options),
    title: (_, image) => `Most similar to ${image}:`,
  });
  register(program, {
    name: 'similar',
    description: '"more like this": the k products most similar to a catalogue product',
    argument: ['<product-id>', 'id of a product in the index'],
    input: async (id) => id,
    query: (r, id, options) => r.similar(id, options),
    title: (r, id) => {
      const name = r.product(id)?.name;
      return `More like ${id}${name ? ` (${name})` : ''}:`;
    },
  });
}
