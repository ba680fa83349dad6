/**
 * Recommendations over a loaded index: the k most similar products to a photo or to a catalogue
 * product, never echoing the query's own photo, with identical photos collapsed into one result.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pLimit from 'p-limit';
import sharp from 'sharp';
import { hashBytes } from '../catalogue/listing.js';
import { type CatalogueSchema, titleOf } from '../catalogue/schema.js';
import { Embedder, type EmbedderOptions, type ImageInput, optionsForSpec } from '../embeddings/embedder.js';
import type { Device } from '../embeddings/runtime.js';
import type { EmbeddingSpec } from '../embeddings/spec.js';
import { colourOf, smallRgb } from '../images/colour.js';
import { type ImageError, isImageError } from '../images/errors.js';
import { findForeground } from '../images/foreground.js';
import { hasPrep, prepareQuery } from '../images/query-prep.js';
import { FilterIndex, type Filters, hasFilters } from '../index/filters.js';
import { openStore } from '../index/location/open.js';
import type { IndexItem, OpenStoreOptions, StoreInfo, VectorStore } from '../index/port.js';
import { type Prediction, Similarity } from '../similarity/composer.js';
import type { FusionWeights, SimilarityKind } from '../similarity/model.js';
import { openSimilarity, type SimilarityTuning } from '../similarity/open.js';

export interface Recommendation {
  id: string;
  /** Cosine similarity to the query, 1 = identical. */
  score: number;
  /** The product's title (the schema's title column). */
  name?: string;
  /** All metadata columns of the product (the schema says which are facets). */
  metadata: Record<string, string>;
  imagePath: string;
  /** Other product ids listed with the very same photo. */
  alsoListedAs: string[];
  /** Why it matched, where the learned similarity knows: "same colour", "same <kind column>: <value>". */
  reasons: string[];
}

export interface QueryInfo {
  /** The catalogue product whose photo is byte-identical to the query photo, if any. */
  recognisedAs?: string;
  /** Product ids kept out of the results because they are the query itself. */
  excluded: string[];
  /** The learned similarity's guesses of the photo's labels, its kind first (photos not in the catalogue). */
  predicted?: Prediction[];
}

export interface RecommendOptions {
  k?: number;
  where?: Filters;
}

export interface RecommendResult {
  query: QueryInfo;
  results: Recommendation[];
}

export class UnknownProductError extends Error {}

/** A query photo ready to embed: prepared, its mirror image (test-time flip) and its colours. */
interface PreparedQuery {
  input: ImageInput;
  mirror?: ImageInput;
  colour?: Float32Array;
  /** On a plain light background, as catalogue photos are (else a shopper's photo). */
  studio?: boolean;
}

/** Colour similarity (Bhattacharyya coefficient of the colour descriptors) from which colours are "the same". */
const SAME_COLOUR = 0.8;

export interface RecommenderOptions extends Omit<OpenStoreOptions, 'searchSpace'> {
  device?: Device;
  /** Load the model now rather than on the first photo query. */
  eager?: boolean;
  /**
   * Which similarity to search with: the index's learned one (the default where it has one) or
   * the original design's (visual vectors alone, query photos as they are).
   */
  similarity?: SimilarityKind;
  /** Other fusion weights or query preparation than the learned model's own (for measuring levers). */
  tuning?: SimilarityTuning;
}

export { SEARCH_MODES, type SearchMode } from '../index/port.js';

/** What a recommender serves: the store, the embedding spec and the similarity. */
export interface CatalogueInfo extends StoreInfo {
  spec: EmbeddingSpec;
  /** Dimension of the vectors searched. */
  dim: number;
  /** The similarity searched with, and the weights of its fused score. */
  similarity: SimilarityKind;
  weights: FusionWeights;
}

export class Recommender {
  private embedder?: Promise<Embedder>;
  readonly manifest: CatalogueInfo;

  private constructor(
    readonly store: VectorStore,
    private readonly options: RecommenderOptions,
    readonly similarity: Similarity,
  ) {
    this.manifest = {
      ...store.info,
      spec: store.spec,
      dim: store.dim,
      similarity: similarity.kind,
      weights: similarity.weights,
    };
  }

  /** What the catalogue's columns mean: title, facets, kind. */
  get schema(): CatalogueSchema {
    return this.store.schema;
  }

  get items(): readonly IndexItem[] {
    return this.store.items;
  }

  /** Rows per facet value, for checking filters and listing facets. */
  get filters(): FilterIndex {
    this.filterIndex ??= new FilterIndex(this.store.items);
    return this.filterIndex;
  }

  private filterIndex?: FilterIndex;

  /** Opens the store at a location: an index folder, or a postgres:// URL. */
  static async open(location: string, options: RecommenderOptions = {}): Promise<Recommender> {
    let similarity: Similarity | undefined;
    const store = await openStore(location, {
      ...options,
      searchSpace: async (contents) => {
        const opened = await openSimilarity(contents, options.similarity, options.tuning);
        similarity = opened.similarity;
        return opened.space;
      },
    });
    const r = new Recommender(store, options, similarity ?? Similarity.original(store.spec.dim));
    if (options.eager) await r.getEmbedder();
    return r;
  }

