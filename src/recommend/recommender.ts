/**
 * Recommendations over a loaded index: the k most similar products to a photo or to a catalogue
 * product, never echoing the query's own photo, with identical photos collapsed into one result.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Embedder, type ImageInput, optionsForSpec } from '../embeddings/embedder.js';
import type { Device } from '../embeddings/runtime.js';
import { hashBytes } from '../index/catalogue.js';
import { ExactSearch, type SearchBackend } from '../index/search.js';
import { type IndexItem, type IndexManifest, loadIndex } from '../index/store.js';
import { FilterIndex, type Filters, hasFilters } from './filters.js';

export interface Recommendation {
  id: string;
  /** Cosine similarity to the query, 1 = identical. */
  score: number;
  name?: string;
  gender?: string;
  masterCategory?: string;
  subCategory?: string;
  articleType?: string;
  baseColour?: string;
  /** All metadata columns of the product. */
  metadata: Record<string, string>;
  imagePath: string;
  /** Other product ids listed with the very same photo. */
  alsoListedAs: string[];
}

export interface QueryInfo {
  /** The catalogue product whose photo is byte-identical to the query photo, if any. */
  recognisedAs?: string;
  /** Product ids kept out of the results because they are the query itself. */
  excluded: string[];
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

export interface RecommenderOptions {
  device?: Device;
  search?: SearchBackend;
  /** Load the model now rather than on the first photo query. */
  eager?: boolean;
}

export class Recommender {
  readonly filters: FilterIndex;
  private readonly rowById = new Map<string, number>();
  private readonly rowsByHash = new Map<string, number[]>();
  private embedder?: Promise<Embedder>;

  private constructor(
    readonly dir: string,
    readonly manifest: IndexManifest,
    readonly items: IndexItem[],
    readonly index: ExactSearch,
    private readonly options: RecommenderOptions,
  ) {
    items.forEach((item, row) => {
      this.rowById.set(item.id, row);
      const group = this.rowsByHash.get(item.hash);
      if (group) group.push(row);
      else this.rowsByHash.set(item.hash, [row]);
    });
    this.filters = new FilterIndex(items);
  }

  static async open(dir: string, options: RecommenderOptions = {}): Promise<Recommender> {
    const data = await loadIndex(dir);
    const r = new Recommender(
      dir,
      data.manifest,
      data.items,
      new ExactSearch(data.vectors, data.manifest.dim, options.search),
      options,
    );
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
    const row = this.rowById.get(id);
    return row === undefined ? undefined : this.describe(row, 1);
  }

  imagePath(item: IndexItem): string {
    return join(this.manifest.imagesDir, item.file);
  }

  /** Recommendations for a photo (a path or its bytes). */
  async recommend(image: ImageInput, options: RecommendOptions = {}): Promise<RecommendResult> {
    const bytes = typeof image === 'string' ? await readFile(image).catch(() => undefined) : image.data;
    const group = bytes ? this.rowsByHash.get(hashBytes(bytes)) : undefined;
    if (group) {
      // The query is a catalogue photo: use its stored vector, and keep it out of the results.
      const first = group[0] as number;
      return {
        query: {
          recognisedAs: this.items[first]?.id,
          excluded: group.map((r) => (this.items[r] as IndexItem).id),
        },
        results: this.nearest(this.index.vector(first), options, new Set(group)),
      };
    }
    const embedder = await this.getEmbedder();
    const [vector] = await embedder.embed([image]);
    return { query: { excluded: [] }, results: this.nearest(vector as Float32Array, options, new Set()) };
  }

  /** "More like this": recommendations for a catalogue product. */
  similar(id: string, options: RecommendOptions = {}): RecommendResult {
    const row = this.rowById.get(id);
    if (row === undefined) throw new UnknownProductError(`no product "${id}" in the index`);
    const group = this.rowsByHash.get((this.items[row] as IndexItem).hash) ?? [row];
    return {
      query: { recognisedAs: id, excluded: group.map((r) => (this.items[r] as IndexItem).id) },
      results: this.nearest(this.index.vector(row), options, new Set(group)),
    };
  }

  /** The k best rows for a vector, excluding some rows, one result per distinct photo. */
  nearest(vector: Float32Array, options: RecommendOptions, exclude: ReadonlySet<number>): Recommendation[] {
    const k = Math.max(1, options.k ?? 5);
    const rows = hasFilters(options.where) ? this.filters.rows(options.where) : undefined;
    const available = rows ? rows.length : this.index.count;
    let want = k + exclude.size + 8;
    for (;;) {
      const hits = this.index.search(vector, Math.min(want, available), rows);
      const seen = new Set<string>();
      const out: Recommendation[] = [];
      for (const hit of hits) {
        if (exclude.has(hit.row)) continue;
        const hash = (this.items[hit.row] as IndexItem).hash;
        if (seen.has(hash)) continue;
        seen.add(hash);
        out.push(this.describe(hit.row, hit.score));
        if (out.length === k) return out;
      }
      if (want >= available) return out;
      want *= 4;
    }
  }

  private describe(row: number, score: number): Recommendation {
    const item = this.items[row] as IndexItem;
    const m = item.metadata;
    const group = this.rowsByHash.get(item.hash) ?? [];
    return {
      id: item.id,
      score,
      name: m.productDisplayName,
      gender: m.gender,
      masterCategory: m.masterCategory,
      subCategory: m.subCategory,
      articleType: m.articleType,
      baseColour: m.baseColour,
      metadata: m,
      imagePath: this.imagePath(item),
      alsoListedAs: group.filter((r) => r !== row).map((r) => (this.items[r] as IndexItem).id),
    };
  }

  async close(): Promise<void> {
    if (this.embedder) await (await this.embedder).close();
  }
}
