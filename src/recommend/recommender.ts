/**
 * Recommendations over a loaded index: the k most similar products to a photo or to a catalogue
 * product, never echoing the query's own photo, with identical photos collapsed into one result.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  EMBEDDING_DIM,
  Embedder,
  type EmbeddingSpec,
  type ImageInput,
  optionsForSpec,
} from '../embeddings/embedder.js';
import type { Device } from '../embeddings/runtime.js';
import { hashBytes } from '../index/catalogue.js';
import { type HnswSearch, openHnsw } from '../index/hnsw.js';
import { isPostgresUrl, redact } from '../index/postgres/connection.js';
import { PgSearch } from '../index/postgres/pg-search.js';
import { ExactSearch, type Hit, type SearchBackend } from '../index/search.js';
import { type IndexItem, loadIndex } from '../index/store.js';
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
  /** `exact` (default for an index folder) or `hnsw` (default for PostgreSQL; an index folder needs its graph: `lookalike hnsw build`). */
  search?: SearchMode;
  /** Which exact search implementation (index folders). */
  exactBackend?: SearchBackend;
  /** HNSW search expansion (ef); more is slower and closer to exact. */
  efSearch?: number;
  /** Load the model now rather than on the first photo query. */
  eager?: boolean;
}

export const SEARCH_MODES = ['exact', 'hnsw'] as const;
export type SearchMode = (typeof SEARCH_MODES)[number];

/** What a recommender serves: the embedding spec and where the photos are. */
export interface CatalogueInfo {
  spec: EmbeddingSpec;
  dim: number;
  count: number;
  imagesDir: string;
  /** An index folder, or a postgres:// URL (password hidden). */
  location: string;
  store: 'files' | 'postgres';
  search: SearchMode;
  updatedAt: string;
  /** Index folders: the generation of the files and the photos the last run skipped. */
  generation?: number;
  skipped?: number;
}

/** Where nearest neighbours come from: an index folder in memory, or PostgreSQL. */
interface NeighbourSource {
  /** Up to `limit` rows nearest to the vector, best first, filters applied, excluded rows left out. */
  nearest(
    vector: Float32Array,
    limit: number,
    where: Filters | undefined,
    exclude: ReadonlySet<number>,
  ): Promise<Hit[]>;
  vector(row: number): Promise<Float32Array>;
  /** count x dim, row order, in a buffer of its own. */
  all(): Promise<Float32Array>;
  close(): Promise<void>;
}

class FileSource implements NeighbourSource {
  constructor(
    private readonly exact: ExactSearch,
    private readonly filters: FilterIndex,
    private readonly hnsw?: HnswSearch,
  ) {}

  async nearest(
    vector: Float32Array,
    limit: number,
    where: Filters | undefined,
    exclude: ReadonlySet<number>,
  ) {
    // Filtered queries scan just the matching rows, exactly; others use the graph when there is one.
    const rows = hasFilters(where) ? this.filters.rows(where) : undefined;
    const available = rows ? rows.length : this.exact.count;
    const want = Math.min(limit + exclude.size, available);
    const hits = !rows && this.hnsw ? this.hnsw.search(vector, want) : this.exact.search(vector, want, rows);
    return hits.filter((h) => !exclude.has(h.row));
  }

  async vector(row: number) {
    return this.exact.vector(row);
  }

  async all() {
    return this.exact.vectors;
  }

  async close() {}
}

class PostgresSource implements NeighbourSource {
  constructor(
    private readonly pg: PgSearch,
    private readonly items: IndexItem[],
    private readonly rowById: Map<string, number>,
  ) {}

  async nearest(
    vector: Float32Array,
    limit: number,
    where: Filters | undefined,
    exclude: ReadonlySet<number>,
  ) {
    const hashes = [...new Set([...exclude].map((r) => (this.items[r] as IndexItem).hash))];
    const hits = await this.pg.nearest(vector, limit, where, hashes);
    // Products added after this process loaded the catalogue are not shown until it reloads.
    return hits.flatMap((h) => {
      const row = this.rowById.get(h.id);
      return row === undefined ? [] : [{ row, score: h.score }];
    });
  }

  vector(row: number) {
    return this.pg.vector((this.items[row] as IndexItem).id);
  }

  async all() {
    const out = new Float32Array(this.items.length * EMBEDDING_DIM);
    for (let row = 0; row < this.items.length; row++) out.set(await this.vector(row), row * EMBEDDING_DIM);
    return out;
  }

