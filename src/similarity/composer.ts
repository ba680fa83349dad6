/**
 * One search vector per product (and per query) that carries the whole fused similarity:
 *
 *   v = [ √a · visual (2048), √b · learned projection (D), √l · labels (Σ classes), √c · colour (77) ]
 *
 * Each part is a unit vector and a + b + l + c = 1, so |v| = 1 and v·v' = a·cos_visual +
 * b·cos_learned + l·labels + c·colour. Exact search, HNSW, filters and identical-photo handling
 * then work unchanged on the fused score.
 *
 * The labels part is where a product and a query photo differ. A catalogue product carries its own
 * labels from the catalogue (one-hot per label column: its kind, its colour...). A photo carries
 * what the learned heads predict of it (class probabilities, normalised). Their dot product is how
 * likely the photo is to be of the product's kind and colour. A photo never carries its own
 * labels: evaluation queries catalogue products as photos too (see asPhotoQuery).
 *
 * With the original similarity, v is the visual vector alone.
 */

import type { Metadata } from '../catalogue/metadata.js';
import { MatMul } from '../compute/matmul.js';
import { COLOUR_DIM } from '../images/colour.js';
import type { QueryPrep } from '../images/query-prep.js';
import { UsearchExact, usearchExactAvailable } from '../index/usearch.js';
import type { FusionWeights, LoadedSimilarity } from './model.js';
import { project, standardise } from './projection.js';
import { type ShopperHead, shopperLabelProbabilities } from './shopper-head.js';

interface Part {
  offset: number;
  size: number;
  root: number;
}

/** The shopper head's reading of a shopper's photo (Similarity.shopperGuess). */
export interface ShopperGuess {
  label: string;
  kinds: string[];
  probability: number;
  /** The likeliest other label with other kinds, and those kinds. */
  runnerUp?: { label: string; kinds: string[] };
}

export interface Prediction {
  column: string;
  value: string;
  probability: number;
}

export class Similarity {
  readonly dim: number;
  private readonly visual: Part;
  private readonly projected: Part;
  private readonly labels: (Part & { column: string; classes: Map<string, number> })[];
  private readonly colour: Part;
  private readonly weightsUsed: FusionWeights;
  /** Query-side root weights for shoppers' photos, scaled so that root_q · root_catalogue = weight. */
  private readonly shopperRoots: number[] | undefined;
  /** The label block the shopper head's kinds fill (the kind column's), with the head. */
  private readonly shopperKind:
    | { part: Part & { classes: Map<string, number> }; head: ShopperHead }
    | undefined;

  private constructor(
    readonly visualDim: number,
    readonly learned?: LoadedSimilarity,
  ) {
    const w: FusionWeights = learned?.file.weights ?? { visual: 1, learned: 0, labels: 0, colour: 0 };
    const total = w.visual + w.learned + w.labels + w.colour || 1;
    this.weightsUsed = {
      visual: w.visual / total,
      learned: w.learned / total,
      labels: w.labels / total,
      colour: w.colour / total,
    };
    let offset = 0;
    const part = (size: number, weight: number): Part => {
      const p = { offset, size, root: Math.sqrt(weight) };
      offset += size;
      return p;
    };
    this.visual = part(visualDim, this.weightsUsed.visual);
    this.projected = part(learned?.projection.outputDim ?? 0, this.weightsUsed.learned);
    const columns = learned?.file.labels ?? [];
    const shares = columns.reduce((sum, l) => sum + l.share, 0) || 1;
    this.labels = columns.map((l) => ({
      ...part(l.classes.length, (this.weightsUsed.labels * l.share) / shares),
      column: l.column,
      classes: new Map(l.classes.map((c, i) => [c, i])),
    }));
    this.colour = part(learned ? COLOUR_DIM : 0, this.weightsUsed.colour);
    this.dim = offset;
    const headColumn = learned?.file.shopperHead?.column;
    const kindPart = this.labels.find((l) => l.column === headColumn);
    if (learned?.shopperHead && kindPart) this.shopperKind = { part: kindPart, head: learned.shopperHead };
    const sw = learned?.file.shopperWeights;
    if (sw) {
      const t = sw.visual + sw.learned + sw.labels + sw.colour || 1;
      const q = (w: number, root: number) => (root > 0 ? w / t / root : 0);
      this.shopperRoots = [
        q(sw.visual, this.visual.root),
        q(sw.learned, this.projected.root),
        q(sw.labels, Math.sqrt(this.weightsUsed.labels)),
        q(sw.colour, this.colour.root),
      ];
    }
  }

