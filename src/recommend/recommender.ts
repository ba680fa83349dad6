/**
 * Recommendations over a loaded index: the k most similar products to a photo or to a catalogue
 * product, never echoing the query's own photo, with identical photos collapsed into one result.
 */
import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pLimit from 'p-limit';
import sharp from 'sharp';
import { hashBytes } from '../catalogue/listing.js';
import { type CatalogueSchema, titleOf } from '../catalogue/schema.js';
import {
  Embedder,
  type EmbedderOptions,
  type ImageInput,
  optionsForSpec,
  type PhotoInput,
} from '../embeddings/embedder.js';
import type { Device } from '../embeddings/runtime.js';
import { describeSpec, type EmbeddingSpec, sameSpec } from '../embeddings/spec.js';
import { COLOUR_DIM, colourOf, smallRgb } from '../images/colour.js';
import { type ImageError, isImageError } from '../images/errors.js';
import { findForeground, type RgbImage } from '../images/foreground.js';
import { hasPrep, prepareQueryPixels } from '../images/query-prep.js';
import { emptyFilters, FilterIndex, type Filters, hasFilters } from '../index/filters.js';
import { LiveStore } from '../index/live-store.js';
import { openStore } from '../index/location/open.js';
import type { IndexItem, OpenStoreOptions, StoredChange, StoreInfo } from '../index/port.js';
import { IndexError } from '../index/store.js';
import { photosDir } from '../index/wal.js';
import { type Prediction, Similarity } from '../similarity/composer.js';
import type { FusionWeights, SimilarityKind } from '../similarity/model.js';
import { openSimilarity, type SimilarityTuning } from '../similarity/open.js';
import { colourShortlist, colourWithinKind } from './colour-within-kind.js';

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

/** A resolved query from before the catalogue was reloaded with another similarity or spec. */
export class QueryOutdatedError extends Error {}

/** A query photo's search vector and what it was taken to be (Recommender.resolve). */
export interface ResolvedQuery {
  vector: Float32Array;
  /**
   * The space the vector lives in (embedding spec and similarity): a catalogue reloaded with
   * another similarity cannot be searched with it (QueryOutdatedError).
   */
  space?: string;
  query: QueryInfo;
  /** The kind(s) that explain results of that kind ("same <kind column>"), where known. */
  kind?: string | readonly string[];
  /** False for a shopper's own photo (not on a plain light background, as catalogue photos are). */
  studio?: boolean;
  /**
   * A shopper's photo, with a shopper head: the kinds of its runner-up label. When none of the
   * first five results is of them, the best product of them takes rank 5 (see hedge).
   */
  runnerUp?: readonly string[];
}

/**
 * The rank the shopper head's runner-up kind is given, when the ranking has none of it above:
 * four results of what the photo most likely shows, and one of the next likeliest. Measured on
 * street-dev's tune half (README, "Shoppers' photos"): a shopper's photo whose kind the head gets
 * wrong then still has a result of the right kind about half the time.
 */
export const HEDGE_RANK = 5;
/** Hits a search with a runner-up reads, among which the runner-up's best is looked for first. */
const HEDGE_POOL = 100;

/** Hits of a search kept for a second look (Recommender.nearest's `pool`). */
interface Hits {
  want: number;
  hits: { row: number; score: number }[];
}

