/**
 * The learned similarity of an index folder, a plain file contract beside the index files:
 *
 *   <index>/similarity-<id>.json     what was learned, how the scores are fused, how queries are prepared
 *   <index>/projection-<id>.f32      mean (2048), scale (2048), weights (2048 x outputDim), then the
 *                                    label heads (outputDim x all classes, a bias per class), then
 *                                    the shopper head if any (2048 x its labels, a bias per label),
 *                                    float32 LE
 *   <index>/colours-<gen>.f32        count x COLOUR_DIM colour descriptors, row i = items[i] of that generation
 *
 * The model's id (a hash of the projection file) and the colour descriptor are recorded in the
 * index manifest's `similarity`, so an index never pairs vectors with a model it was not made for.
 * The model files are written before the manifest that names them, and those of models no manifest
 * names any more are removed after it, so a crash at any moment leaves a consistent index.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { hashBytes } from '../catalogue/listing.js';
import { COLOUR_DESCRIPTOR, COLOUR_DIM } from '../images/colour.js';
import { IndexError } from '../index/store.js';
import { writeDurably, writeJsonDurably } from '../io/durable.js';
import { FileFormatError, readJsonFile } from '../io/json-file.js';
import type { Projection } from './projection.js';
import type { ShopperHead } from './shopper-head.js';

export const SIMILARITY_FORMAT = 'lookalike-similarity';
export const SIMILARITY_VERSION = 1;
export const similarityPath = (dir: string, id: string) => join(dir, `similarity-${id}.json`);
export const coloursFileName = (generation: number) => `colours-${String(generation).padStart(6, '0')}.f32`;

/** How much each similarity counts; the fused score is their weighted sum (weights sum to 1). */
const WeightsSchema = z.object({
  visual: z.number().min(0),
  learned: z.number().min(0),
  labels: z.number().min(0),
  colour: z.number().min(0),
});
export type FusionWeights = z.infer<typeof WeightsSchema>;

const QueryPrepSchema = z.object({
  crop: z.boolean().optional(),
  whiten: z.boolean().optional(),
  match: z.object({ width: z.number().int().positive(), height: z.number().int().positive() }).optional(),
  flip: z.boolean().optional(),
});

