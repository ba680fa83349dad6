/** The embedded store: an index folder loaded into memory, searched exactly or through its HNSW graph. */
import { schemaOfProducts } from '../catalogue/schema.js';
import { FilterIndex, hasFilters } from './filters.js';
import { FolderSink } from './folder-sink.js';
import { type HnswSearch, openHnsw } from './hnsw.js';
import type { IndexSink } from './pipeline.js';
import type { Hit, IndexItem, NearestQuery, OpenStoreOptions, StoreInfo, VectorStore } from './port.js';
import { ProductTable } from './product-table.js';
import { ExactSearch } from './search.js';
import { type IndexManifest, loadIndex, readManifest } from './store.js';

export class FileStore extends ProductTable implements VectorStore {
  readonly filters: FilterIndex;

  private constructor(
    readonly info: StoreInfo,
    readonly manifest: IndexManifest,
    items: IndexItem[],
    private readonly exact: ExactSearch,
    private readonly hnsw: HnswSearch | undefined,
  ) {
    super(items);
    this.filters = new FilterIndex(items);
  }

  get spec() {
    return this.manifest.spec;
  }

  get schema() {
    this.schemaCache ??= this.manifest.schema ?? schemaOfProducts(this.items.map((i) => i.metadata));
    return this.schemaCache;
  }

  private schemaCache?: IndexManifest['schema'];

  get dim() {
    return this.exact.dim;
  }

  static async open(dir: string, options: OpenStoreOptions = {}): Promise<FileStore> {
    const data = await loadIndex(dir);
    const space = await options.searchSpace?.({
      location: dir,
      items: data.items,
      dim: data.manifest.dim,
      vectors: async () => data.vectors,
      derived: data.manifest.similarity,
    });
    const exact = new ExactSearch(
      space?.vectors ?? data.vectors,
      space?.dim ?? data.manifest.dim,
      options.exactBackend,
    );
    const search = options.search ?? 'exact';
    const hnsw =
      search === 'hnsw'
        ? await openHnsw(dir, {
            vectors: exact.vectors,
            expansionSearch: options.efSearch,
            similarity: { name: space?.name ?? 'original', dim: exact.dim },
          })
        : undefined;
    const { count, imagesDir, updatedAt, generation, skipped } = data.manifest;
    const info: StoreInfo = {
      kind: 'files',
      location: dir,
      count,
      imagesDir,
      updatedAt,
      search,
      generation,
      skipped,
    };
    return new FileStore(info, data.manifest, data.items, exact, hnsw);
  }

  async vector(row: number): Promise<Float32Array> {
    return this.exact.vector(row);
  }

  async vectors(): Promise<Float32Array> {
    return this.exact.vectors;
  }

  /** Filtered queries scan just the matching rows, exactly; others use the graph when there is one. */
  async nearest(vector: Float32Array, query: NearestQuery): Promise<Hit[]> {
    const rows = hasFilters(query.where) ? this.filters.rows(query.where) : undefined;
    const exclude = new Set((query.excludeHashes ?? []).flatMap((h) => this.rowsWithHash(h)));
    const available = rows ? rows.length : this.exact.count;
    const want = Math.min(query.k + exclude.size, available);
    const hits = !rows && this.hnsw ? this.hnsw.search(vector, want) : this.exact.search(vector, want, rows);
    return hits.filter((h) => !exclude.has(h.row)).slice(0, query.k);
  }

  async generation(): Promise<string> {
    const manifest = await readManifest(this.info.location).catch(() => undefined);
    return String(manifest?.generation ?? this.manifest.generation);
  }

  writer(): IndexSink {
    return new FolderSink(this.info.location);
  }

  async close(): Promise<void> {}
}
