/**
 * `learn`: from an index's frozen features and its products' labels to a similarity model.
 * Only the training side of the fixed product split is learned from (see split.ts), so that
 * evaluation on the held-out side is honest. The labelled columns to learn from are detected from
 * the metadata: every column with a few to a few hundred values that recur (not ids, names or
 * numbers), weighted by how many classes it has, the schema's kind column first.
 */

import { hashBytes } from '../catalogue/listing.js';
import { type CatalogueSchema, schemaOfProducts } from '../catalogue/schema.js';
import { COLOUR_DESCRIPTOR, COLOUR_DIM } from '../images/colour.js';
import type { QueryPrep } from '../images/query-prep.js';
import type { IndexItem } from '../index/store.js';
import type { FusionWeights, SimilarityFile } from './model.js';
import { projectionBytes, SIMILARITY_FORMAT, SIMILARITY_VERSION } from './model.js';
import { type Task, trainProjection } from './projection.js';
import {
  SHOPPER_HEAD_EPOCHS,
  SHOPPER_HEAD_LAMBDA,
  type ShopperExamples,
  trainShopperHead,
} from './shopper-head.js';
import { isHeldOut, SPLIT_NAME } from './split.js';

/** A labelled column and how much it counts. */
export interface TaskSpec {
  column: string;
  weight: number;
}

/** The fused score's default weights, measured on the training side (README, "Recommendation quality"). */
export const DEFAULT_WEIGHTS: FusionWeights = { visual: 0.45, learned: 0.15, labels: 0.2, colour: 0.2 };
/** For shoppers' photos (README, "Shoppers' photos"): the learned parts transfer poorly to them. */
export const DEFAULT_SHOPPER_WEIGHTS: FusionWeights = { visual: 1, learned: 0, labels: 0, colour: 0 };
/**
 * For shoppers' photos when a shopper head was learned: the visual similarity and the head's
 * kind probabilities (the labels weight), measured on street-dev's tune half with the head's
 * out-of-fold probabilities (README, "Shoppers' photos").
 */
export const DEFAULT_SHOPPER_HEAD_WEIGHTS: FusionWeights = {
  visual: 0.9,
  learned: 0,
  labels: 0.1,
  colour: 0,
};

/** A label column's share of the labels' weight: the first (kind) and colour-like columns count most. */
function labelShare(task: Task, tasks: Task[]): number {
  const total = tasks.reduce((sum, t) => sum + t.weight, 0);
  return Math.round((task.weight / total) * 1000) / 1000;
}
export const DEFAULT_OUTPUT_DIM = 256;
export const DEFAULT_EPOCHS = 12;
/** The least share of products a column must label to be learned from. */
const MIN_COVERAGE = 0.5;
const MAX_CLASSES = 1000;
/** A label column's values recur this often on average (names and ids do not). */
const MIN_MEAN_CLASS_SIZE = 3;
/** A class needs this many training products to be learned. */
const MIN_CLASS_SIZE = 2;

/** The schema of products whose catalogue's schema is not known: detected from their metadata. */
export function schemaOfItems(items: readonly IndexItem[]): CatalogueSchema {
  return schemaOfProducts(items.map((i) => i.metadata));
}

/**
 * The label columns to learn from: every metadata column (but the schema's id, title and photo
 * columns) that labels enough products with recurring values, weighted by log(classes); the
 * schema's kind column first (the similarity's "kind" is its first label column).
 */
