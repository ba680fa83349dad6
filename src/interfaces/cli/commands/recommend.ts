/** `lookalike recommend <image>` and `lookalike similar <product-id>`. */
import type { Command } from 'commander';
import { Option } from 'commander';
import { defaultIndexDir } from '../../../config.js';
import { DEVICES, type Device } from '../../../embeddings/runtime.js';
import { parseWhere } from '../../../index/filters.js';
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

/** Opens the index, answers one query with the flags' k and filters, prints the results, closes. */
async function answer(
  flags: Flags,
  query: (r: Recommender, options: RecommendOptions) => Promise<RecommendResult>,
  title: (r: Recommender) => string,
): Promise<void> {
  const where = parseWhere(flags.where);
  const recommender = await open(flags);
  try {
    const result = await query(recommender, { k: flags.k, where });
    process.stdout.write(
      flags.json
        ? resultsAsJson(result, recommender.schema)
        : resultsAsText(title(recommender), result, recommender.schema),
    );
  } finally {
    await recommender.close();
  }
}

interface QueryCommand {
  name: string;
  description: string;
  argument: [string, string];
  query: (r: Recommender, argument: string, options: RecommendOptions) => Promise<RecommendResult>;
  title: (r: Recommender, argument: string) => string;
}

const COMMANDS: QueryCommand[] = [
  {
    name: 'recommend',
    description: 'the k catalogue products most similar to a photo',
    argument: ['<image>', 'a photo (JPEG, PNG, WebP, GIF, AVIF, TIFF)'],
    query: (r, image, options) => r.recommend(image, options),
    title: (_, image) => `Most similar to ${image}:`,
  },
  {
    name: 'similar',
    description: '"more like this": the k products most similar to a catalogue product',
    argument: ['<product-id>', 'id of a product in the index'],
    query: (r, id, options) => r.similar(id, options),
    title: (r, id) => {
      const name = r.product(id)?.name;
      return `More like ${id}${name ? ` (${name})` : ''}:`;
    },
  },
];

export function registerRecommend(program: Command): void {
  for (const c of COMMANDS) {
    withQueryOptions(
      program
        .command(c.name)
        .description(c.description)
        .argument(...c.argument),
    ).action((argument: string, flags: Flags) =>
      answer(
        flags,
        (r, options) => c.query(r, argument, options),
        (r) => c.title(r, argument),
      ),
    );
  }
}