/** A query photo ready to embed: prepared, its mirror image (test-time flip) and its colours. */
interface PreparedQuery {
  input: ImageInput;
  mirror?: ImageInput;
  /** Its colour descriptor, worked out while the photo is embedded (it is needed only after). */
  colour?: Promise<Float32Array | undefined>;
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

/** What changed in the catalogue a recommender serves (see Recommender.onChange). */
export interface CatalogueChange {
  /** 'change': products put or deleted (through the API, here or elsewhere); 'reload': a new generation. */
  reason: 'change' | 'reload';
  /** Products searchable now. */
  count: number;
  /** The products changed ('change'). */
  ids?: string[];
}

/**
 * What one request works on: the store (with the changes applied in memory), the similarity and
 * what they say of themselves. A reload replaces the whole snapshot at once; a request that
 * started on the previous one finishes on it.
 */
interface Snapshot {
  store: LiveStore;
  similarity: Similarity;
  manifest: CatalogueInfo;
  /** The store's generation token when it was loaded. */
  generation: string;
  /** The space its search vectors live in (see ResolvedQuery.space). */
  space: string;
  filters?: { version: number; index: FilterIndex };
}

/** How long a replaced snapshot stays open for the requests still using it. */
const RETIRE_MS = 30_000;

export class Recommender {
  private embedder?: Promise<Embedder>;
  private state: Snapshot;
  private readonly events = new EventEmitter();
  /** Changes and reloads, one at a time. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly retiring = new Set<{ store: LiveStore; timer: NodeJS.Timeout }>();
  private closed = false;

  private constructor(
    /** Where the store is: an index folder or a postgres:// URL. */
    readonly location: string,
    private readonly options: RecommenderOptions,
    state: Snapshot,
  ) {
    this.state = state;
  }

  /** The store searched now (with the changes made since it was loaded). */
  get store(): LiveStore {
    return this.state.store;
  }

  get similarity(): Similarity {
    return this.state.similarity;
  }

  /** What the store, the spec and the similarity say of themselves (count: products searchable now). */
  get manifest(): CatalogueInfo {
    return this.state.manifest;
  }

  /** What the catalogue's columns mean: title, facets, kind. */
  get schema(): CatalogueSchema {
    return this.state.store.schema;
  }

  /** Every row (rows replaced or deleted since loading included: see isLive). */
  get items(): readonly IndexItem[] {
    return this.state.store.items;
  }

  /** The product with this id now, if any. */
  item(id: string): IndexItem | undefined {
    const row = this.state.store.row(id);
    return row === undefined ? undefined : this.state.store.items[row];
  }

  /** Rows per facet value, for checking filters and listing facets (products searchable now). */
  get filters(): FilterIndex {
    return filtersOf(this.state);
  }

  /** Opens the store at a location: an index folder, or a postgres:// URL. */
  static async open(location: string, options: RecommenderOptions = {}): Promise<Recommender> {
    const r = new Recommender(location, options, await loadSnapshot(location, options));
    if (options.eager) await r.getEmbedder();
    return r;
  }

  /** Runs `fn` after the changes and reloads before it, and before those after it. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Loads the store again (a new index generation, products added to PostgreSQL by an indexing
   * run) and switches to it at once; requests in progress finish on the previous one.
   */
  reload(): Promise<void> {
    return this.exclusive(async () => {
      if (this.closed) return;
      const next = await loadSnapshot(this.location, this.options);
      const previous = this.state;
      this.state = next;
      if (!sameSpec(previous.manifest.spec, next.manifest.spec) && this.embedder) {
        const old = this.embedder;
        this.embedder = undefined;
        void old.then((e) => e.close()).catch(() => undefined);
      }
      this.retire(previous.store);
      this.emit({ reason: 'reload', count: next.store.count });
    });
  }

  /** Applies the changes written to the store since it was last read (by this process or another). */
  catchUp(): Promise<StoredChange[]> {
    return this.exclusive(() => this.catchUpNow());
  }

  /** catchUp, for callers already inside exclusive(). */
  async catchUpNow(): Promise<StoredChange[]> {
    if (this.closed) return [];
    const s = this.state;
    const changes = await s.store.readChanges();
    if (changes.length === 0) return changes;
    await applyChanges(s, changes);
    this.emit({ reason: 'change', count: s.store.count, ids: [...new Set(changes.map((c) => c.id))] });
    return changes;
  }

  /** The generation token of the loaded store (a reload is due when the store's differs). */
  get loadedGeneration(): string {
    return this.state.generation;
  }

  /** Calls `listener` whenever the searchable catalogue changes; returns a function that stops it. */
  onChange(listener: (change: CatalogueChange) => void): () => void {
    this.events.on('change', listener);
    return () => this.events.off('change', listener);
  }

  private emit(change: CatalogueChange): void {
    this.state.manifest = { ...this.state.manifest, count: this.state.store.count };
    this.events.emit('change', change);
  }

