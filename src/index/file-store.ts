/** The embedded store: an index folder loaded into memory, searched exactly or through its HNSW graph. */
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { schemaOfProducts } from '../catalogue/schema.js';
import { COLOUR_DIM } from '../images/colour.js';
import { FilterIndex, hasFilters } from './filters.js';
import { FolderSink } from './folder-sink.js';
import { type HnswSearch, openHnsw } from './hnsw.js';
import type { IndexSink } from './pipeline.js';
import type {
  ChangeToWrite,
  Hit,
  IndexItem,
  NearestQuery,
  OpenStoreOptions,
  StoredChange,
  StoredVector,
  StoreInfo,
  VectorStore,
} from './port.js';
import { ProductTable } from './product-table.js';
import { ExactSearch } from './search.js';
import { SearchBatcher } from './search-batcher.js';
import { type IndexManifest, loadIndex, readManifest } from './store.js';
import { appendWal, encodeVector, photosDir, readWal, storePhoto } from './wal.js';

export class FileStore extends ProductTable implements VectorStore {
  readonly filters: FilterIndex;
  /** Unfiltered exact searches that arrive together, searched together. */
  private readonly batcher: SearchBatcher;

  private constructor(
    readonly info: StoreInfo,
    readonly manifest: IndexManifest,
    items: IndexItem[],
    private readonly exact: ExactSearch,
    private readonly hnsw: HnswSearch | undefined,
  ) {
    super(items);
    this.filters = new FilterIndex(items);
    this.batcher = new SearchBatcher(exact);
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

  /**
   * Opens the current generation. An indexing run may commit a newer one meanwhile and remove the
   * files being read (serve while it indexes publishes several): then the newer one is opened.
   */
  static async open(dir: string, options: OpenStoreOptions = {}): Promise<FileStore> {
    for (let attempt = 1; ; attempt++) {
      const before = (await readManifest(dir).catch(() => undefined))?.generation;
      try {
        return await FileStore.openGeneration(dir, options);
      } catch (err) {
        const now = (await readManifest(dir).catch(() => undefined))?.generation;
        if (attempt >= 5 || before === undefined || now === undefined || now === before) throw err;
      }
    }
  }

  private static async openGeneration(dir: string, options: OpenStoreOptions): Promise<FileStore> {
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

  /**
   * A product's visual vector and colour descriptor as this generation stored them (read from its
   * files: the search space in memory may be another).
   */
  async storedVector(row: number): Promise<StoredVector> {
    const dir = this.info.location;
    const { dim, vectorsFile } = this.manifest;
    const visual = await readRow(join(dir, vectorsFile), row, dim);
    const coloursFile = (this.manifest.similarity as { coloursFile?: unknown } | undefined)?.coloursFile;
    const colour =
      typeof coloursFile === 'string'
        ? await readRow(join(dir, coloursFile), row, COLOUR_DIM).catch(() => undefined)
        : undefined;
    return { visual, ...(colour ? { colour } : {}) };
  }

  /**
   * Filtered queries scan just the matching rows, exactly; others use the graph when there is one,
   * or else share a pass over all rows with the searches that arrive with them.
   */
  async nearest(vector: Float32Array, query: NearestQuery): Promise<Hit[]> {
    const rows = hasFilters(query.where) ? this.filters.rows(query.where) : undefined;
    const exclude = new Set((query.excludeHashes ?? []).flatMap((h) => this.rowsWithHash(h)));
    const available = rows ? rows.length : this.exact.count;
    const want = Math.min(query.k + exclude.size, available);
    const hits = rows
      ? this.exact.search(vector, want, rows)
      : this.hnsw
        ? this.hnsw.search(vector, want)
        : await this.batcher.search(vector, want);
    return hits.filter((h) => !exclude.has(h.row)).slice(0, query.k);
  }

  /** Bytes of the write-ahead log read so far, and the last change's position. */
  private walEnd = 0;
  private lastSeq = 0;

  /** The API's changes appended to the folder's write-ahead log since the last call (wal.ts). */
  async readChanges(): Promise<StoredChange[]> {
    const read = await readWal(this.info.location, this.walEnd);
    this.walEnd = read.end;
    for (const c of read.changes) this.lastSeq = Math.max(this.lastSeq, c.seq);
    return read.changes;
  }

  /** Stores the photo (photos/, by content hash), then appends the change to the log and fsyncs it. */
  async writeChange(change: ChangeToWrite): Promise<number> {
    const dir = this.info.location;
    const seq = this.lastSeq + 1;
    const at = new Date().toISOString();
    if (change.op === 'put') {
      if (change.photo) await storePhoto(photosDir(dir), change.item.file, change.photo);
      await appendWal(dir, this.walEnd, {
        seq,
        at,
        op: 'put',
        id: change.item.id,
        item: change.item,
        visual: encodeVector(change.visual),
        ...(change.colour ? { colour: encodeVector(change.colour) } : {}),
      });
    } else {
      await appendWal(dir, this.walEnd, { seq, at, op: 'delete', id: change.id });
    }
    // (Read back, with anything another process appended meanwhile, by the next readChanges.)
    return seq;
  }

  async generation(): Promise<string> {
    const manifest = await readManifest(this.info.location).catch(() => undefined);
    return String(manifest?.generation ?? this.manifest.generation);
  }

  writer(): IndexSink {
    return new FolderSink(this.info.location);
  }

  async searchReady(): Promise<void> {
    await this.batcher.ready();
  }

  async close(): Promise<void> {
    await this.batcher.close();
  }
}

/** Row `row` of a count x dim float32 file. */
async function readRow(path: string, row: number, dim: number): Promise<Float32Array> {
  const out = new Float32Array(dim);
  const bytes = new Uint8Array(out.buffer);
  const handle = await open(path, 'r');
  try {
    const { bytesRead } = await handle.read(bytes, 0, bytes.length, row * dim * 4);
    if (bytesRead !== bytes.length) throw new Error(`${path} has no row ${row}`);
  } finally {
    await handle.close();
  }
  return out;
}
