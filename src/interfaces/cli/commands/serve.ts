/** `lookalike serve`: the web page and the HTTP API over an index. */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { describeNotes, isCatalogueNote } from '../../../catalogue/catalogue.js';
import { defaultIndexDir } from '../../../config.js';
import { DEVICES, type Device } from '../../../embeddings/runtime.js';
import {
  DEFAULT_INPUT_SIZE,
  DEFAULT_PRECISION,
  type InputSize,
  optionsForSpec,
  type Precision,
} from '../../../embeddings/spec.js';
import { describeLocation, readStoreSpec } from '../../../index/location/open.js';
import type { SearchMode } from '../../../index/port.js';
import { log } from '../../../log.js';
import type { SimilarityKind } from '../../../similarity/model.js';
import { DEFAULT_UPLOAD_LIMITS } from '../../http/api/upload-limiter.js';
import { startServer } from '../../http/server.js';
import { type BackgroundIndexing, indexInBackground } from '../background-index.js';
import {
  addSchemaOptions,
  addSearchOptions,
  inputSizeOption,
  LOCATION_HELP,
  positiveInt,
  precisionOption,
  type SchemaFlags,
  schemaOverrides,
} from '../options.js';
import { SHOPPER_PHOTOS_HELP } from '../shopper-examples.js';

interface Flags extends SchemaFlags {
  index: string;
  store?: string;
  catalogue?: string;
  shopperPhotos?: string;
  metadata?: string;
  search?: SearchMode;
  ef?: number;
  similarity?: SimilarityKind;
  port: number;
  host: string;
  device: Device;
  queue: number;
  precision?: Precision;
  inputSize?: InputSize;
  private?: boolean;
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new InvalidArgumentError('--port must be an integer from 0 (any free port) to 65535.');
  }
  return n;
}

/** Resolves on the first SIGINT or SIGTERM; a second one exits at once. */
function shutdownSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.once(signal, () => {
        log.warn(`${signal} again: exiting now`);
        process.exit(130);
      });
      resolve(signal);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
}

/**
 * Builds the index (or brings it up to date) in the background of the server, with its progress
 * on stderr; searches start once something is searchable.
 */
async function indexWhileServing(
  imagesDir: string,
  location: string,
  flags: Flags,
): Promise<BackgroundIndexing> {
  const spec = await readStoreSpec(location).catch(() => undefined);
  const background = await indexInBackground({
    imagesDir,
    location,
    metadataPath: flags.metadata,
    schema: schemaOverrides(flags),
    shopperPhotos: flags.shopperPhotos,
    // A new index takes --precision and --input-size (or the defaults); an existing one keeps its own.
    embedder: spec
      ? optionsForSpec(spec)
      : {
          precision: flags.precision ?? DEFAULT_PRECISION,
          inputSize: flags.inputSize ?? DEFAULT_INPUT_SIZE,
        },
  });
  void background.finished.then((result) => {
    if (!result) return;
    const failed = result.skipped.filter((s) => !isCatalogueNote(s)).length;
    if (failed > 0) log.warn(`${failed} photos could not be indexed (see the index's skipped.json)`);
    const notes = describeNotes(result.skipped);
    if (notes) log.warn(`the metadata has ${notes}`);
  });
  return background;
}

export function registerServe(program: Command): void {
  addSchemaOptions(
    addSearchOptions(
      program

        .command('serve')
        .description('serve the web page and the HTTP API (JSON, documented at /api/docs) over an index')
        .option('--index <location>', `the index to search: ${LOCATION_HELP}`, defaultIndexDir)
        .option('--store <postgres-url>', 'serve a PostgreSQL + pgvector store (same as --index <url>)')
        .option(
          '--catalogue <images-dir>',
          'first build the index from this folder of photos, or bring it up to date',
        )
        .option(
          '--metadata <file>',
          'with --catalogue: the product metadata, CSV or JSON Lines (e.g. styles.csv)',
        )
        .option('--shopper-photos <dir>', SHOPPER_PHOTOS_HELP)
        .option('--port <n>', 'port to listen on (0: any free port)', port, 8080)
        .option('--host <host>', 'interface to listen on (0.0.0.0: every interface)', '127.0.0.1')
        .addOption(new Option('--device <device>', 'inference device').choices(DEVICES).default('cpu'))
        .option(
          '--queue <n>',
          'uploads that may wait for the model before the server answers 503',
          positiveInt('--queue', 10_000),
          DEFAULT_UPLOAD_LIMITS.maxWaiting,
        )
        .addOption(precisionOption())
        .addOption(inputSizeOption())
        .option(
          '--private',
          'every route but /api/health needs an API key (lookalike keys create), the page and searches too',
        ),
    ),
  ).action(async (flags: Flags) => {
    const location = flags.store ?? flags.index;
    const background = flags.catalogue
      ? await indexWhileServing(flags.catalogue, location, flags)
      : undefined;
    if (background) {
      await background.ready.catch(async (err: unknown) => {
        await background.stop();
        throw err;
      });
    }
    log.info(`loading the index at ${describeLocation(location)} and the model`);
    const server = await startServer({
      indexDir: location,
      search: flags.search,
      efSearch: flags.ef,
      similarity: flags.similarity,
      host: flags.host,
      port: flags.port,
      device: flags.device,
      logger: log,
      uploadLimits: { maxWaiting: flags.queue },
      private: flags.private,
      ...(background ? { indexing: () => background.tracker.snapshot() } : {}),
    });
    // (Each generation the background run commits is picked up by the server's catalogue watcher.)
    log.info(
      `${server.recommender.manifest.count} products indexed; model on ${(await server.recommender.getEmbedder()).device}`,
    );
    process.stdout.write(`Lookalike is running: open ${server.url} (API docs: ${server.url}api/docs)\n`);
    const signal = await shutdownSignal();
    log.info(`${signal}: finishing requests in progress, then stopping`);
    await background?.stop();
    await server.close();
    log.info('stopped');
  });
}
