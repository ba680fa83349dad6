/** `lookalike recommend <image>` and `lookalike similar <product-id>`. */
import type { Command } from 'commander';
import { Option } from 'commander';
import { defaultIndexDir } from '../../../config.js';
import { DEVICES, type Device } from '../../../embeddings/runtime.js';
import { parseWhere } from '../../../recommend/filters.js';
import { Recommender, type SearchMode } from '../../../recommend/recommender.js';
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

export function registerRecommend(program: Command): void {
  withQueryOptions(
    program
      .command('recommend')
      .description('the k catalogue products most similar to a photo')
      .argument('<image>', 'a photo (JPEG, PNG, WebP, GIF, AVIF, TIFF)'),
  ).action(async (image: string, flags: Flags) => {
    const where = parseWhere(flags.where);
    const recommender = await open(flags);
    try {
      const result = await recommender.recommend(image, { k: flags.k, where });
      process.stdout.write(
        flags.json ? resultsAsJson(result) : resultsAsText(`Most similar to ${image}:`, result),
      );
    } finally {
      await recommender.close();
    }
  });

  withQueryOptions(
    program
      .command('similar')
      .description('"more like this": the k products most similar to a catalogue product')
      .argument('<product-id>', 'id of a product in the index'),
  ).action(async (id: string, flags: Flags) => {
    const where = parseWhere(flags.where);
    const recommender = await open(flags);
    const result = await recommender.similar(id, { k: flags.k, where });
    const name = recommender.product(id)?.name;
    process.stdout.write(
      flags.json
        ? resultsAsJson(result)
        : resultsAsText(`More like ${id}${name ? ` (${name})` : ''}:`, result),
    );
    await recommender.close();
  });
}