export function detectTasks(items: IndexItem[], schema: CatalogueSchema = schemaOfItems(items)): TaskSpec[] {
  const skip = new Set([
    schema.idColumn,
    schema.titleColumn,
    schema.image.by === 'column' ? schema.image.column : undefined,
  ]);
  const columns = new Map<string, Map<string, number>>();
  for (const item of items) {
    for (const [column, value] of Object.entries(item.metadata)) {
      if (!value || skip.has(column)) continue;
      const values = columns.get(column) ?? new Map<string, number>();
      columns.set(column, values);
      values.set(value, (values.get(value) ?? 0) + 1);
    }
  }
  const found: { column: string; classes: number }[] = [];
  for (const [column, values] of columns) {
    const labelled = [...values.values()].reduce((sum, c) => sum + c, 0);
    const numeric = [...values.keys()].every((v) => /^-?\d+(\.\d+)?$/.test(v));
    if (numeric || labelled < items.length * MIN_COVERAGE) continue;
    if (values.size < 2 || values.size > MAX_CLASSES) continue;
    // Values that recur are labels; values that are mostly unique are names or ids.
    if (labelled / values.size < MIN_MEAN_CLASS_SIZE) continue;
    found.push({ column, classes: values.size });
  }
  const most = Math.max(2, ...found.map((f) => f.classes));
  const first = (column: string) => (column === schema.kindColumn ? 0 : 1);
  return found
    .map((f) => ({
      column: f.column,
      weight: Math.round((Math.log(f.classes) / Math.log(most)) * 100) / 100,
    }))
    .sort(
      (a, b) => first(a.column) - first(b.column) || b.weight - a.weight || a.column.localeCompare(b.column),
    );
}

export interface LearnInput {
  items: IndexItem[];
  /** count x dim visual vectors in row order. */
  vectors: Float32Array;
  dim: number;
  /** The label columns (default: detected from the schema's facets). */
  tasks?: TaskSpec[];
  /** The catalogue's schema (default: detected from the products' metadata). */
  schema?: CatalogueSchema;
  outputDim?: number;
  epochs?: number;
  weights?: FusionWeights;
  shopperWeights?: FusionWeights;
  query: QueryPrep;
  /** Labelled shoppers' photos to learn the shopper head from (shopper-head.ts). */
  shopper?: ShopperExamples;
  /** The colour part re-ranks within the kinds chosen without it (default true; README). */
  colourWithinKind?: boolean;
  seed?: number;
  /** Rows to learn from (default: one per distinct photo on the training side of the split). */
  rows?: number[];
  onEpoch?: (epoch: number, epochs: number, loss: number, accuracy: Record<string, number>) => void;
}

export interface Learned {
  file: SimilarityFile;
  projection: Uint8Array;
}

/** Training rows: one per distinct photo on the training side. */
export function trainingRows(items: IndexItem[]): number[] {
  const seen = new Set<string>();
  const rows: number[] = [];
  items.forEach((item, row) => {
    if (isHeldOut(item.hash) || seen.has(item.hash)) return;
    seen.add(item.hash);
    rows.push(row);
  });
  return rows;
}

