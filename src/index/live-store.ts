/**
 * A store with changes applied in memory over a loaded base (an index folder's generation, or the
 * products a PostgreSQL store had when it was loaded): products added or replaced are new rows
 * after the base's, and the rows they replace or delete are tombstones. Loading the base again
 * takes seconds; a change applied here is searchable at once.
 *
 * Rows never change meaning: a replaced product gets a new row, and its old row stays in `items`
 * (never returned again), so a request that started before a change finishes consistently.
 *
 * Search: an index folder's base is searched as before (exact, filtered, or its HNSW graph) for
 * k + tombstones hits, the tombstones are dropped, and the new rows are scanned exactly and merged.
 * A PostgreSQL base searches every row in SQL itself (`nearestIds`): only the ids are mapped.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FilterError, type Filters, hasFilters } from './filters.js';
import type { IndexSink } from './pipeline.js';
import type {
  ChangeToWrite,
  Hit,
  IndexItem,
  NearestQuery,
  StoredChange,
  StoredVector,
  StoreInfo,
  VectorStore,
} from './port.js';

/** A change as applied: a product put with its search vector (and what it was made of), or a deletion. */
export type LiveChange =
  | { op: 'put'; item: IndexItem; vector?: Float32Array; stored?: StoredVector }
  | { op: 'delete'; id: string };

/** A store that searches its whole table itself, by id (PostgreSQL). */
export interface IdSearch {
  nearestIds(vector: Float32Array, query: NearestQuery): Promise<{ id: string; score: number }[]>;
  vectorById(id: string): Promise<Float32Array>;
}

export interface LiveStoreOptions {
  /** Folder where the API's photos are (index folders: `<dir>/photos`). */
  photosDir?: string;
  /** The base searches every product itself by id (PostgreSQL). */
  idSearch?: IdSearch;
}

export class LiveStore implements VectorStore {
  readonly items: IndexItem[];
  private readonly baseCount: number;
  private readonly dead = new Set<number>();
  private deadInBase = 0;
  private readonly rowById = new Map<string, number>();
  private readonly rowsByHash = new Map<string, number[]>();
  /** New rows' search vectors (undefined: fetched by id from the base when asked). */
  private readonly deltaVectors = new Map<number, Float32Array | undefined>();
  private readonly deltaStored = new Map<number, StoredVector>();
  /** Counts changes applied (caches built from the items follow it). */
  version = 0;

  constructor(
    readonly base: VectorStore,
    private readonly options: LiveStoreOptions = {},
  ) {
    const idSearch = base as Partial<IdSearch>;
    if (!options.idSearch && idSearch.nearestIds && idSearch.vectorById) {
      this.options = { ...options, idSearch: idSearch as IdSearch };
    }
    this.items = [...base.items];
    this.baseCount = this.items.length;
    this.items.forEach((item, row) => {
      this.rowById.set(item.id, row);
      this.addToHash(item.hash, row);
    });
  }

  get info(): StoreInfo {
    return { ...this.base.info, count: this.count };
  }

  get spec() {
    return this.base.spec;
  }

  get schema() {
    return this.base.schema;
  }

  get dim() {
    return this.base.dim;
  }

  /** Products searchable now. */
  get count(): number {
    return this.items.length - this.dead.size;
  }

  /** Whether a row is a product now (not replaced or deleted since). */
  isLive(row: number): boolean {
    return row >= 0 && row < this.items.length && !this.dead.has(row);
  }

  /** The items, with holes where rows are no longer live (for per-row indexes such as FilterIndex). */
  liveItems(): IndexItem[] {
    if (this.dead.size === 0) return this.items;
    const out = new Array<IndexItem>(this.items.length);
    this.items.forEach((item, row) => {
      if (!this.dead.has(row)) out[row] = item;
    });
    return out;
  }

  row(id: string): number | undefined {
    return this.rowById.get(id);
  }

  rowsWithHash(hash: string): readonly number[] {
    return this.rowsByHash.get(hash) ?? [];
  }

  /** Applies a change; returns the new row of a put, or undefined. */
  apply(change: LiveChange): number | undefined {
    const id = change.op === 'put' ? change.item.id : change.id;
    const old = this.rowById.get(id);
    if (old !== undefined) {
      this.dead.add(old);
      if (old < this.baseCount) this.deadInBase += 1;
      this.rowById.delete(id);
      const hash = (this.items[old] as IndexItem).hash;
      const group = (this.rowsByHash.get(hash) ?? []).filter((r) => r !== old);
      if (group.length > 0) this.rowsByHash.set(hash, group);
      else this.rowsByHash.delete(hash);
      // (Its stored vector stays: an identical photo put later reuses it.)
      this.deltaVectors.delete(old);
    }
    this.version += 1;
    if (change.op === 'delete') return undefined;
    const row = this.items.length;
    this.items.push(change.item);
    this.rowById.set(id, row);
    this.addToHash(change.item.hash, row);
    this.deltaVectors.set(row, change.vector);
    if (change.stored) this.deltaStored.set(row, change.stored);
    return row;
  }

