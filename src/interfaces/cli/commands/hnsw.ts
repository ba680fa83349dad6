/** `lookalike hnsw build`: an approximate-search (HNSW) graph beside an index, for its current generation. */
import { type Command, Option } from 'commander';
import { defaultIndexDir } from '../../../config.js';
import { buildHnsw, HNSW_DEFAULTS, HNSW_DTYPES, type HnswDtype } from '../../../index/hnsw.js';
import { requireIndexFolder } from '../../../index/location/open.js';
import { searchVectors } from '../../../similarity/open.js';
import { positiveInt } from '../options.js';
import { progressBar } from '../progress.js';

interface Flags {
  index: string;
  dtype: HnswDtype;
  connectivity: number;
  expansionAdd: number;
  expansionSearch: number;
  threads?: number;
}

export function registerHnsw(program: Command): void {
  const hnsw = program.command('hnsw').description('approximate nearest-neighbour search graphs (HNSW)');
  hnsw
    .command('build')
    .description('build the HNSW graph of an index and save it beside the index files (hnsw.json)')
    .option('--index <index-dir>', 'the index', defaultIndexDir)
    .addOption(
      new Option('--dtype <type>', 'how the graph stores vectors: f16 (half size) or i8 (quarter size)')
        .choices(HNSW_DTYPES)
        .default(HNSW_DEFAULTS.dtype),
    )
    .option(
      '--connectivity <m>',
      'neighbours per node (M)',
      positiveInt('--connectivity', 256),
      HNSW_DEFAULTS.connectivity,
    )
    .option(
      '--expansion-add <ef>',
      'candidate list size while building (efConstruction)',
      positiveInt('--expansion-add', 4096),
      HNSW_DEFAULTS.expansionAdd,
    )
    .option(
      '--expansion-search <ef>',
      'default candidate list size while searching (ef)',
      positiveInt('--expansion-search', 4096),
      HNSW_DEFAULTS.expansionSearch,
    )
    .option('--threads <n>', 'insertion threads (default: one per core)', positiveInt('--threads', 256))
    .action(async (flags: Flags) => {
      // (A PostgreSQL store has its HNSW index in the database, built by the indexing run.)
      const folder = requireIndexFolder(flags.index, 'an HNSW graph file');
      const progress = progressBar('vectors');
      let info: Awaited<ReturnType<typeof buildHnsw>>;
      try {
        info = await buildHnsw(folder, {
          search: await searchVectors(folder),
          dtype: flags.dtype,
          connectivity: flags.connectivity,
          expansionAdd: flags.expansionAdd,
          expansionSearch: flags.expansionSearch,
          threads: flags.threads,
          onProgress: (done, total) => progress.update(done, total),
        });
      } finally {
        progress.stop();
      }
      process.stdout.write(
        `Built the ${info.dtype} HNSW graph of ${info.count} vectors (generation ${info.generation}) ` +
          `in ${flags.index}/${info.file}: ${(info.bytes / 2 ** 20).toFixed(1)} MiB, ` +
          `M=${info.connectivity} efConstruction=${info.expansionAdd} ef=${info.expansionSearch}, ` +
          `in ${info.buildSeconds.toFixed(1)} s\n`,
      );
    });
}