  private retire(store: LiveStore): void {
    const entry = {
      store,
      timer: setTimeout(() => {
        this.retiring.delete(entry);
        void store.close().catch(() => undefined);
      }, RETIRE_MS),
    };
    entry.timer.unref();
    this.retiring.add(entry);
  }

  /** The embedder, made with the index's own spec so that query vectors are comparable. */
  getEmbedder(): Promise<Embedder> {
    this.embedder ??= Embedder.create({
      ...optionsForSpec(this.manifest.spec),
      device: this.options.device,
      batchSize: 16, // concurrent queries share inference calls (Embedder coalesces them)
    });
    return this.embedder;
  }

  product(id: string): Recommendation | undefined {
    const row = this.store.row(id);
    return row === undefined ? undefined : this.describe(row, 1);
  }

  /** Where a product's photo is: in the catalogue folder, or (written through the API) stored by the store. */
  imagePath(item: IndexItem, s: Snapshot = this.state): string {
    if (item.origin === 'api') {
      const { kind, location } = s.manifest;
      return kind === 'files' ? join(photosDir(location), item.file) : `${location}#photos/${item.file}`;
    }
    return join(s.manifest.imagesDir, item.file);
  }

  /** The bytes of a photo that the store holds itself (products written through the API). */
  storedPhoto(item: IndexItem): Promise<Buffer | undefined> {
    return this.state.store.storedPhoto(item);
  }

  /** Every product's vector, count x dim in row order (for evaluation). */
  vectors(): Promise<Float32Array> {
    return this.store.vectors();
  }

  /** Recommendations for a photo (a path or its bytes). */
  async recommend(
    image: PhotoInput,
    options: RecommendOptions = {},
  ): Promise<RecommendResult & { resolved: ResolvedQuery }> {
    // One snapshot throughout: a reload meanwhile (another similarity, say) does not mix the two.
    const s = this.state;
    const resolved = await this.resolve(image, s);
    // (With what it searched with, to search again: `search(resolved, ...)`.)
    return { ...(await this.searchOn(s, resolved, options)), resolved };
  }

  /** Whether these are the bytes of a catalogue photo (which is then searched with its stored vector). */
  recognises(bytes: Buffer): boolean {
    return this.store.rowsWithHash(hashBytes(bytes)).length > 0;
  }

  /**
   * What a photo searches with, worked out once (hashed, or prepared and embedded) so that it can
   * be searched again with other filters or pages (`search`).
   */
  async resolve(image: PhotoInput, s: Snapshot = this.state): Promise<ResolvedQuery> {
    const bytes = typeof image === 'string' ? await readFile(image).catch(() => undefined) : image.data;
    const { store } = s;
    const group = bytes ? store.rowsWithHash(hashBytes(bytes)) : [];
    if (group.length > 0) {
      // The query is a catalogue photo: use its stored vector, and keep it out of the results.
      const first = group[0] as number;
      return {
        vector: await store.vector(first),
        space: s.space,
        query: {
          recognisedAs: store.items[first]?.id,
          excluded: group.map((r) => (store.items[r] as IndexItem).id),
        },
        kind: kindOf(s, first),
      };
    }
    const embedder = await this.getEmbedder();
    const { similarity } = s;
    if (!similarity.learned) {
      return {
        vector: (await embedder.embed([image]))[0] as Float32Array,
        space: s.space,
        query: { excluded: [] },
      };
    }
    const prepared = await this.prepare([{ image, bytes }], similarity);
    const [visual] = await this.embedPrepared(embedder, prepared);
    const colour = await prepared[0]?.colour;
    if (!visual || isImageError(visual)) throw visual;
    return photoResolved(s, visual, prepared[0] as PreparedQuery, colour);
  }

  /**
   * Searches with a resolved query: its excluded products (those still in the index) stay out.
   * @throws QueryOutdatedError when the catalogue was reloaded with another similarity or spec since.
   */
  async search(resolved: ResolvedQuery, options: RecommendOptions = {}): Promise<RecommendResult> {
    const s = this.state;
    if (resolved.space !== undefined && resolved.space !== s.space) {
      throw new QueryOutdatedError(
        'the catalogue has been reloaded with another similarity since this photo was searched: search with the photo again',
      );
    }
    return this.searchOn(s, resolved, options);
  }