  private addToHash(hash: string, row: number): void {
    const group = this.rowsByHash.get(hash);
    if (group) group.push(row);
    else this.rowsByHash.set(hash, [row]);
  }

  async vector(row: number): Promise<Float32Array> {
    if (row < this.baseCount) return this.base.vector(row);
    const v = this.deltaVectors.get(row);
    if (v) return v.slice();
    const id = (this.items[row] as IndexItem).id;
    if (this.options.idSearch) return this.options.idSearch.vectorById(id);
    throw new Error(`no vector for product ${id}`);
  }

  async storedVector(row: number): Promise<StoredVector> {
    const stored = this.deltaStored.get(row);
    if (stored) return stored;
    if (row < this.baseCount && this.base.storedVector) return this.base.storedVector(row);
    // Stores searched in their stored vectors (PostgreSQL).
    return { visual: await this.vector(row) };
  }

  async storedPhoto(item: IndexItem): Promise<Buffer | undefined> {
    if (item.origin !== 'api') return undefined;
    if (this.options.photosDir)
      return readFile(join(this.options.photosDir, item.file)).catch(() => undefined);
    return this.base.storedPhoto?.(item);
  }

  /** Every row's vector, count x dim in row order (rows no longer live included, for evaluation). */
  async vectors(): Promise<Float32Array> {
    const base = await this.base.vectors();
    if (this.items.length === this.baseCount) return base;
    const out = new Float32Array(this.items.length * this.dim);
    out.set(base);
    for (let row = this.baseCount; row < this.items.length; row++) {
      out.set(await this.vector(row), row * this.dim);
    }
    return out;
  }

  async nearest(vector: Float32Array, query: NearestQuery): Promise<Hit[]> {
    if (this.options.idSearch) {
      const found = await this.options.idSearch.nearestIds(vector, query);
      return found
        .flatMap((h) => {
          const row = this.rowById.get(h.id);
          return row === undefined ? [] : [{ row, score: h.score }];
        })
        .sort((a, b) => b.score - a.score || a.row - b.row);
    }
    const hits: Hit[] = [];
    if (this.baseCount > 0) {
      const wanted = Math.min(query.k + this.deadInBase, this.baseCount);
      const fromBase = await this.base.nearest(vector, { ...query, k: wanted }).catch((err: unknown) => {
        // A column that only products added since the base was loaded have.
        if (err instanceof FilterError) return [];
        throw err;
      });
      for (const h of fromBase) if (!this.dead.has(h.row)) hits.push(h);
    }
    const excluded = new Set(query.excludeHashes ?? []);
    const where = hasFilters(query.where) ? query.where : undefined;
    for (const [row, v] of this.deltaVectors) {
      const item = this.items[row] as IndexItem;
      if (!v || excluded.has(item.hash) || (where && !matches(item, where))) continue;
      let dot = 0;
      for (let d = 0; d < v.length; d++) dot += (v[d] as number) * (vector[d] as number);
      hits.push({ row, score: dot });
    }
    return hits.sort((a, b) => b.score - a.score || a.row - b.row).slice(0, query.k);
  }

  async readChanges(): Promise<StoredChange[]> {
    return (await this.base.readChanges?.()) ?? [];
  }

  writeChange(change: ChangeToWrite): Promise<number> {
    if (!this.base.writeChange) throw new Error(`the store at ${this.base.info.location} cannot be changed`);
    return this.base.writeChange(change);
  }

  async listen(onNotice: () => void): Promise<{ close(): Promise<void> }> {
    return (await this.base.listen?.(onNotice)) ?? { close: async () => undefined };
  }

  generation(): Promise<string> {
    return this.base.generation();
  }

  writer(): IndexSink {
    return this.base.writer();
  }

  async searchReady(): Promise<void> {
    await this.base.searchReady?.();
  }

  close(): Promise<void> {
    return this.base.close();
  }
}

/** Whether a product passes filters as FilterIndex applies them (any value of a column, every column; case-blind). */
function matches(item: IndexItem, where: Filters): boolean {
  for (const [column, values] of Object.entries(where)) {
    if (values.length === 0) continue;
    const value = item.metadata[column]?.toLowerCase();
    if (value === undefined || !values.some((v) => v.toLowerCase() === value)) return false;
  }
  return true;
}
