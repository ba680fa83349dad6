/**
 * The similarity layer of an indexing run (the builder's `derive` step): colour descriptors for
 * the new generation (reused by photo hash), and the learned model — reused as it is, so that
 * incremental indexing never changes what a vector means, or learned anew when asked (`--relearn`,
 * `lookalike learn`) or when the index has none yet.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import pLimit from 'p-limit';
import sharp from 'sharp';
import type { CatalogueSchema } from '../catalogue/schema.js';
import { COLOUR_DESCRIPTOR } from '../images/colour.js';
import type { QueryPrep } from '../images/query-prep.js';
import type { Derived, DeriveInput } from '../index/folder-sink.js';
import { IndexError, type IndexItem } from '../index/store.js';
import { coloursByHash, computeColours } from './colours.js';
import {
  CannotLearnError,
  cannotLearn,
  detectTasks,
  type LearnInput,
  learnSimilarity,
  type TaskSpec,
} from './learn.js';
import {
  describeSimilarity,
  type FusionWeights,
  type LoadedSimilarity,
  readColours,
  readSimilarity,
  type SimilarityKind,
  type SimilaritySpec,
  SimilaritySpecSchema,
  writeSimilarity,
} from './model.js';
import type { ShopperExamples } from './shopper-head.js';

export interface SimilarityOptions {
  /** auto: the index's own; for a new index, learned where the catalogue allows it, else original. */
  kind: SimilarityKind | 'auto';
  /** Told when auto falls back to the original similarity. */
  onNotice?: (message: string) => void;
  /** Learn the model again even if the index has one. */
  relearn?: boolean;
  /** The index is being rebuilt from scratch, or the similarity is switched on purpose (lookalike learn). */
  rebuild?: boolean;
  /** The label columns to learn from (default: detected from the schema's facets). */
  tasks?: TaskSpec[];
  /** The catalogue's schema (default: detected from the products' metadata). */
  schema?: CatalogueSchema;
  weights?: FusionWeights;
  shopperWeights?: FusionWeights;
  /** How queries are prepared (default: match the catalogue's photo size). */
  query?: QueryPrep;
  epochs?: number;
  /**
   * Labelled shoppers' photos to learn the shopper head from, embedded with the index's model;
   * called only when a model is learned.
   */
  shopper?: () => Promise<ShopperExamples>;
  onStage?: (stage: 'colours' | 'learning', detail: string) => void;
  onProgress?: (stage: 'colours' | 'learning', done: number, total: number) => void;
}

/** The similarity recorded in a manifest, or undefined (an index made before similarities). */
export function recordedSimilarity(raw: unknown): SimilaritySpec | undefined {
  const parsed = SimilaritySpecSchema.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}

/** The catalogue's typical photo size (median width and height of up to 200 photos). */
export async function typicalPhotoSize(
  imagesDir: string,
  items: IndexItem[],
): Promise<{ width: number; height: number } | undefined> {
  const step = Math.max(1, Math.floor(items.length / 200));
  const sample = items.filter((_, i) => i % step === 0).slice(0, 200);
  const limit = pLimit(8);
  const sizes = (
    await Promise.all(
      sample.map((item) =>
        limit(() =>
          sharp(join(imagesDir, item.file))
            .metadata()
            .then(
              (m) => (m.width && m.height ? [m.width, m.height] : undefined),
              () => undefined,
            ),
        ),
      ),
    )
  ).filter((s): s is number[] => s !== undefined);
  if (sizes.length === 0) return undefined;
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  return {
    width: median(sizes.map((s) => s[0] as number)),
    height: median(sizes.map((s) => s[1] as number)),
  };
}

/** The builder's derive step for a similarity kind. */
export function deriveSimilarity(options: SimilarityOptions): (input: DeriveInput) => Promise<Derived> {
  return async (input) => {
    const previous = input.previous;
    const recorded = previous ? recordedSimilarity(previous.manifest.similarity) : undefined;
    let kind = options.kind === 'auto' ? (recorded?.kind ?? 'learned') : options.kind;
    if (recorded && recorded.kind !== kind && !options.rebuild) {
      throw new IndexError(
        `the index at ${input.outDir} uses ${describeSimilarity(recorded)}, not the ${kind} one; ` +
          'pass --rebuild to change it, or choose another --out',
      );
    }
    const needsLearning = kind === 'learned' && (options.relearn || recorded?.kind !== 'learned');
    // The catalogue's schema: given, or as the index recorded it (else detected from the products).
    const schema = options.schema ?? input.previous?.manifest.schema;
    const tasks = needsLearning ? (options.tasks ?? detectTasks(input.items, schema)) : undefined;
    const reason = tasks ? cannotLearn(input.items, tasks) : undefined;
    if (reason && options.kind === 'auto') {
      options.onNotice?.(`${reason}: using the original similarity`);
      kind = 'original';
    } else if (reason) throw new CannotLearnError(`${reason}; use --similarity original`);
    if (kind === 'original') {
      return { spec: { kind: 'original' }, files: [], unchanged: recorded?.kind === 'original' };
    }

    // Colours: reuse what the previous generation computed, by photo hash.
    let known: Map<string, Float32Array> | undefined;
    if (previous && recorded?.kind === 'learned') {
      const old = await readColours(input.outDir, recorded.coloursFile, previous.items.length);
      if (old) known = coloursByHash(previous.items, old);
    }
    options.onStage?.('colours', `${input.items.length} products`);
    const { colours } = await computeColours({
      imagesDir: input.imagesDir,
      items: input.items,
      known,
      onProgress: (done, total) => options.onProgress?.('colours', done, total),
    });
    const bytes = new Uint8Array(colours.buffer, colours.byteOffset, colours.byteLength);
    const coloursFile = `colours-${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}.f32`;

    let model: LoadedSimilarity | undefined;
    if (!options.relearn && recorded?.kind === 'learned')
      model = await readSimilarity(input.outDir, recorded.id);
    if (!model) {
      // Measured (README): matching the catalogue's resolution helps; cropping and whitening do not.
      const match = await typicalPhotoSize(input.imagesDir, input.items);
      const query = options.query ?? (match ? { match } : {});
      const shopper = await options.shopper?.();
      options.onStage?.('learning', `from ${input.items.length} products`);
      const learnInput: LearnInput = {
        shopper,
        items: input.items,
        vectors: input.vectors,
        dim: input.dim,
        tasks: tasks ?? options.tasks,
        schema,
        weights: options.weights,
        shopperWeights: options.shopperWeights,
        epochs: options.epochs,
        query,
        onEpoch: (epoch, epochs) => options.onProgress?.('learning', epoch, epochs),
      };
      const learned = await learnSimilarity(learnInput);
      await writeSimilarity(input.outDir, learned.file, learned.projection);
      model = await readSimilarity(input.outDir, learned.file.id);
      if (!model) throw new IndexError(`the learned similarity could not be read back from ${input.outDir}`);
    }
    const id = model.file.id;
    const spec = {
      kind: 'learned' as const,
      id,
      colour: COLOUR_DESCRIPTOR,
      coloursFile,
      files: [coloursFile, `similarity-${id}.json`, model.file.projection.file],
    };
    const unchanged =
      recorded?.kind === 'learned' && recorded.id === id && recorded.coloursFile === coloursFile;
    return { spec, files: unchanged ? [] : [{ name: coloursFile, data: bytes }], unchanged };
  };
}