  /** The embedder, made with the index's own spec so that query vectors are comparable. */
  getEmbedder(): Promise<Embedder> {
    this.embedder ??= Embedder.create({
      ...optionsForSpec(this.manifest.spec),
      device: this.options.device,
      batchSize: 1,
    });
    return this.embedder;
  }

  product(id: string): Recommendation | undefined {
    const row = this.store.row(id);
    return row === undefined ? undefined : this.describe(row, 1);
  }

  imagePath(item: IndexItem): string {
    return join(this.manifest.imagesDir, item.file);
  }

  /** Every product's vector, count x dim in row order (for evaluation). */
  vectors(): Promise<Float32Array> {
    return this.store.vectors();
  }

  /** Recommendations for a photo (a path or its bytes). */
  async recommend(image: ImageInput, options: RecommendOptions = {}): Promise<RecommendResult> {
    const bytes = typeof image === 'string' ? await readFile(image).catch(() => undefined) : image.data;
    const group = bytes ? this.store.rowsWithHash(hashBytes(bytes)) : [];
    if (group.length > 0) {
      // The query is a catalogue photo: use its stored vector, and keep it out of the results.
      const first = group[0] as number;
      return {
        query: {
          recognisedAs: this.items[first]?.id,
          excluded: group.map((r) => (this.items[r] as IndexItem).id),
        },
        results: await this.nearest(await this.store.vector(first), options, group, this.kindOf(first)),
      };
    }
    const { vector, predicted, studio } = await this.photoQuery(image, bytes);
    // A confident guess of the photo's kind explains results of that kind.
    const guess = predicted?.[0];
    // (Not for shoppers' photos: the guess is right for only about a third of them.)
    const kind = studio && guess && guess.probability >= 0.5 ? guess.value : undefined;
    return {
      query: { excluded: [], ...(predicted ? { predicted } : {}) },
      results: await this.nearest(vector, options, [], kind),
    };
  }

  /** The value of the learned similarity's classifier column for a product. */
  private kindOf(row: number): string | undefined {
    const column = this.similarity.kindColumn;
    return column ? this.items[row]?.metadata[column] : undefined;
  }

  /**
   * The search vector of a photo that is not in the catalogue: prepared as the similarity says
   * (found, cropped, brought to the catalogue's resolution), embedded, and fused with its colour.
   */
  async queryVector(image: ImageInput, bytes?: Buffer): Promise<Float32Array> {
    return (await this.photoQuery(image, bytes)).vector;
  }

  private async photoQuery(
    image: ImageInput,
    bytes?: Buffer,
  ): Promise<{ vector: Float32Array; predicted?: QueryInfo['predicted']; studio?: boolean }> {
    const embedder = await this.getEmbedder();
    if (!this.similarity.learned) return { vector: (await embedder.embed([image]))[0] as Float32Array };
    const prepared = await this.prepare([{ image, bytes }]);
    const [visual] = await this.embedPrepared(embedder, prepared);
    if (!visual || isImageError(visual)) throw visual;
    return {
      vector: this.similarity.compose(visual, prepared[0]?.colour, prepared[0]?.studio ?? true),
      predicted: this.similarity.predict(visual),
      studio: prepared[0]?.studio ?? true,
    };
  }

  /**
   * Search vectors of many photos (for evaluation), in batches with an embedder of their own; a
   * photo that cannot be read gives its ImageError in its place.
   */
  async queryVectors(
    paths: string[],
    embedderOptions: Pick<EmbedderOptions, 'device' | 'batchSize' | 'threads'> = {},
    onProgress?: (done: number, total: number) => void,
  ): Promise<(Float32Array | ImageError)[]> {
    const embedder = await Embedder.create({ ...embedderOptions, ...optionsForSpec(this.manifest.spec) });
    try {
      const out: (Float32Array | ImageError)[] = [];
      const chunk = 64;
      onProgress?.(0, paths.length);
      for (let start = 0; start < paths.length; start += chunk) {
        const part = paths.slice(start, start + chunk);
        const prepared = this.similarity.learned
          ? await this.prepare(
              await Promise.all(
                part.map(async (image) => ({ image, bytes: await readFile(image).catch(() => undefined) })),
              ),
            )
          : part.map((image): PreparedQuery => ({ input: image }));
        const vectors = await this.embedPrepared(embedder, prepared);
        vectors.forEach((v, i) => {
          out.push(
            isImageError(v)
              ? v
              : this.similarity.compose(v, prepared[i]?.colour, prepared[i]?.studio ?? true),
          );
        });
        onProgress?.(out.length, paths.length);
      }
      return out;
    } finally {
      await embedder.close();
    }
  }

