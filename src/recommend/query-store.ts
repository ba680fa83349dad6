/**
 * Short-lived query ids: an uploaded photo's resolved query (its search vector and what it was
 * taken to be) kept in memory under a random URL-safe id, so that the same search can be run
 * again with other filters or another page without the photo. Bounded by entries and by bytes,
 * least recently used first out; an entry lives for a while after its last use.
 */
import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Garment } from '../images/garments.js';
import type { ResolvedQuery } from './recommender.js';

export interface StoredQuery extends ResolvedQuery {
  /** Separate items found in the photo, when more than one. */
  garments?: Garment[];
}

export interface QueryStoreOptions {
  /** Most queries kept (default 1000). */
  maxEntries?: number;
  /** Most bytes kept, vectors and query info together (default 64 MiB). */
  maxBytes?: number;
  /** How long a query is kept after its last use, in ms (default 30 minutes). */
  ttlMs?: number;
}

export const DEFAULT_QUERY_STORE: Required<QueryStoreOptions> = {
  maxEntries: 1000,
  maxBytes: 64 * 1024 * 1024,
  ttlMs: 30 * 60 * 1000,
};

/** About how many bytes a stored query holds. */
function sizeOf(entry: StoredQuery): number {
  return entry.vector.byteLength + 2 * JSON.stringify([entry.query, entry.garments ?? []]).length + 64;
}

export class QueryStore {
  private readonly cache: LRUCache<string, StoredQuery>;
  readonly options: Required<QueryStoreOptions>;

  constructor(options: QueryStoreOptions = {}) {
    this.options = { ...DEFAULT_QUERY_STORE, ...options };
    this.cache = new LRUCache<string, StoredQuery>({
      max: this.options.maxEntries,
      maxSize: this.options.maxBytes,
      sizeCalculation: (entry) => Math.max(1, sizeOf(entry)),
      ttl: this.options.ttlMs,
      updateAgeOnGet: true,
      // Expired entries are dropped as they are met, and by the size and count bounds.
      ttlAutopurge: false,
    });
  }

  /** Keeps a query; its id: 16 URL-safe characters (96 random bits). */
  put(entry: StoredQuery): string {
    const id = randomBytes(12).toString('base64url');
    // A query too large to keep gets an id that is already gone (its first GET answers 404).
    this.cache.set(id, entry);
    return id;
  }

  /** The query under an id, refreshed; undefined when unknown, expired or pushed out. */
  get(id: string): StoredQuery | undefined {
    return this.cache.get(id);
  }

  get size(): number {
    return this.cache.size;
  }

  /** Bytes held. */
  get bytes(): number {
    return this.cache.calculatedSize;
  }

  clear(): void {
    this.cache.clear();
  }
}

/** A query id as this store makes them (others are unknown without looking). */
export const QUERY_ID_PATTERN = /^[A-Za-z0-9_-]{16}$/;