  private async searchOn(
    s: Snapshot,
    resolved: ResolvedQuery,
    options: RecommendOptions,
  ): Promise<RecommendResult> {
    const exclude = resolved.query.excluded
      .map((id) => s.store.row(id))
      .filter((row): row is number => row !== undefined);
    // A runner-up kind is looked for first among the hits the search reads anyway (see hedge).
    const pool: Hits = { want: resolved.runnerUp?.length ? HEDGE_POOL : 0, hits: [] };
    const results = await this.nearest(resolved.vector, options, exclude, resolved.kind, s, pool);
    return { query: resolved.query, results: await this.hedge(results, resolved, options, exclude, s, pool) };
  }

  /**
   * A shopper's photo with a runner-up kind (see HEDGE_RANK): when none of the first results is
   * of it, its best product takes rank HEDGE_RANK and the rest move down. Not when the search is
   * filtered by kind, nor for fewer results than that rank.
   */
  private async hedge(
    results: Recommendation[],
    resolved: ResolvedQuery,
    options: RecommendOptions,
    exclude: readonly number[],
    s: Snapshot,
    pool: Hits,
  ): Promise<Recommendation[]> {
    const kinds = resolved.runnerUp;
    const column = s.similarity.kindColumn;
    if (!kinds?.length || !column || results.length < HEDGE_RANK) return results;
    if ((options.where?.[column]?.length ?? 0) > 0) return results;
    const ofKind = (r: Recommendation) => kinds.includes(r.metadata[column] ?? '');
    if (results.slice(0, HEDGE_RANK).some(ofKind)) return results;
    // The best of the kind among the search's own hits (same filters, exclusions applied), or else
    // a search of that kind's products.
    const pooled = pool.hits.find((h) =>
      kinds.includes((s.store.items[h.row] as IndexItem).metadata[column] ?? ''),
    );
    const [extra] = pooled
      ? await this.explain([this.describe(pooled.row, pooled.score, s)], resolved.vector, undefined, s)
      : await this.nearest(
          resolved.vector,
          { k: 1, where: withKinds(options.where, column, kinds) },
          exclude,
          undefined,
          s,
        );
    if (!extra) return results;
    extra.reasons.push(`another likely ${column}: ${extra.metadata[column] ?? ''}`);
    const rest = results.slice(HEDGE_RANK - 1).filter((r) => r.id !== extra.id);
    return [...results.slice(0, HEDGE_RANK - 1), extra, ...rest].slice(0, results.length);
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
    const resolved = await this.resolvePhotos(paths, embedderOptions, onProgress);
    return resolved.map((r) => (isImageError(r) ? r : r.vector));
  }