export const SimilarityFileSchema = z.object({
  format: z.literal(SIMILARITY_FORMAT),
  version: z.literal(SIMILARITY_VERSION),
  id: z.string().regex(/^[0-9a-f]{16}$/),
  createdAt: z.string(),
  projection: z.object({
    file: z.string().regex(/^projection-[0-9a-f]{16}\.f32$/),
    inputDim: z.number().int().positive(),
    outputDim: z.number().int().positive(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
  }),
  colour: z.object({ descriptor: z.string(), dim: z.number().int().positive() }),
  /**
   * The label columns the heads predict, in head order, with their classes and their share of the
   * labels' weight in the fused score. The first is the kind of product.
   */
  labels: z.array(z.object({ column: z.string(), classes: z.array(z.string()), share: z.number().min(0) })),
  weights: WeightsSchema,
  /**
   * The weights for a shopper's photo (not on a plain light background, as catalogue photos are):
   * measured apart, since what was learned from studio photos transfers less well to them.
   */
  shopperWeights: WeightsSchema,
  /** How a query photo is prepared before it is described. */
  query: QueryPrepSchema,
  /** How a shopper's photo is prepared (absent: as it is). */
  shopperQuery: QueryPrepSchema.optional(),
  /**
   * The colour part re-ranks results only within the kinds chosen without it (absent: it is fused
   * with the rest like any part; see src/recommend/colour-within-kind.ts).
   */
  colourWithinKind: z.boolean().optional(),
  /**
   * Which kind a shopper's photo shows, learned from labelled shoppers' photos (shopper-head.ts):
   * its labels, in head order, each with the values of the kind column `column` that count as it.
   * Its probabilities fill a shopper photo's kind block, weighted by `shopperWeights.labels`.
   */
  shopperHead: z
    .object({
      column: z.string(),
      labels: z.array(z.object({ label: z.string(), kinds: z.array(z.string()) })),
      source: z.string(),
      part: z.string(),
      photos: z.number().int().positive(),
      lambda: z.number(),
      epochs: z.number().int(),
      trainAccuracy: z.number(),
      /**
       * Whether the likeliest other kind of a shopper's photo gets a result of its own (rank 5,
       * see recommender.ts HEDGE_RANK) when none of the first five is of it (absent: yes).
       */
      runnerUp: z.boolean().optional(),
    })
    .optional(),
  training: z.object({
    split: z.string(),
    products: z.number().int().nonnegative(),
    heldOut: z.number().int().nonnegative(),
    tasks: z.array(z.object({ name: z.string(), classes: z.number().int(), weight: z.number() })),
    epochs: z.number().int(),
    seconds: z.number(),
    trainAccuracy: z.record(z.string(), z.number()),
  }),
});
export type SimilarityFile = z.infer<typeof SimilarityFileSchema>;

/**
 * What the index manifest records of its similarity: the original design (visual only), or a
 * learned model. Absent in indexes made before similarities existed (they can take either).
 */
export const SimilaritySpecSchema = z.union([
  z.object({ kind: z.literal('original') }),
  z.object({ kind: z.literal('learned'), id: z.string(), colour: z.string(), coloursFile: z.string() }),
]);
export type SimilaritySpec = z.infer<typeof SimilaritySpecSchema>;

export const SIMILARITIES = ['learned', 'original'] as const;
export type SimilarityKind = (typeof SIMILARITIES)[number];

export function describeSimilarity(spec: SimilaritySpec | undefined): string {
  return spec?.kind === 'learned' ? `the learned similarity ${spec.id}` : 'the original similarity';
}

export interface LoadedSimilarity {
  file: SimilarityFile;
  projection: Projection;
  shopperHead?: ShopperHead;
}

/** Reads a similarity model and its projection, checking both; undefined when the file is absent. */
export async function readSimilarity(dir: string, id: string): Promise<LoadedSimilarity | undefined> {
  const path = similarityPath(dir, id);
  let file: SimilarityFile | undefined;
  try {
    file = await readJsonFile(path, SimilarityFileSchema, { optional: true });
  } catch (err) {
    if (!(err instanceof FileFormatError)) throw err;
    throw new IndexError(`${err.message}; run lookalike learn`);
  }
  if (!file) return undefined;
  if (file.colour.descriptor !== COLOUR_DESCRIPTOR || file.colour.dim !== COLOUR_DIM) {
    throw new IndexError(
      `${path} uses colour descriptor ${file.colour.descriptor}, this version makes ${COLOUR_DESCRIPTOR}; run lookalike learn`,
    );
  }
  const bytes = await readFile(join(dir, file.projection.file)).catch(() => undefined);
  if (!bytes || hashBytes(bytes) !== file.projection.sha256) {
    throw new IndexError(`${join(dir, file.projection.file)} is missing or damaged; run lookalike learn`);
  }
  const { inputDim, outputDim } = file.projection;
  const classes = file.labels.reduce((sum, l) => sum + l.classes.length, 0);
  const floats = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const main = inputDim * (2 + outputDim);
  const heads = main + classes * (outputDim + 1);
  const shopperLabels = file.shopperHead?.labels.length ?? 0;
  if (floats.length !== heads + shopperLabels * (inputDim + 1)) {
    throw new IndexError(`${file.projection.file} has the wrong size`);
  }
  const shopperHead: ShopperHead | undefined = file.shopperHead && {
    labels: file.shopperHead.labels.map((l) => l.label),
    kinds: file.shopperHead.labels.map((l) => l.kinds),
    weights: floats.slice(heads, heads + inputDim * shopperLabels),
    bias: floats.slice(heads + inputDim * shopperLabels),
  };
  return {
    file,
    shopperHead,
    projection: {
      inputDim,
      outputDim,
      mean: floats.slice(0, inputDim),
      scale: floats.slice(inputDim, 2 * inputDim),
      weights: floats.slice(2 * inputDim, main),
      head: {
        weights: floats.slice(main, main + classes * outputDim),
        bias: floats.slice(main + classes * outputDim, heads),
      },
    },
  };
}

/** Serialises a projection (and the shopper head, if any), with the SHA-256 of its bytes. */
export function projectionBytes(p: Projection, shopper?: ShopperHead): { bytes: Uint8Array; sha256: string } {
  const main = p.inputDim * (2 + p.outputDim);
  const headLength = (p.head?.weights.length ?? 0) + (p.head?.bias.length ?? 0);
  const shopperLength = shopper ? shopper.weights.length + shopper.bias.length : 0;
  const all = new Float32Array(main + headLength + shopperLength);
  all.set(p.mean, 0);
  all.set(p.scale, p.inputDim);
  all.set(p.weights, 2 * p.inputDim);
  if (p.head) {
    all.set(p.head.weights, main);
    all.set(p.head.bias, main + p.head.weights.length);
  }
  if (shopper) {
    all.set(shopper.weights, main + headLength);
    all.set(shopper.bias, main + headLength + shopper.weights.length);
  }
  const bytes = new Uint8Array(all.buffer);
  return { bytes, sha256: hashBytes(bytes) };
}

/** Writes the projection file first, then similarity.json, each durably. */
export async function writeSimilarity(
  dir: string,
  file: SimilarityFile,
  projection: Uint8Array,
): Promise<void> {
  await writeDurably(join(dir, file.projection.file), projection);
  await writeJsonDurably(similarityPath(dir, file.id), file);
}

/** Reads a colours file (count x COLOUR_DIM), or undefined when it is absent or of another size. */
export async function readColours(
  dir: string,
  file: string,
  count: number,
): Promise<Float32Array | undefined> {
  const bytes = await readFile(join(dir, file)).catch(() => undefined);
  if (!bytes || bytes.length !== count * COLOUR_DIM * 4) return undefined;
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}
