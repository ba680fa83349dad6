/**
 * The figures of one evaluation, as `lookalike eval --json` prints them and the sweep stores them
 * (<config>/eval.json, read back through this schema).
 */
import { z } from 'zod';
import { EmbeddingSpecSchema } from '../embeddings/spec-schema.js';
import { SIMILARITIES, SimilarityFileSchema } from '../similarity/model.js';
import { judgedLabelsZ, meanMetricZ } from './metrics.js';

const count = z.number().int().nonnegative();
const seconds = z.number().nonnegative();
const rate = z.number().nullable();
const perLabel = z.record(z.string(), meanMetricZ);

/** Leave-one-out figures, per label column (see leave-one-out.ts). */
export const leaveOneOutFiguresZ = z.object({
  k: z.number().int().positive(),
  /** Products evaluated (every product of the index, or the held-out ones with heldOutOnly). */
  products: count,
  /** Of those, products on the held-out side of the fixed split (the headline figures). */
  heldOut: count,
  /** Queries whose batched neighbours ran short and went through Recommender.nearest. */
  fallbacks: count,
  seconds,
  /** Held-out products as queries, against the whole catalogue: nothing was learned from their labels. */
  precision: perLabel,
  /** Every product as a query (training side included: flattering for a learned similarity). */
  precisionAll: perLabel,
});
export type LeaveOneOutFigures = z.infer<typeof leaveOneOutFiguresZ>;

/** Query-photo figures (see queries.ts). */
/** What every evaluation over a folder of query photos reports: the folder, and photos that could not be read. */
const photoFolderZ = z.object({ dir: z.string(), failed: count });

export const queryFiguresZ = photoFolderZ.extend({
  /** Photos in the folder. */
  inFolder: count,
  /** Of those, photos named after a product of the index. */
  inIndex: count,
  /** Of those, photos of products on the held-out side of the split (the ones sampled from). */
  heldOut: count,
  /** Photos embedded and evaluated. */
  used: count,
  recallAt1: rate,
  recallAt5: rate,
  meanReciprocalRank: rate,
  /** Precision@5 of the kind column (the summary's `labels.kind`) over the results other than the product. */
  kindPrecision: meanMetricZ,
  embedSeconds: seconds,
  searchSeconds: seconds,
});
export type QueryFigures = z.infer<typeof queryFiguresZ>;

export const streetMetricsZ = z.object({
  photos: count,
  precision: meanMetricZ,
  hitRate: meanMetricZ,
});
export type StreetMetrics = z.infer<typeof streetMetricsZ>;

/** Street-photo figures (see street.ts). */
/** The street photos' halves: tuned on, reported, and both. */
const streetHalvesZ = z.object({ tune: streetMetricsZ, report: streetMetricsZ, all: streetMetricsZ });

export const streetFiguresZ = photoFolderZ.extend({
  /** The metadata column the label map's values are compared with (the kind column by default). */
  column: z.string(),
  mapped: count,
  ...streetHalvesZ.shape,
  perLabel: z.array(streetMetricsZ.extend({ label: z.string() })),
  seconds,
});
export type StreetFigures = z.infer<typeof streetFiguresZ>;

export const evalSummaryZ = z.object({
  index: z.string(),
  products: count,
  distinctPhotos: count,
  spec: EmbeddingSpecSchema,
  /** The similarity searched with, its fused score's weights and how query photos were prepared. */
  similarity: z.enum(SIMILARITIES),
  weights: SimilarityFileSchema.shape.weights,
  shopperWeights: SimilarityFileSchema.shape.weights,
  queryPrep: SimilarityFileSchema.shape.query,
  shopperQueryPrep: SimilarityFileSchema.shape.query,
  /** Whether the colour part re-ranks within the kinds chosen without it (colour-within-kind.ts). */
  colourWithinKind: z.boolean().optional(),
  /** What the shopper head (the kind of a shopper's photo) learned from, if the model has one. */
  shopperHead: z.object({ source: z.string(), part: z.string(), photos: count }).optional(),
  /** The fixed product split: leave-one-out and query-photo figures are over held-out products. */
  split: z.string(),
  date: z.string(),
  /** The label columns judged (from the catalogue's schema) and the kind column. */
  labels: judgedLabelsZ,
  leaveOneOut: leaveOneOutFiguresZ,
  queries: queryFiguresZ.optional(),
  street: streetFiguresZ.optional(),
});
export type EvalSummary = z.infer<typeof evalSummaryZ>;
