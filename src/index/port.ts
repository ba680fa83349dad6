/**
 * The store port: what every kind of vector store offers, whatever holds the vectors (an index
 * folder in memory, or PostgreSQL + pgvector). The CLI, the server, the recommender and the
 * evaluation work through it and never ask which one they have (see open.ts).
 */
import type { CatalogueSchema } from '../catalogue/schema.js';
import type { EmbeddingSpec } from '../embeddings/spec.js';
import type { Filters } from './filters.js';
import type { IndexSink } from './pipeline.js';

/** A product as stored: its photo (path relative to the photos folder, content hash) and metadata. */
export interface IndexItem {
  id: string;
  /** Photo path relative to the store's photos folder. */
  file: string;
  /** SHA-256 of the photo's bytes. */
  hash: string;
  bytes: number;
  mtimeMs: number;
  metadata: Record<string, string>;
  /**
   * 'api': written through the product-management API (src/manage); its photo is stored by the
   * project (an index folder's photos/, or the database), not in the catalogue folder.
   */
  origin?: 'api';
}

/** What an indexing run stored for a product: its visual vector, and its colour descriptor where known. */
export interface StoredVector {
  visual: Float32Array;
  colour?: Float32Array;
}

/** A change written through the product-management API, as a store's change log gives it back. */
export interface StoredChange {
  /** Position in the store's log (increasing). */
  seq: number;
  op: 'put' | 'delete';
  id: string;
  /** A put: the product as stored, and its visual vector and colour descriptor. */
  item?: IndexItem;
  visual?: Float32Array;
  colour?: Float32Array;
}

/** A change to write durably (a put's photo bytes are stored by the store: `item.file` names them). */
export type ChangeToWrite =
  | { op: 'put'; item: IndexItem; visual: Float32Array; colour?: Float32Array; photo?: Buffer }
  | { op: 'delete'; id: string };

/** A nearest neighbour: a row of the store's items and its cosine similarity (1 = identical). */
export interface Hit {
  row: number;
  score: number;
}

export const SEARCH_MODES = ['exact', 'hnsw'] as const;
export type SearchMode = (typeof SEARCH_MODES)[number];

export type StoreKind = 'files' | 'postgres';

/** What a store says about itself (for health, logs and the CLI). */
export interface StoreInfo {
  kind: StoreKind;
  /** An index folder, or a postgres:// URL with its password hidden. */
  location: string;
  count: number;
  /** Absolute path of the catalogue's photos. */
  imagesDir: string;
  updatedAt: string;
  search: SearchMode;
  /** Index folders: the generation of the data files, and photos the last run skipped. */
  generation?: number;
  skipped?: number;
  /** What generation() said when the store was loaded (read before its products), where known. */
  loadedToken?: string;
}

export interface NearestQuery {
  /** How many hits at most. */
  k: number;
  where?: Filters;
  /** Photos (content hashes) never returned: the query's own. */
  excludeHashes?: readonly string[];
}

/** The vectors a store is searched in, if not its stored ones (a layer such as the learned similarity). */
export interface SearchSpace {
  /** count x dim, row order, in a buffer of its own. */
  vectors: Float32Array;
  dim: number;
  /** Names the space (HNSW graphs are tagged with it). */
  name: string;
}

/** What a search-space hook sees of a store as it opens. */
export interface StoreContents {
  location: string;
  items: readonly IndexItem[];
  /** Dimension of the stored vectors. */
  dim: number;
  /** The stored (visual) vectors, count x dim. */
  vectors(): Promise<Float32Array>;
  /** What a layer built on the vectors recorded with them (index folders; see src/similarity). */
  derived?: Record<string, unknown>;
}

export interface OpenStoreOptions {
  /** Default: `exact` for an index folder, `hnsw` for PostgreSQL. */
  search?: SearchMode;
  /** HNSW search expansion (ef): more is slower and closer to exact. */
  efSearch?: number;
  /** Exact-search implementation of an index folder. */
  exactBackend?: 'usearch' | 'typescript';
  /** Replaces the stored vectors by those the store is searched in; undefined keeps the stored ones. */
  searchSpace?: (contents: StoreContents) => Promise<SearchSpace | undefined>;
}

export interface VectorStore {
  readonly info: StoreInfo;
  readonly spec: EmbeddingSpec;
  readonly schema: CatalogueSchema;
  /** Every product, in row order. */
  readonly items: readonly IndexItem[];
  /** Dimension of the vectors searched (the search space's). */
  readonly dim: number;
  /** The row of a product id. */
  row(id: string): number | undefined;
  /** Rows whose photo has this content hash (identical photos), in row order. */
  rowsWithHash(hash: string): readonly number[];
  /** A product's search vector. */
  vector(row: number): Promise<Float32Array>;
  /** Every product's search vector, count x dim in row order, in a buffer of its own. */
  vectors(): Promise<Float32Array>;
  /** Up to k rows nearest to a search vector, best first, filters applied, excluded photos left out. */
  nearest(vector: Float32Array, query: NearestQuery): Promise<Hit[]>;
  /** A product's stored (visual) vector and colour descriptor, as indexed (before any search space). */
  storedVector?(row: number): Promise<StoredVector>;
  /** The bytes of a photo the store holds itself (products written through the API). */
  storedPhoto?(item: IndexItem): Promise<Buffer | undefined>;
  /**
   * The API's changes made since the last call (all of them on the first): an index folder's
   * write-ahead log, PostgreSQL's change table. Undefined for stores without one.
   */
  readChanges?(): Promise<StoredChange[]>;
  /**
   * Writes a change durably before resolving (fsynced log, committed transaction); the caller has
   * read the changes before it (readChanges). Returns its position in the log.
   */
  writeChange?(change: ChangeToWrite): Promise<number>;
  /**
   * Calls `onNotice` as soon as another process changes the store (PostgreSQL: LISTEN/NOTIFY);
   * watchers poll as well. Undefined where the store cannot tell.
   */
  listen?(onNotice: () => void): Promise<{ close(): Promise<void> }>;
  /** Readies the store for writeChange (PostgreSQL: its change and photo tables). */
  prepareWrites?(): Promise<void>;
  /**
   * Builds now what the store builds for its searches in the background on first use (an index
   * folder's two-pass search), and resolves once it is done; for benchmarks.
   */
  searchReady?(): Promise<void>;
  /** A token that changes whenever the stored catalogue does (to reload). */
  generation(): Promise<string>;
  /** A batch writer to the same store: the sink of an indexing run (pipeline.ts). */
  writer(): IndexSink;
  close(): Promise<void>;
}
