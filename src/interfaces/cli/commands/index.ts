/** `lookalike index <images-dir>`: build or update an index of a catalogue folder. */
import { join } from 'node:path';
import type { Command } from 'commander';
import { defaultIndexDir } from '../../../config.js';
import { optionsForSpec } from '../../../embeddings/embedder.js';
import { buildIndex } from '../../../index/builder.js';
import { readManifest } from '../../../index/store.js';
import { log } from '../../../log.js';
import { EXIT_PARTIAL } from '../exit.js';
import { addEmbeddingOptions, type EmbeddingFlags, embedderOptions, positiveInt } from '../options.js';
import { progressBar } from '../progress.js';

interface Flags extends EmbeddingFlags {
  metadata?: string;
  out: string;
  rebuild?: boolean;
  checkpointEvery: number;
}

export function registerIndex(program: Command): void {
  addEmbeddingOptions(
    program
      .command('index')
      .description('embed every photo of a catalogue folder into an index (incremental, resumable)')
      .argument('<images-dir>', 'folder of product photos named <product-id>.<ext>')
      .option('--metadata <csv>', 'product metadata CSV with an "id" column (e.g. styles.csv)')
      .option('--out <index-dir>', 'where the index is written', defaultIndexDir)
      .option('--rebuild', 'ignore the existing index and embed everything again')
      .option(
        '--checkpoint-every <n>',
        'photos embedded between checkpoints',
        positiveInt('--checkpoint-every'),
        512,
      ),
  ).action(async (imagesDir: string, flags: Flags) => {
    // Options not given keep those of the existing index.
    const existing = flags.rebuild ? undefined : await readManifest(flags.out);
    const fromIndex = existing ? optionsForSpec(existing.spec) : {};
    const options = embedderOptions({
      ...flags,
      pooling: flags.pooling ?? fromIndex.pooling,
      resize: flags.resize ?? fromIndex.resize,
      seedCompat: flags.seedCompat ?? fromIndex.seedCompat,
    });
    const progress = progressBar('photos');
    const result = await buildIndex({
      imagesDir,
      outDir: flags.out,
      metadataPath: flags.metadata,
      embedder: options,
      rebuild: flags.rebuild,
      checkpointEvery: flags.checkpointEvery,
      onPlan: (p) =>
        log.info(
          `${p.total} photos: ${p.toEmbed} to embed, ${p.reused} already embedded, ${p.removed} gone from the folder`,
        ),
      onProgress: (done, total) => progress.update(done, total),
    });
    progress.stop();
    for (const s of result.skipped) log.warn({ file: s.file, code: s.code }, `skipped: ${s.reason}`);
    const m = result.manifest;
    process.stdout.write(
      `${result.committed ? 'Indexed' : 'Up to date:'} ${m.count} products in ${flags.out} ` +
        `(${m.spec.pooling} pooling, ${m.spec.resize}, ${m.spec.channelOrder}): ` +
        `${result.embedded} embedded, ${result.reused} reused, ${result.removed} removed, ` +
        `${result.skipped.length} skipped, in ${result.seconds.toFixed(1)} s\n`,
    );
    if (result.skipped.length > 0) {
      process.stdout.write(`Skipped photos are listed in ${join(flags.out, 'skipped.json')}\n`);
      process.exitCode = EXIT_PARTIAL;
    }
  });
}