function makeTask(items: IndexItem[], rows: number[], spec: TaskSpec): Task {
  const counts = new Map<string, number>();
  for (const r of rows) {
    const v = items[r]?.metadata[spec.column];
    if (v) counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  const classes = [...counts.entries()]
    .filter(([, c]) => c >= MIN_CLASS_SIZE)
    .map(([k]) => k)
    .sort();
  const at = new Map(classes.map((c, i) => [c, i]));
  const labels = new Int32Array(rows.length);
  rows.forEach((r, i) => {
    labels[i] = at.get(items[r]?.metadata[spec.column] ?? '') ?? -1;
  });
  return { name: spec.column, labels, classes, weight: spec.weight };
}

/** Fewer training products than this, and nothing is learned. */
export const MIN_TRAINING_PRODUCTS = 50;

/** A catalogue a similarity cannot be learned from: too small, or without label columns. */
export class CannotLearnError extends Error {}

/** Why a similarity cannot be learned from these products, or undefined when it can. */
export function cannotLearn(
  items: IndexItem[],
  tasks: TaskSpec[] = detectTasks(items),
  rows = trainingRows(items),
): string | undefined {
  if (tasks.length === 0) {
    return "the catalogue's schema has no facet to learn from (a column with recurring values, such as a category)";
  }
  const usable = tasks.map((s) => makeTask(items, rows, s)).filter((t) => t.classes.length >= 2);
  if (rows.length < MIN_TRAINING_PRODUCTS || usable.length === 0) {
    return `too few labelled products to learn from (${rows.length} on the training side, at least ${MIN_TRAINING_PRODUCTS})`;
  }
  return undefined;
}

export async function learnSimilarity(input: LearnInput): Promise<Learned> {
  const started = performance.now();
  const { items, vectors, dim } = input;
  const rows = input.rows ?? trainingRows(items);
  const specs = input.tasks ?? detectTasks(items, input.schema);
  const reason = cannotLearn(items, specs, rows);
  if (reason) throw new CannotLearnError(`${reason}; use --similarity original`);
  const tasks = specs.map((s) => makeTask(items, rows, s)).filter((t) => t.classes.length >= 2);
  const features = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => {
    features.set(vectors.subarray(r * dim, (r + 1) * dim), i * dim);
  });
  const epochs = input.epochs ?? DEFAULT_EPOCHS;
  let lastAccuracy: Record<string, number> = {};
  const projection = await trainProjection(features, dim, tasks, {
    dim: input.outputDim ?? DEFAULT_OUTPUT_DIM,
    epochs,
    seed: input.seed ?? 1,
    onEpoch: (e, total, loss, accuracy) => {
      lastAccuracy = accuracy;
      input.onEpoch?.(e, total, loss, accuracy);
    },
  });
  const shopper = input.shopper && (await trainShopperHead(input.shopper, projection));
  const { bytes, sha256 } = projectionBytes(projection, shopper?.head);
  const labels = tasks.map((t) => ({ column: t.name, classes: t.classes, share: labelShare(t, tasks) }));
  const weights = input.weights ?? DEFAULT_WEIGHTS;
  const shopperWeights =
    input.shopperWeights ?? (shopper ? DEFAULT_SHOPPER_HEAD_WEIGHTS : DEFAULT_SHOPPER_WEIGHTS);
  // The id covers everything that decides a search vector: other weights, other vectors.
  const id = hashBytes(
    new TextEncoder().encode(
      JSON.stringify([sha256, labels, weights, shopperWeights, input.query, input.colourWithinKind ?? true]),
    ),
  ).slice(0, 16);
  const file: SimilarityFile = {
    format: SIMILARITY_FORMAT,
    version: SIMILARITY_VERSION,
    id,
    createdAt: new Date().toISOString(),
    projection: { file: `projection-${id}.f32`, inputDim: dim, outputDim: projection.outputDim, sha256 },
    colour: { descriptor: COLOUR_DESCRIPTOR, dim: COLOUR_DIM },
    labels,
    weights,
    shopperWeights,
    query: input.query,
    colourWithinKind: input.colourWithinKind ?? true,
    shopperHead:
      shopper && input.shopper
        ? {
            column: tasks[0]?.name as string,
            labels: shopper.head.labels.map((label, i) => ({ label, kinds: shopper.head.kinds[i] ?? [] })),
            source: input.shopper.source,
            part: input.shopper.part,
            photos: input.shopper.labels.length,
            lambda: SHOPPER_HEAD_LAMBDA,
            epochs: SHOPPER_HEAD_EPOCHS,
            trainAccuracy: Math.round(shopper.trainAccuracy * 1000) / 1000,
            runnerUp: true,
          }
        : undefined,
    training: {
      split: SPLIT_NAME,
      products: rows.length,
      heldOut: items.filter((i) => isHeldOut(i.hash)).length,
      tasks: tasks.map((t) => ({ name: t.name, classes: t.classes.length, weight: t.weight })),
      epochs,
      seconds: Math.round((performance.now() - started) / 100) / 10,
      trainAccuracy: Object.fromEntries(
        Object.entries(lastAccuracy).map(([k, v]) => [k, Math.round(v * 1000) / 1000]),
      ),
    },
  };
  return { file, projection: bytes };
}
