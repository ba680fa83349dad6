/** `lookalike learn`: learn (again) the similarity of an index folder from its catalogue's labels. */
import { type Command, InvalidArgumentError } from 'commander';
import { defaultIndexDir } from '../../../config.js';
import type { EmbedderOptions } from '../../../embeddings/embedder.js';
import { optionsForSpec } from '../../../embeddings/spec.js';
import type { QueryPrep } from '../../../images/query-prep.js';
import { requireIndexFolder } from '../../../index/location/open.js';
import { rederiveIndex } from '../../../index/rederive.js';
import { IndexError, readManifest } from '../../../index/store.js';
import { log } from '../../../log.js';
import { deriveSimilarity, recordedSimilarity } from '../../../similarity/derive.js';
import { DEFAULT_EPOCHS, type TaskSpec } from '../../../similarity/learn.js';
import type { FusionWeights } from '../../../similarity/model.js';
import { parseQueryPrep, parseWeights, positiveInt } from '../options.js';
import { similarityProgress, stagedProgress } from '../progress.js';
import { SHOPPER_PHOTOS_HELP, shopperExamples } from '../shopper-examples.js';

interface Flags {
  index: string;
  from?: TaskSpec[];
  weights?: FusionWeights;
  shopperWeights?: FusionWeights;
  queryPrep?: QueryPrep;
  epochs: number;
  shopperPhotos?: string;
}

/** "<column>=1,<other column>=0.5" → tasks. */
function parseTasks(value: string): TaskSpec[] {
  return value.split(',').map((part) => {
    const [column, weight = '1'] = part.split('=');
    const w = Number(weight);
    if (!column || !Number.isFinite(w) || w <= 0) {
      throw new InvalidArgumentError(`"${part}": expected column=weight with a positive weight`);
    }
    return { column: column.trim(), weight: w };
  });
}

/**
 * Relearns on the index's current products and vectors, with one progress bar per stage; from the
 * facets of the catalogue schema recorded with the index (detected for indexes made before schemas).
 */
async function relearn(flags: Flags, embedder: EmbedderOptions) {
  const stages = stagedProgress();
  try {
    return await rederiveIndex(
      flags.index,
      deriveSimilarity({
        kind: 'learned',
        relearn: true,
        rebuild: true,
        tasks: flags.from,
        weights: flags.weights,
        shopperWeights: flags.shopperWeights,
        query: flags.queryPrep,
        epochs: flags.epochs,
        shopper: shopperExamples(flags.shopperPhotos, embedder),
        ...similarityProgress(stages, (message) => log.info(message)),
      }),
    );
  } finally {
    stages.close();
  }
}

export function registerLearn(program: Command): void {
  program
    .command('learn')
    .description(
      "learn the index's similarity from its catalogue's labels (training side of the fixed split only), with colour",
    )
    .option('--index <dir>', 'the index folder', defaultIndexDir)
    .option(
      '--from <column=weight,...>',
      "labelled columns to learn from (default: the catalogue schema's facets that label enough products)",
      parseTasks,
    )
    .option(
      '--weights <visual=,learned=,labels=,colour=>',
      'weights of the fused score (default: the measured best)',
      parseWeights,
    )
    .option(
      '--shopper-weights <visual=,learned=,labels=,colour=>',
      "weights for shoppers' photos (not on a plain light background; default: the measured best)",
      parseWeights,
    )
    .option(
      '--query-prep <steps>',
      "how query photos are prepared: crop, whiten, match=<w>x<h> (default: crop and match the catalogue's photo size), or none",
      parseQueryPrep,
    )
    .option('--epochs <n>', 'training epochs', positiveInt('--epochs', 1000), DEFAULT_EPOCHS)
    .option('--shopper-photos <dir>', SHOPPER_PHOTOS_HELP)
    .action(async (flags: Flags) => {
      const manifest = await readManifest(requireIndexFolder(flags.index, 'the learned similarity'));
      if (!manifest)
        throw new IndexError(`no index at ${flags.index} (build one with: lookalike index <images-dir>)`);
      const started = performance.now();
      const result = await relearn(flags, optionsForSpec(manifest.spec));
      const s = recordedSimilarity(result.similarity);
      process.stdout.write(
        `Learned similarity ${s?.kind === 'learned' ? s.id : ''} for ${result.count} products in ${flags.index}, ` +
          `in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
      );
    });
}
