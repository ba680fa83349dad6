/** `lookalike index <images-dir>`: build or update an index of a catalogue folder. */
import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { defaultIndexDir } from '../../../config.js';
import { optionsForSpec } from '../../../embeddings/embedder.js';
import { buildHnsw, HNSW_DTYPES, type HnswDtype, openHnsw } from '../../../index/hnsw.js';
import { isPostgresUrl, redact } from '../../../index/postgres/connection.js';
import { buildPgIndex } from '../../../index/postgres/indexer.js';
import { readManifest } from '../../../index/store.js';
import { log } from '../../../log.js';
import { Recommender } from '../../../recommend/recommender.js';
import { SIMILARITIES, type SimilarityKind } from '../../../similarity/model.js';
import { searchVectors } from '../../../similarity/open.js';
import { EXIT_PARTIAL } from '../exit.js';
import { runFolderIndex } from '../folder-index.js';
import {
  addEmbeddingOptions,
  type EmbeddingFlags,
  embedderOptions,
  LOCATION_HELP,
  positiveInt,
} from '../options.js';
import { progressBar } from '../progress.js';

interface Flags extends EmbeddingFlags {
  store?: string;
  hnsw?: HnswDtype;
  metadata?: string;
  out: string;
  rebuild?: boolean;
  checkpointEvery: number;
  similarity?: SimilarityKind;
  relearn?: boolean;
}

/** One worker of a distributed indexing run: the same command on any number of machines shares the work. */
async function indexIntoPostgres(imagesDir: string, url: string, flags: Flags): Promise<void> {
  const existing = flags.rebuild
    ? undefined
    : await Recommender.open(url).then(
        async (r) => {
          const spec = r.manifest.spec;
          await r.close();
          return spec;
        },
        () => undefined,
      );
  const fromStore = existing ? optionsForSpec(existing) : {};
  const progress = progressBar('photos (all workers)');
  const result = await buildPgIndex({
    url,
    imagesDir,
    metadataPath: flags.metadata,
    rebuild: flags.rebuild,
    claimSize: flags.checkpointEvery === 512 ? undefined : flags.checkpointEvery,
    embedder: embedderOptions({
      ...flags,
      pooling: flags.pooling ?? fromStore.pooling,
      resize: flags.resize ?? fromStore.resize,
      seedCompat: flags.seedCompat ?? fromStore.seedCompat,
    }),
    onPlan: (p) =>
      log.info(`${redact(url)}: ${p.total} photos, ${p.pending} waiting to be embedded (by any worker)`),
    onProgress: (done, total) => progress.update(done, total),
  });
  progress.stop();
  for (const s of result.failed) log.warn({ file: s.file, code: s.code }, `skipped: ${s.reason}`);
  process.stdout.write(
    `Indexed into ${redact(url)}: ${result.total} photos in the store; this worker embedded ${result.embedded}, ` +
      `copied ${result.copied} identical photos, skipped ${result.failed.length}, in ${result.seconds.toFixed(1)} s` +
      `${result.hnswBuilt ? '; built the HNSW index' : ''}\n`,
  );
  if (result.failed.length > 0) process.exitCode = EXIT_PARTIAL;
}

export function registerIndex(program: Command): void {
  addEmbeddingOptions(
    program
      .command('index')
      .description('embed every photo of a catalogue folder into an index (incremental, resumable)')
      .argument('<images-dir>', 'folder of product photos named <product-id>.<ext>')
      .option('--metadata <csv>', 'product metadata CSV with an "id" column (e.g. styles.csv)')
      .option('--out <location>', `where the index is written: ${LOCATION_HELP}`, defaultIndexDir)
      .option(
        '--store <postgres-url>',
        'index into a PostgreSQL + pgvector store (same as --out <url>); run the command on several machines to share the work',
      )
      .option('--rebuild', 'ignore the existing index and embed everything again')
      .addOption(
        new Option(
          '--similarity <kind>',
          "learned: learn a similarity from the catalogue's labels and fuse it with colour (default for a new index); original: the original design's visual similarity",
        ).choices(SIMILARITIES),
      )
      .option('--relearn', 'learn the similarity again from the current catalogue (as lookalike learn)')
      .addOption(
        new Option(
          '--hnsw <dtype>',
          'also build (or refresh) the HNSW graph for approximate search, stored as f16 or i8',
        ).choices(HNSW_DTYPES),
      )
      .option(
        '--checkpoint-every <n>',
        'photos embedded between checkpoints (with PostgreSQL: photos claimed per transaction, default 32)',
        positiveInt('--checkpoint-every'),
        512,
      ),
  ).action(async (imagesDir: string, flags: Flags) => {
    const location = flags.store ?? flags.out;
    if (isPostgresUrl(location)) {
      if (flags.similarity === 'learned' || flags.relearn) {
        throw new Error(
          'the learned similarity needs an index folder (--out <dir>); a PostgreSQL store is searched with the original similarity',
        );
      }
      await indexIntoPostgres(imagesDir, location, flags);
      return;
    }
    // Options not given keep those of the existing index.
    const existing = flags.rebuild ? undefined : await readManifest(flags.out);
    const fromIndex = existing ? optionsForSpec(existing.spec) : {};
    const options = embedderOptions({
      ...flags,
      pooling: flags.pooling ?? fromIndex.pooling,
      resize: flags.resize ?? fromIndex.resize,
      seedCompat: flags.seedCompat ?? fromIndex.seedCompat,
    });
    const result = await runFolderIndex({
      imagesDir,
      outDir: flags.out,
      metadataPath: flags.metadata,
      embedder: options,
      rebuild: flags.rebuild,
      checkpointEvery: flags.checkpointEvery,
      similarity: flags.similarity,
      relearn: flags.relearn,
      verbosePlan: true,
    });
    for (const s of result.skipped) log.warn({ file: s.file, code: s.code }, `skipped: ${s.reason}`);
    const m = result.manifest;
    process.stdout.write(
      `${result.committed ? 'Indexed' : 'Up to date:'} ${m.count} products in ${flags.out} ` +
        `(${m.spec.pooling} pooling, ${m.spec.resize}, ${m.spec.channelOrder}, ${m.similarity?.kind ?? 'original'} similarity): ` +
        `${result.embedded} embedded, ${result.reused} reused, ${result.removed} removed, ` +
        `${result.skipped.length} skipped, in ${result.seconds.toFixed(1)} s\n`,
    );
    if (flags.hnsw) {
      const search = await searchVectors(flags.out);
      const fresh = await openHnsw(flags.out, {
        dtype: flags.hnsw,
        similarity: { name: search.similarity, dim: search.dim },
      }).then(
        () => true,
        () => false,
      );
      if (!fresh) {
        const graph = await buildHnsw(flags.out, { dtype: flags.hnsw, search });
        process.stdout.write(`Built the ${graph.dtype} HNSW graph in ${graph.buildSeconds.toFixed(1)} s\n`);
      }
    }
    if (result.skipped.length > 0) {
      process.stdout.write(`Skipped photos are listed in ${join(flags.out, 'skipped.json')}\n`);
      process.exitCode = EXIT_PARTIAL;
    }
  });
}