  static original(visualDim: number): Similarity {
    return new Similarity(visualDim);
  }

  static learned(visualDim: number, model: LoadedSimilarity): Similarity {
    return new Similarity(visualDim, model);
  }

  get kind(): 'learned' | 'original' {
    return this.learned ? 'learned' : 'original';
  }

  /** Names the space its search vectors live in: the original's, or one learned similarity's. */
  get identity(): string {
    return this.learned ? `learned:${this.learned.file.id}:${this.dim}` : `original:${this.dim}`;
  }

  get weights(): FusionWeights {
    return { ...this.weightsUsed };
  }

  /** The weights used for shoppers' photos. */
  get shopperWeights(): FusionWeights {
    return this.learned?.file.shopperWeights ?? this.weights;
  }

  /** How catalogue-like query photos are prepared (none for the original similarity). */
  get queryPrep(): QueryPrep {
    return this.learned?.file.query ?? {};
  }

  /** How shoppers' photos (not on a plain light background) are prepared: as they are by default. */
  get shopperQueryPrep(): QueryPrep {
    return this.learned?.file.shopperQuery ?? {};
  }

  /** The label column that names a product's kind (the first learned), if any. */
  get kindColumn(): string | undefined {
    return this.labels[0]?.column;
  }

  /**
   * Search vectors of catalogue products: visual (count x visualDim), colours (count x
   * COLOUR_DIM) and their catalogue labels.
   */
  async composeAll(
    visual: Float32Array,
    colours: Float32Array | undefined,
    metadata: readonly Metadata[],
  ): Promise<Float32Array> {
    if (!this.learned) return visual;
    const count = visual.length / this.visualDim;
    const mm = await MatMul.create();
    let projected: Float32Array;
    try {
      projected = await project(mm, this.learned.projection, visual);
    } finally {
      await mm.close();
    }
    const out = new Float32Array(count * this.dim);
    const d = this.projected.size;
    for (let r = 0; r < count; r++) {
      const row = out.subarray(r * this.dim, (r + 1) * this.dim);
      this.fill(row, this.visual, visual.subarray(r * this.visualDim, (r + 1) * this.visualDim));
      this.fill(row, this.projected, projected.subarray(r * d, (r + 1) * d));
      for (const l of this.labels) {
        const at = l.classes.get(metadata[r]?.[l.column] ?? '');
        if (at !== undefined) row[l.offset + at] = l.root;
        // Unknown label: spread evenly, so that the vector keeps its length.
        else row.fill(l.root / Math.sqrt(l.size), l.offset, l.offset + l.size);
      }
      this.fillColour(row, colours?.subarray(r * COLOUR_DIM, (r + 1) * COLOUR_DIM));
    }
    return out;
  }

  /**
   * The search vector of a photo: its visual vector and (learned similarity) its colour descriptor.
   * A shopper's photo (not studio-like) is weighted with the shopper weights.
   */
  compose(visual: Float32Array, colour: Float32Array | undefined, studio = true): Float32Array {
    if (!this.learned) return visual;
    const z = this.projectOne(visual);
    return this.composeProjected(visual, z, this.logits(z), colour, studio);
  }

  /**
   * compose and predict at once: the learned projection of the visual vector, which both need, is
   * computed once.
   */
  composeAndPredict(
    visual: Float32Array,
    colour: Float32Array | undefined,
    studio = true,
  ): { vector: Float32Array; predicted: Prediction[] } {
    if (!this.learned) return { vector: visual, predicted: [] };
    const z = this.projectOne(visual);
    const logits = this.logits(z);
    const vector = this.composeProjected(visual, z, logits, colour, studio);
    return { vector, predicted: this.predictFrom(logits) };
  }