  /** Embeds prepared photos; with a mirror image, the two vectors are averaged (test-time flip). */
  private async embedPrepared(
    embedder: Embedder,
    prepared: PreparedQuery[],
  ): Promise<(Float32Array | ImageError)[]> {
    const inputs = prepared.flatMap((p) => (p.mirror ? [p.input, p.mirror] : [p.input]));
    const vectors = await embedder.embedEach(inputs);
    let at = 0;
    return prepared.map((p) => {
      const v = vectors[at++] as Float32Array | ImageError;
      if (!p.mirror) return v;
      const m = vectors[at++] as Float32Array | ImageError;
      if (isImageError(v) || isImageError(m)) return v;
      const sum = v.map((x, i) => x + (m[i] as number));
      const norm = Math.sqrt(sum.reduce((s, x) => s + x * x, 0)) || 1;
      return sum.map((x) => x / norm);
    });
  }

  /**
   * Query photos as the learned similarity prepares them (catalogue-like photos and shoppers'
   * photos each their own way), with their colour descriptors.
   */
  private async prepare(queries: { image: ImageInput; bytes?: Buffer }[]): Promise<PreparedQuery[]> {
    const limit = pLimit(4);
    return Promise.all(
      queries.map(({ image, bytes }) =>
        limit(async () => {
          const label = typeof image === 'string' ? image : image.label;
          const data = bytes ?? (typeof image === 'string' ? undefined : image.data);
          if (!data) return { input: image };
          // Unreadable photos go to the embedder as they are: it names the fault.
          const small = await smallRgb(data).catch(() => undefined);
          if (!small) return { input: image };
          const studio = findForeground(small).studio;
          const prep = studio ? this.similarity.queryPrep : this.similarity.shopperQueryPrep;
          const prepared = hasPrep(prep) ? await prepareQuery(data, prep).catch(() => undefined) : data;
          if (!prepared) return { input: image };
          const colour =
            prepared === data ? colourOf(small) : await smallRgb(prepared).then(colourOf, () => undefined);
          const mirror = prep.flip
            ? await sharp(prepared)
                .flop()
                .png()
                .toBuffer()
                .then(
                  (data) => ({ data, label }),
                  () => undefined,
                )
            : undefined;
          return { input: { data: prepared, label }, colour, studio, ...(mirror ? { mirror } : {}) };
        }),
      ),
    );
  }

  /** "More like this": recommendations for a catalogue product. */
  async similar(id: string, options: RecommendOptions = {}): Promise<RecommendResult> {
    const row = this.store.row(id);
    if (row === undefined) throw new UnknownProductError(`no product "${id}" in the index`);
    const group = this.store.rowsWithHash((this.items[row] as IndexItem).hash);
    return {
      query: { recognisedAs: id, excluded: group.map((r) => (this.items[r] as IndexItem).id) },
      results: await this.nearest(await this.store.vector(row), options, group, this.kindOf(row)),
    };
  }

  /** The k best products for a vector, excluding some rows' photos, one result per distinct photo. */
  async nearest(
    vector: Float32Array,
    options: RecommendOptions,
    exclude: readonly number[],
    kind?: string,
  ): Promise<Recommendation[]> {
    const k = Math.max(1, options.k ?? 5);
    if (hasFilters(options.where)) this.filters.check(options.where);
    const excludeHashes = [...new Set(exclude.map((r) => (this.items[r] as IndexItem).hash))];
    let want = k + 8;
    for (;;) {
      const hits = await this.store.nearest(vector, { k: want, where: options.where, excludeHashes });
      const seen = new Set<string>();
      const out: Recommendation[] = [];
      for (const hit of hits) {
        const hash = (this.items[hit.row] as IndexItem).hash;
        if (seen.has(hash)) continue;
        seen.add(hash);
        out.push(this.describe(hit.row, hit.score));
        if (out.length === k) return this.explain(out, vector, kind);
      }
      // Fewer hits than asked for: nothing more to find.
      if (hits.length < want || want >= this.items.length) return this.explain(out, vector, kind);
      want *= 4;
    }
  }

  /** Adds why each result matched: the same colour (colour similarity), the same kind. */
  private async explain(
    results: Recommendation[],
    query: Float32Array,
    kind: string | undefined,
  ): Promise<Recommendation[]> {
    const column = this.similarity.kindColumn;
    if (!this.similarity.learned || !column) return results;
    for (const r of results) {
      const row = this.store.row(r.id) as number;
      if (this.similarity.colourSimilarity(query, await this.store.vector(row)) >= SAME_COLOUR) {
        r.reasons.push('same colour');
      }
      if (kind && r.metadata[column] === kind) r.reasons.push(`same ${column}: ${kind}`);
    }
    return results;
  }

  private describe(row: number, score: number): Recommendation {
    const item = this.items[row] as IndexItem;
    const m = item.metadata;
    const group = this.store.rowsWithHash(item.hash);
    return {
      id: item.id,
      score,
      name: titleOf(this.schema, m),
      metadata: m,
      imagePath: this.imagePath(item),
      alsoListedAs: group.filter((r) => r !== row).map((r) => (this.items[r] as IndexItem).id),
      reasons: [],
    };
  }

  async close(): Promise<void> {
    if (this.embedder) await (await this.embedder).close();
    await this.store.close();
  }
}
