/** `lookalike index <images-dir>`: build or update the index of a catalogue, in a folder or PostgreSQL. */
import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { describeNotes, isCatalogueNote } from '../../../catalogue/catalogue.js';
import { defaultIndexDir } from '../../../config.js';
import { optionsForSpec } from '../../../embeddings/spec.js';
import { buildHnsw, HNSW_DTYPES, type HnswDtype, openHnsw } from '../../../index/hnsw.js';
import { readStoreSpec, requireIndexFolder } from '../../../index/location/open.js';
import { log } from '../../../log.js';
import { SIMILARITIES, type SimilarityKind } from '../../../similarity/model.js';
import { searchVectors } from '../../../similarity/open.js';
import { EXIT_PARTIAL } from '../exit.js';
import {
  addEmbeddingOptions,
  addSchemaOptions,
  type EmbeddingFlags,
  embedderOptions,
  LOCATION_HELP,
  positiveInt,
  type SchemaFlags,
  schemaOverrides,
} from '../options.js';
import { runIndex } from '../run-index.js';
import { SHOPPER_PHOTOS_HELP } from '../shopper-examples.js';

interface Flags extends EmbeddingFlags, SchemaFlags {
  store?: string;
  hnsw?: HnswDtype;
  metadata?: string;
  out: string;
  rebuild?: boolean;
  checkpointEvery?: number;
  similarity?: SimilarityKind;
  relearn?: boolean;
  shopperPhotos?: string;
}

export function registerIndex(program: Command): void {
  addSchemaOptions(
    addEmbeddingOptions(
      program
        .command('index')
        .description('embed every photo of a catalogue into an index (incremental, resumable)')
        .argument(
          '<images-dir>',
          'folder of product photos (named <product-id>.<ext>, or given by --image-column)',
        )
        .option('--metadata <file>', 'product metadata, CSV or JSON Lines (e.g. styles.csv)')
        .option(
          '--out <location>',
          `where the index is written: ${LOCATION_HELP}; run the command on several machines against one PostgreSQL store to share the work`,
          defaultIndexDir,
        )
        .option('--store <postgres-url>', 'index into a PostgreSQL + pgvector store (same as --out <url>)')
        .option('--rebuild', 'ignore the existing index and embed everything again')
        .addOption(
          new Option(
            '--similarity <kind>',
            "learned: learn a similarity from the catalogue's labels and fuse it with colour (default for a new index folder); original: the original design's visual similarity",
          ).choices(SIMILARITIES),
        )
        .option('--relearn', 'learn the similarity again from the current catalogue (as lookalike learn)')
        .option('--shopper-photos <dir>', SHOPPER_PHOTOS_HELP)
        .addOption(
          new Option(
            '--hnsw <dtype>',
            'also build (or refresh) the HNSW graph of an index folder for approximate search, stored as f16 or i8',
          ).choices(HNSW_DTYPES),
        )
        .option(
          '--checkpoint-every <n>',
          'photos embedded between checkpoints (index folder, default 512) or per transaction (PostgreSQL, default 32)',
          positiveInt('--checkpoint-every'),
        ),
    ),
  ).action(async (imagesDir: string, flags: Flags) => {
    const location = flags.store ?? flags.out;
    const folder = flags.hnsw
      ? requireIndexFolder(location, '--hnsw (a PostgreSQL store builds its HNSW index itself)')
      : undefined;
    // Options not given keep those of the existing index.
    const existing = flags.rebuild ? undefined : await readStoreSpec(location);
    const fromIndex = existing ? optionsForSpec(existing) : {};
    const result = await runIndex({
      imagesDir,
      location,
      metadataPath: flags.metadata,
      schema: schemaOverrides(flags),
      embedder: embedderOptions({
        ...flags,
        pooling: flags.pooling ?? fromIndex.pooling,
        resize: flags.resize ?? fromIndex.resize,
        seedCompat: flags.seedCompat ?? fromIndex.seedCompat,
        precision: flags.precision ?? fromIndex.precision,
        inputSize: flags.inputSize ?? fromIndex.inputSize,
      }),
      rebuild: flags.rebuild,
      claimSize: flags.checkpointEvery,
      similarity: flags.similarity,
      relearn: flags.relearn,
      shopperPhotos: flags.shopperPhotos,
      verbosePlan: true,
    });
    const failed = result.skipped.filter((s) => !isCatalogueNote(s));
    for (const s of failed) log.warn({ id: s.id, file: s.file, code: s.code }, `skipped: ${s.reason}`);
    const notes = describeNotes(result.skipped);
    if (notes) log.warn(`the metadata has ${notes}`);
    process.stdout.write(
      `${result.committed ? 'Indexed' : 'Up to date:'} ${result.count} products in ${result.location} ` +
        `(${result.description}): ${result.embedded} embedded, ${result.reused} reused, ${result.removed} removed, ` +
        `${failed.length} skipped, in ${result.seconds.toFixed(1)} s\n`,
    );
    if (folder) {
      const search = await searchVectors(folder);
      const fresh = await openHnsw(folder, {
        dtype: flags.hnsw as HnswDtype,
        similarity: { name: search.similarity, dim: search.dim },
      }).then(
        () => true,
        () => false,
      );
      if (!fresh) {
        const graph = await buildHnsw(folder, { dtype: flags.hnsw as HnswDtype, search });
        process.stdout.write(`Built the ${graph.dtype} HNSW graph in ${graph.buildSeconds.toFixed(1)} s\n`);
      }
    }
    if (result.skipped.length > 0 && result.kind === 'files') {
      process.stdout.write(
        `Skipped photos and rows are listed in ${join(result.location, 'skipped.json')}\n`,
      );
    }
    if (failed.length > 0) process.exitCode = EXIT_PARTIAL;
  });
}