  close() {
    return this.pg.close();
  }
}

export class Recommender {
  readonly filters: FilterIndex;
  private readonly rowById = new Map<string, number>();
  private readonly rowsByHash = new Map<string, number[]>();
  private readonly source: NeighbourSource;
  private embedder?: Promise<Embedder>;

  private constructor(
    readonly manifest: CatalogueInfo,
    readonly items: IndexItem[],
    makeSource: (r: Recommender) => NeighbourSource,
    private readonly options: RecommenderOptions,
  ) {
    items.forEach((item, row) => {
      this.rowById.set(item.id, row);
      const group = this.rowsByHash.get(item.hash);
      if (group) group.push(row);
      else this.rowsByHash.set(item.hash, [row]);
    });
    this.filters = new FilterIndex(items);
    this.source = makeSource(this);
  }

  /** Opens an index folder, or a PostgreSQL store given by a postgres:// URL. */
  static async open(location: string, options: RecommenderOptions = {}): Promise<Recommender> {
    let r: Recommender;
    if (isPostgresUrl(location)) {
      const search = options.search ?? 'hnsw';
      const pg = await PgSearch.open(location, { mode: search, efSearch: options.efSearch });
      const items = await pg.items();
      const info: CatalogueInfo = {
        spec: pg.manifest.spec,
        dim: pg.manifest.spec.dim,
        count: items.length,
        imagesDir: pg.manifest.imagesDir,
        location: redact(location),
        store: 'postgres',
        search,
        updatedAt: pg.manifest.updatedAt,
      };
      r = new Recommender(info, items, (self) => new PostgresSource(pg, items, self.rowById), options);
    } else {
      const search = options.search ?? 'exact';
      const data = await loadIndex(location);
      const exact = new ExactSearch(data.vectors, data.manifest.dim, options.exactBackend);
      const hnsw =
        search === 'hnsw'
          ? await openHnsw(location, { vectors: exact.vectors, expansionSearch: options.efSearch })
          : undefined;
      const { spec, dim, count, imagesDir, updatedAt, generation, skipped } = data.manifest;
      const info: CatalogueInfo = {
        ...{ spec, dim, count, imagesDir, updatedAt, generation, skipped },
        ...{ location, store: 'files', search },
      };
      r = new Recommender(info, data.items, (self) => new FileSource(exact, self.filters, hnsw), options);
    }
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

  /** Every product's vector, count x dim in row order (for evaluation). */
  vectors(): Promise<Float32Array> {
    return this.source.all();
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
        results: await this.nearest(await this.source.vector(first), options, new Set(group)),
      };
    }
    const embedder = await this.getEmbedder();
    const [vector] = await embedder.embed([image]);
    return {
      query: { excluded: [] },
      results: await this.nearest(vector as Float32Array, options, new Set()),
    };
  }

  /** "More like this": recommendations for a catalogue product. */
  async similar(id: string, options: RecommendOptions = {}): Promise<RecommendResult> {
    const row = this.rowById.get(id);
    if (row === undefined) throw new UnknownProductError(`no product "${id}" in the index`);
    const group = this.rowsByHash.get((this.items[row] as IndexItem).hash) ?? [row];
    return {
      query: { recognisedAs: id, excluded: group.map((r) => (this.items[r] as IndexItem).id) },
      results: await this.nearest(await this.source.vector(row), options, new Set(group)),
    };
  }

  /** The k best products for a vector, excluding some rows, one result per distinct photo. */
  async nearest(
    vector: Float32Array,
    options: RecommendOptions,
    exclude: ReadonlySet<number>,
  ): Promise<Recommendation[]> {
    const k = Math.max(1, options.k ?? 5);
    if (hasFilters(options.where)) this.filters.check(options.where);
    let want = k + 8;
    for (;;) {
      const hits = await this.source.nearest(vector, want, options.where, exclude);
      const seen = new Set<string>();
      const out: Recommendation[] = [];
      for (const hit of hits) {
        const hash = (this.items[hit.row] as IndexItem).hash;
        if (seen.has(hash)) continue;
        seen.add(hash);
        out.push(this.describe(hit.row, hit.score));
        if (out.length === k) return out;
      }
      // Fewer hits than asked for: nothing more to find.
      if (hits.length < want || want >= this.items.length) return out;
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
    await this.source.close();
  }
}
