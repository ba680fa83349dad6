/**
 * Nearest-neighbour search in PostgreSQL: filters, exclusions and the vector ordering in one SQL
 * query. `hnsw` orders by the half-precision HNSW index (with pgvector's iterative scan, so that
 * selective filters still fill the page); `exact` scans the float32 embeddings. Scores are always
 * the exact float32 cosine similarity.
 */
import type pg from 'pg';
import { EMBEDDING_DIM } from '../../embeddings/embedder.js';
import type { Filters } from '../../recommend/filters.js';
import type { IndexItem } from '../store.js';
import { IndexError } from '../store.js';
import { createPool, fromVectorLiteral, redact, toVectorLiteral } from './connection.js';
import { type PgManifest, readPgManifest } from './schema.js';

export const PG_SEARCH_MODES = ['hnsw', 'exact'] as const;
export type PgSearchMode = (typeof PG_SEARCH_MODES)[number];

export interface PgHit {
  id: string;
  score: number;
}

export interface PgSearchOptions {
  mode?: PgSearchMode;
  /** HNSW candidate list size (pgvector's hnsw.ef_search; default 100). */
  efSearch?: number;
}

export class PgSearch {
  private constructor(
    private readonly db: pg.Pool,
    readonly manifest: PgManifest,
    readonly mode: PgSearchMode,
  ) {}

  static async open(url: string, options: PgSearchOptions = {}): Promise<PgSearch> {
    const ef = Math.max(10, Math.min(1000, Math.floor(options.efSearch ?? 100)));
    // Iterative scans (pgvector 0.8) keep reading the graph until filtered queries are filled.
    const db = createPool(url, 8, { 'hnsw.ef_search': ef, 'hnsw.iterative_scan': 'relaxed_order' });
    let manifest: PgManifest | undefined;
    try {
      manifest = await readPgManifest(db);
    } catch (err) {
      await db.end();
      throw new IndexError(`cannot read the store at ${redact(url)}: ${(err as Error).message}`);
    }
    if (!manifest) {
      await db.end();
      throw new IndexError(
        `no index in ${redact(url)} (build one with: lookalike index <images-dir> --store <url>)`,
      );
    }
    return new PgSearch(db, manifest, options.mode ?? 'hnsw');
  }

  /** Every product, by id (metadata only, no embeddings). */
  async items(): Promise<IndexItem[]> {
    const r = await this.db.query(
      'SELECT id, file, hash, bytes, mtime_ms, metadata FROM lookalike_products ORDER BY id',
    );
    return r.rows.map((row) => ({
      id: row.id,
      file: row.file,
      hash: row.hash,
      bytes: Number(row.bytes),
      mtimeMs: row.mtime_ms,
      metadata: row.metadata,
    }));
  }

  async vector(id: string): Promise<Float32Array> {
    const r = await this.db.query('SELECT embedding::text AS e FROM lookalike_products WHERE id = $1', [id]);
    const row = r.rows[0];
    if (!row) throw new IndexError(`no product "${id}" in the store`);
    return fromVectorLiteral(row.e);
  }

  /** The `limit` nearest products to a vector, with filters and exclusions applied in SQL. */
  async nearest(
    vector: Float32Array,
    limit: number,
    where: Filters | undefined,
    excludeHashes: string[],
  ): Promise<PgHit[]> {
    const params: unknown[] = [toVectorLiteral(vector), limit, excludeHashes];
    const conditions = ['NOT (hash = ANY($3::text[]))'];
    for (const [column, values] of Object.entries(where ?? {})) {
      if (values.length === 0) continue;
      params.push(
        column,
        values.map((v) => v.toLowerCase()),
      );
      conditions.push(`lower(metadata->>$${params.length - 1}) = ANY($${params.length}::text[])`);
    }
    const order =
      this.mode === 'hnsw'
        ? `embedding::halfvec(${EMBEDDING_DIM}) <#> $1::halfvec(${EMBEDDING_DIM})`
        : 'embedding <#> $1::vector';
    const sql = `
      SELECT id, -(embedding <#> $1::vector) AS score FROM (
        SELECT id, embedding FROM lookalike_products
        WHERE ${conditions.join(' AND ')}
        ORDER BY ${order}
        LIMIT $2
      ) candidates`;
    const r = await this.db.query(sql, params);
    return r.rows
      .map((row) => ({ id: row.id as string, score: Number(row.score) }))
      .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1));
  }

  async close(): Promise<void> {
    await this.db.end();
  }
}