  private composeProjected(
    visual: Float32Array,
    z: Float32Array,
    logits: Float32Array,
    colour: Float32Array | undefined,
    studio: boolean,
  ): Float32Array {
    if (!studio && this.shopperKind) return this.composeShopper(visual, z, colour, this.shopperKind);
    const out = this.composeStudio(visual, z, logits, colour);
    if (studio || !this.shopperRoots) return out;
    // Re-weight each part (its catalogue-side root is fixed), then back to unit length.
    const [v, l, lab, c] = this.shopperRoots as [number, number, number, number];
    const scale = (part: Part, s: number) => {
      for (let i = part.offset; i < part.offset + part.size; i++) out[i] = (out[i] as number) * s;
    };
    scale(this.visual, this.visual.root > 0 ? v / this.visual.root : 0);
    scale(this.projected, this.projected.root > 0 ? l / this.projected.root : 0);
    const labelRoot = Math.sqrt(this.weightsUsed.labels);
    for (const part of this.labels) scale(part, labelRoot > 0 ? lab / labelRoot : 0);
    scale(this.colour, this.colour.root > 0 ? c / this.colour.root : 0);
    let norm = 0;
    for (const x of out) norm += x * x;
    norm = Math.sqrt(norm) || 1;
    for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) / norm;
    return out;
  }

  /**
   * A shopper's photo with a shopper head: each part weighted by the shopper weights, and the kind
   * block holding, per kind, the head's probability that the photo shows it (not normalised, so
   * that the score adds labels weight x that probability). The other label blocks stay empty.
   */
  private composeShopper(
    visual: Float32Array,
    z: Float32Array,
    colour: Float32Array | undefined,
    kind: NonNullable<Similarity['shopperKind']>,
  ): Float32Array {
    const sw = this.shopperWeights;
    const total = sw.visual + sw.learned + sw.labels + sw.colour || 1;
    const out = new Float32Array(this.dim);
    const put = (part: Part, values: Float32Array, weight: number, normalise = true) => {
      if (part.size === 0 || part.root === 0 || weight === 0) return;
      let norm = 0;
      if (normalise) for (let i = 0; i < part.size; i++) norm += (values[i] as number) ** 2;
      const scale = weight / total / part.root / (normalise ? Math.sqrt(norm) || 1 : 1);
      for (let i = 0; i < part.size; i++) out[part.offset + i] = (values[i] as number) * scale;
    };
    put(this.visual, visual, sw.visual);
    put(this.projected, z, sw.learned);
    if (colour?.some((v) => v !== 0)) put(this.colour, colour, sw.colour);
    const p = this.shopperLabels(visual, kind.head);
    const perKind = new Float32Array(kind.part.size);
    kind.head.kinds.forEach((kinds, j) => {
      for (const k of kinds) {
        const at = kind.part.classes.get(k);
        if (at !== undefined) perKind[at] = (perKind[at] as number) + (p[j] as number);
      }
    });
    put(kind.part, perKind, sw.labels, false);
    let norm = 0;
    for (const x of out) norm += x * x;
    norm = Math.sqrt(norm) || 1;
    for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) / norm;
    return out;
  }

  /** The shopper head's label probabilities for a visual vector. */
  private shopperLabels(visual: Float32Array, head: ShopperHead): Float32Array {
    return shopperLabelProbabilities(
      head,
      standardise((this.learned as LoadedSimilarity).projection, visual),
    );
  }

  /**
   * What the shopper head makes of a shopper's photo (undefined without one): the label it most
   * likely shows, the catalogue kinds that count as it and how likely; and the runner-up, the
   * likeliest label that brings other kinds (the recommender gives it a result of its own).
   */
  shopperGuess(visual: Float32Array): ShopperGuess | undefined {
    const head = this.shopperKind?.head;
    if (!head) return undefined;
    const p = this.shopperLabels(visual, head);
    const order = Array.from(p.keys()).sort((a, b) => (p[b] as number) - (p[a] as number));
    const best = order[0] as number;
    const kinds = head.kinds[best] ?? [];
    const next = order.slice(1).find((j) => (head.kinds[j] ?? []).some((k) => !kinds.includes(k)));
    return {
      label: head.labels[best] as string,
      kinds,
      probability: p[best] as number,
      // (Only where the head counts in the score: a lever measured without it has no runner-up.)
      ...(next === undefined ||
      this.learned?.file.shopperHead?.runnerUp === false ||
      this.shopperWeights.labels === 0
        ? {}
        : {
            runnerUp: {
              label: head.labels[next] as string,
              kinds: (head.kinds[next] ?? []).filter((k) => !kinds.includes(k)),
            },
          }),
    };
  }

  private composeStudio(
    visual: Float32Array,
    z: Float32Array,
    logits: Float32Array,
    colour: Float32Array | undefined,
  ): Float32Array {
    const out = new Float32Array(this.dim);
    this.fill(out, this.visual, visual);
    this.fill(out, this.projected, z);
    for (const l of this.labels) {
      const p = softmax(logits.subarray(l.offset - this.labelsOffset, l.offset - this.labelsOffset + l.size));
      this.fill(out, l, p);
    }
    this.fillColour(out, colour);
    return out;
  }

  /**
   * A catalogue product's search vector turned into the vector of its photo as a query: its own
   * labels replaced by what the heads predict from its pixels. Evaluation queries with these.
   */
  asPhotoQuery(stored: Float32Array): Float32Array {
    if (!this.learned) return stored;
    const visual = stored.slice(this.visual.offset, this.visual.offset + this.visual.size);
    const colour = stored.slice(this.colour.offset, this.colour.offset + this.colour.size);
    if (this.visual.root > 0)
      for (let i = 0; i < visual.length; i++) visual[i] = (visual[i] as number) / this.visual.root;
    if (this.colour.root > 0)
      for (let i = 0; i < colour.length; i++) colour[i] = (colour[i] as number) / this.colour.root;
    return this.compose(visual, this.colour.root > 0 ? colour : undefined);
  }

  /** The likely value of each label column for a visual vector, most likely first per column. */
  predict(visual: Float32Array): Prediction[] {
    if (!this.learned) return [];
    return this.predictFrom(this.logits(this.projectOne(visual)));
  }

  private predictFrom(logits: Float32Array): Prediction[] {
    return this.labels.map((l) => {
      const p = softmax(logits.subarray(l.offset - this.labelsOffset, l.offset - this.labelsOffset + l.size));
      let best = 0;
      for (let j = 1; j < p.length; j++) if ((p[j] as number) > (p[best] as number)) best = j;
      const value = [...l.classes.keys()][best] as string;
      return { column: l.column, value, probability: p[best] as number };
    });
  }

  /** Whether the colour part re-ranks results only within the kinds chosen without it (colour-within-kind.ts). */
  get colourWithinKind(): boolean {
    return (
      this.colour.root > 0 && this.kindColumn !== undefined && this.learned?.file.colourWithinKind === true
    );
  }

  /** The colour part's share of the dot product of a query and a product vector (0 without colour). */
  colourContribution(query: Float32Array, product: Float32Array): number {
    const { offset, size } = this.colour;
    let s = 0;
    for (let i = offset; i < offset + size; i++) s += (query[i] as number) * (product[i] as number);
    return s;
  }

  /** A copy of a query vector without its colour part: it scores products without colour. */
  withoutColour(query: Float32Array): Float32Array {
    const out = query.slice();
    out.fill(0, this.colour.offset, this.colour.offset + this.colour.size);
    return out;
  }

  /**
   * Whether this query's results are re-ranked with colour within kind: the model says so and the
   * query has a colour part (shoppers' photos weigh it 0 by default).
   */
  reranksColour(query: Float32Array): boolean {
    if (!this.colourWithinKind) return false;
    const { offset, size } = this.colour;
    for (let i = offset; i < offset + size; i++) if (query[i] !== 0) return true;
    return false;
  }

  /** The colour similarity (Bhattacharyya coefficient) of two search vectors; 0 without colour. */
  colourSimilarity(a: Float32Array, b: Float32Array): number {
    const { offset, size, root } = this.colour;
    if (root === 0) return 0;
    let s = 0;
    for (let i = offset; i < offset + size; i++) s += (a[i] as number) * (b[i] as number);
    return s / (root * root);
  }

  private get labelsOffset(): number {
    return this.labels[0]?.offset ?? 0;
  }

  /** Writes a part: the values normalised to unit length, times the part's root weight. */
  private fill(out: Float32Array, part: Part, values: Float32Array): void {
    if (part.size === 0) return;
    let norm = 0;
    for (let i = 0; i < part.size; i++) norm += (values[i] as number) ** 2;
    const scale = norm > 0 ? part.root / Math.sqrt(norm) : 0;
    for (let i = 0; i < part.size; i++) out[part.offset + i] = (values[i] as number) * scale;
  }

  /** The colour part; without a descriptor, its share goes to the visual part (the vector stays unit). */
  private fillColour(out: Float32Array, colour: Float32Array | undefined): void {
    if (this.colour.size === 0) return;
    if (colour?.some((v) => v !== 0)) {
      this.fill(out, this.colour, colour);
      return;
    }
    const a = this.visual.root;
    const scale = a > 0 ? Math.sqrt(a * a + this.colour.root ** 2) / a : 1;
    for (let i = 0; i < this.visual.size; i++)
      out[this.visual.offset + i] = (out[this.visual.offset + i] as number) * scale;
  }

  /**
   * The projection's weights as outputDim rows of inputDim (transposed), for usearch's SIMD inner
   * products: a query photo is projected alone, where a TypeScript loop over 2048 x outputDim
   * weights takes about 2 ms (measured under load on the event loop).
   */
  private transposed?: UsearchExact;

  /** The unnormalised learned projection of one visual vector. */
  private projectOne(visual: Float32Array): Float32Array {
    const p = (this.learned as LoadedSimilarity).projection;
    if (usearchExactAvailable) {
      if (!this.transposed) {
        const t = new Float32Array(p.inputDim * p.outputDim);
        for (let i = 0; i < p.inputDim; i++)
          for (let j = 0; j < p.outputDim; j++)
            t[j * p.inputDim + i] = p.weights[i * p.outputDim + j] as number;
        this.transposed = new UsearchExact(t, p.inputDim);
      }
      return this.transposed.innerProducts(standardise(p, visual), p.outputDim);
    }
    const z = new Float32Array(p.outputDim);
    for (let i = 0; i < p.inputDim; i++) {
      const x = ((visual[i] as number) - (p.mean[i] as number)) / (p.scale[i] as number);
      if (x === 0) continue;
      const base = i * p.outputDim;
      for (let j = 0; j < p.outputDim; j++) z[j] = (z[j] as number) + x * (p.weights[base + j] as number);
    }
    return z;
  }

  /** Every head's logits for a projection, concatenated in label order. */
  private logits(z: Float32Array): Float32Array {
    const head = this.learned?.projection.head;
    if (!head) return new Float32Array(0);
    const classes = head.bias.length;
    const out = Float32Array.from(head.bias);
    for (let i = 0; i < z.length; i++) {
      const zi = z[i] as number;
      if (zi === 0) continue;
      const base = i * classes;
      for (let j = 0; j < classes; j++) out[j] = (out[j] as number) + zi * (head.weights[base + j] as number);
    }
    return out;
  }
}

function softmax(logits: Float32Array): Float32Array {
  let max = Number.NEGATIVE_INFINITY;
  for (const v of logits) if (v > max) max = v;
  const out = new Float32Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const e = Math.exp((logits[i] as number) - max);
    out[i] = e;
    sum += e;
  }
  for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) / sum;
  return out;
}