  /**
   * Photos resolved as `resolve` does (for evaluation: searched with `search`, they get what an
   * upload gets), in batches with an embedder of their own; a photo that cannot be read gives its
   * ImageError in its place. Photos are taken as photos, even those of catalogue products.
   */
  async resolvePhotos(
    paths: string[],
    embedderOptions: Pick<EmbedderOptions, 'device' | 'batchSize' | 'threads'> = {},
    onProgress?: (done: number, total: number) => void,
  ): Promise<(ResolvedQuery | ImageError)[]> {
    const s = this.state;
    const embedder = await Embedder.create({ ...embedderOptions, ...optionsForSpec(this.manifest.spec) });
    try {
      const out: (ResolvedQuery | ImageError)[] = [];
      const chunk = 64;
      onProgress?.(0, paths.length);
      for (let start = 0; start < paths.length; start += chunk) {
        const part = paths.slice(start, start + chunk);
        const prepared = s.similarity.learned
          ? await this.prepare(
              await Promise.all(
                part.map(async (image) => ({ image, bytes: await readFile(image).catch(() => undefined) })),
              ),
              s.similarity,
            )
          : part.map((image): PreparedQuery => ({ input: image }));
        const vectors = await this.embedPrepared(embedder, prepared);
        const colours = await Promise.all(prepared.map((p) => p.colour));
        vectors.forEach((v, i) => {
          out.push(isImageError(v) ? v : photoResolved(s, v, prepared[i] as PreparedQuery, colours[i]));
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
  private async prepare(
    queries: { image: PhotoInput; bytes?: Buffer }[],
    similarity: Similarity,
  ): Promise<PreparedQuery[]> {
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
          const prep = studio ? similarity.queryPrep : similarity.shopperQueryPrep;
          if (!hasPrep(prep))
            return { input: { data, label }, colour: Promise.resolve(colourOf(small)), studio };
          // Prepared as pixels, which the embedder takes as they are (no file written and read again).
          const pixels = await prepareQueryPixels(data, prep).catch(() => undefined);
          if (!pixels) return { input: image };
          // (Not awaited here: on libuv's threads while the photo is embedded.)
          const colour = smallRgb(pixels)
            .then(colourOf)
            .catch(() => undefined);
          const mirror = prep.flip ? await mirrored(pixels).catch(() => undefined) : undefined;
          return {
            input: { pixels, label },
            colour,
            studio,
            ...(mirror ? { mirror: { pixels: mirror, label } } : {}),
          };
        }),
      ),
    );
  }

  /** "More like this": recommendations for a catalogue product. */
  async similar(id: string, options: RecommendOptions = {}): Promise<RecommendResult> {
    // One snapshot throughout: its vectors and rows belong together (see reload).
    const s = this.state;
    const { store } = s;
    const row = store.row(id);
    if (row === undefined) throw new UnknownProductError(`no product "${id}" in the index`);
    const group = store.rowsWithHash((store.items[row] as IndexItem).hash);
    const excluded = group.map((r) => (store.items[r] as IndexItem).id);
    const vector = await store.vector(row);
    return {
      query: { recognisedAs: id, excluded },
      results: await this.nearest(vector, options, group, kindOf(s, row), s),
    };
  }

  /** The k best products for a vector, excluding some rows' photos, one result per distinct photo. */
  async nearest(
    vector: Float32Array,
    options: RecommendOptions,
    exclude: readonly number[],
    kind?: string | readonly string[],
    // One snapshot for the whole search: rows mean the same throughout (see reload).
    s: Snapshot = this.state,
    /** Asks the search for at least `want` hits, and keeps them (excluded ones left out) in `hits`. */
    pool?: Hits,
  ): Promise<Recommendation[]> {
    const items = s.store.items;
    const k = Math.max(1, options.k ?? 5);
    if (hasFilters(options.where)) filtersOf(s).check(options.where);
    const excludeHashes = [...new Set(exclude.map((r) => (items[r] as IndexItem).hash))];
    // With colour within kind, a short list to re-rank (see colour-within-kind.ts).
    const rerank = s.similarity.reranksColour(vector);
    const target = rerank ? colourShortlist(k) : k;
    const finish = async (out: { row: number; score: number }[]) => {
      const chosen = rerank ? await this.colourWithinKind(out, vector, k, s) : out;
      return this.explain(
        chosen.map((hit) => this.describe(hit.row, hit.score, s)),
        vector,
        kind,
        s,
      );
    };
    // The short list is ranked without the colour part: its first k decide the kinds exactly.
    const searched = rerank ? s.similarity.withoutColour(vector) : vector;
    let want = Math.max(target + 8, pool?.want ?? 0);
    for (;;) {
      const hits = await s.store.nearest(searched, { k: want, where: options.where, excludeHashes });
      // (Not re-ranked hits: their scores are without colour.)
      if (pool && !rerank) pool.hits = hits;
      const seen = new Set<string>();
      const out: { row: number; score: number }[] = [];
      for (const hit of hits) {
        const hash = (items[hit.row] as IndexItem).hash;
        if (seen.has(hash)) continue;
        seen.add(hash);
        out.push(hit);
        if (out.length === target) return finish(out);
      }
      // Fewer hits than asked for: nothing more to find.
      if (hits.length < want || want >= items.length) return finish(out);
      want *= 4;
    }
  }

  /** The first k of a short list ranked without the colour part, with colour within kind. */
  private async colourWithinKind(
    hits: { row: number; score: number }[],
    query: Float32Array,
    k: number,
    s: Snapshot,
  ): Promise<{ row: number; score: number }[]> {
    const column = s.similarity.kindColumn as string;
    const shortlist = await Promise.all(
      hits.map(async ({ row }) => ({
        row,
        product: await s.store.vector(row),
        kind: (s.store.items[row] as IndexItem).metadata[column],
      })),
    );
    return colourWithinKind(shortlist, query, (q, p) => s.similarity.colourContribution(q, p), k);
  }

  /** Adds why each result matched: the same colour (colour similarity), the same kind. */
  private async explain(
    results: Recommendation[],
    query: Float32Array,
    kind: string | readonly string[] | undefined,
    s: Snapshot,
  ): Promise<Recommendation[]> {
    const column = s.similarity.kindColumn;
    if (!s.similarity.learned || !column) return results;
    const kinds: readonly string[] = typeof kind === 'string' ? [kind] : (kind ?? []);
    for (const r of results) {
      const row = s.store.row(r.id);
      if (row === undefined) continue; // (deleted meanwhile)
      if (s.similarity.colourSimilarity(query, await s.store.vector(row)) >= SAME_COLOUR) {
        r.reasons.push('same colour');
      }
      const value = r.metadata[column];
      if (value && kinds.includes(value)) r.reasons.push(`same ${column}: ${value}`);
    }
    return results;
  }

  private describe(row: number, score: number, s: Snapshot = this.state): Recommendation {
    const items = s.store.items;
    const item = items[row] as IndexItem;
    const m = item.metadata;
    const group = s.store.rowsWithHash(item.hash);
    return {
      id: item.id,
      score,
      name: titleOf(s.store.schema, m),
      metadata: m,
      imagePath: this.imagePath(item, s),
      alsoListedAs: group.filter((r) => r !== row).map((r) => (items[r] as IndexItem).id),
      reasons: [],
    };
  }

  async close(): Promise<void> {
    await this.exclusive(async () => {
      this.closed = true;
    });
    this.events.removeAllListeners();
    if (this.embedder) await (await this.embedder).close();
    for (const entry of this.retiring) {
      clearTimeout(entry.timer);
      await entry.store.close().catch(() => undefined);
    }
    this.retiring.clear();
    await this.state.store.close();
  }
}

/**
 * A photo's resolved query from its visual vector: fused with its colour (learned similarity), with
 * what the heads guess of it. A confident guess of its kind explains results of that kind: the
 * catalogue heads' for a catalogue-like photo; for a shopper's photo only the shopper head's (the
 * catalogue heads' guess is right for about a third of them), which also names a runner-up.
 */
function photoResolved(
  s: Snapshot,
  visual: Float32Array,
  prepared: PreparedQuery,
  colour: Float32Array | undefined,
): ResolvedQuery {
  const { similarity } = s;
  if (!similarity.learned) return { vector: visual, space: s.space, query: { excluded: [] } };
  const studio = prepared.studio ?? true;
  const { vector, predicted } = similarity.composeAndPredict(visual, colour, studio);
  const guess = predicted[0];
  const shopper = studio ? undefined : similarity.shopperGuess(visual);
  const kind = studio
    ? guess && guess.probability >= 0.5
      ? guess.value
      : undefined
    : shopper && shopper.probability >= 0.5
      ? shopper.kinds
      : undefined;
  return {
    vector,
    space: s.space,
    query: { excluded: [], predicted },
    kind,
    studio,
    ...(shopper?.runnerUp ? { runnerUp: shopper.runnerUp.kinds } : {}),
  };
}

/** The user's filters, and the kind column restricted to `kinds`. */
function withKinds(where: Filters | undefined, column: string, kinds: readonly string[]): Filters {
  const out = emptyFilters();
  for (const [c, values] of Object.entries(where ?? {})) out[c] = values;
  out[column] = [...kinds];
  return out;
}

/** The value of the learned similarity's classifier column for a product of a snapshot. */
function kindOf(s: Snapshot, row: number): string | undefined {
  const column = s.similarity.kindColumn;
  return column ? s.store.items[row]?.metadata[column] : undefined;
}

/** The store at a location, opened with its similarity, and the changes written to it replayed. */
async function loadSnapshot(location: string, options: RecommenderOptions): Promise<Snapshot> {
  let similarity: Similarity | undefined;
  const base = await openStore(location, {
    ...options,
    searchSpace: async (contents) => {
      const opened = await openSimilarity(contents, options.similarity, options.tuning);
      similarity = opened.similarity;
      return opened.space;
    },
  });
  try {
    // The generation loaded (not the one on disk now, which may be newer already).
    const generation =
      base.info.generation !== undefined
        ? String(base.info.generation)
        : (base.info.loadedToken ?? (await base.generation()));
    const folder = base.info.kind === 'files' ? base.info.location : undefined;
    const store = new LiveStore(base, folder ? { photosDir: photosDir(folder) } : {});
    const sim = similarity ?? Similarity.original(base.spec.dim);
    const snapshot: Snapshot = {
      store,
      similarity: sim,
      manifest: {
        ...store.info,
        spec: store.spec,
        dim: store.dim,
        similarity: sim.kind,
        weights: sim.weights,
      },
      generation,
      space: `${describeSpec(store.spec)} ${sim.identity}`,
    };
    await applyChanges(snapshot, await store.readChanges());
    snapshot.manifest = { ...snapshot.manifest, count: store.count };
    return snapshot;
  } catch (err) {
    await base.close().catch(() => undefined);
    throw err;
  }
}

/**
 * Applies changes read from the store's log: puts get their search vectors composed as an
 * indexing run composes them (the similarity's fusion of the visual vector, the colour and the
 * catalogue labels), all at once.
 */
async function applyChanges(s: Snapshot, changes: readonly StoredChange[]): Promise<void> {
  const puts = changes.filter((c) => c.op === 'put' && c.item && c.visual);
  const dim = s.manifest.spec.dim;
  for (const c of puts) {
    if (c.visual?.length !== dim) {
      throw new IndexError(
        `the change to product ${c.id} (#${c.seq}) has a vector of ${c.visual?.length} dimensions, ` +
          `the store's are ${dim}: it was written for another embedding spec`,
      );
    }
  }
  const visual = new Float32Array(puts.length * dim);
  const colours = new Float32Array(puts.length * COLOUR_DIM);
  puts.forEach((c, i) => {
    visual.set(c.visual as Float32Array, i * dim);
    if (c.colour?.length === COLOUR_DIM) colours.set(c.colour, i * COLOUR_DIM);
  });
  const composed =
    puts.length > 0
      ? await s.similarity.composeAll(
          visual,
          colours,
          puts.map((c) => (c.item as IndexItem).metadata),
        )
      : new Float32Array(0);
  const vdim = s.similarity.dim;
  let at = 0;
  // The filter index follows row by row (building it again takes a second on 44k products).
  const filters = s.filters?.version === s.store.version ? s.filters : undefined;
  for (const c of changes) {
    if (c.op === 'put' && (!c.item || !c.visual)) continue;
    const old = s.store.row(c.id);
    if (old !== undefined) filters?.index.remove(old, s.store.items[old] as IndexItem);
    if (c.op === 'delete') {
      s.store.apply({ op: 'delete', id: c.id });
    } else {
      const i = at++;
      const row = s.store.apply({
        op: 'put',
        item: c.item as IndexItem,
        vector: composed.slice(i * vdim, (i + 1) * vdim),
        stored: { visual: c.visual as Float32Array, ...(c.colour ? { colour: c.colour } : {}) },
      });
      if (row !== undefined) filters?.index.add(row, c.item as IndexItem);
    }
  }
  if (filters) filters.version = s.store.version;
}

/** The snapshot's filter index, built again after changes (lazily: once per batch of changes). */
function filtersOf(s: Snapshot): FilterIndex {
  if (s.filters?.version !== s.store.version) {
    // (Rows no longer live are holes in the array: FilterIndex skips them.)
    s.filters = { version: s.store.version, index: new FilterIndex(s.store.liveItems()) };
  }
  return s.filters.index;
}

/** The mirror image of pixels (test-time flip). */
async function mirrored(image: RgbImage): Promise<RgbImage> {
  const { width, height } = image;
  const { data } = await sharp(image.data, { raw: { width, height, channels: 3 } })
    .flop()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width, height };
}
