/**
 * The PostgreSQL + pgvector store, read side. Products (without embeddings) are loaded once; the
 * nearest-neighbour search runs in SQL with filters, exclusions and the vector ordering in one
 * query. `hnsw` orders by the half-precision HNSW index (with pgvector's iterative scan, so that
 * selective filters still fill the page); `exact` scans the float32 embeddings. Scores are always
 * the exact float32 cosine similarity. Bulk reads are set-based (pages of rows, binary vectors).
 */
import type pg from 'pg';
import { schemaOfProducts } from '../../catalogue/schema.js';
import { EMBEDDING_DIM } from '../../embeddings/spec.js';
import type { Filters } from '../filters.js';
import type { IndexSink } from '../pipeline.js';
import type { Hit, IndexItem, NearestQuery, OpenStoreOptions, StoreInfo, VectorStore } from '../port.js';
import { ProductTable } from '../product-table.js';
import { IndexError } from '../store.js';
import { createPool, fromVectorLiteral, redact, toVectorLiteral } from './connection.js';
import { PgSink } from './pg-sink.js';
import { type PgManifest, readPgManifest } from './schema.js';

/** Rows per page of a bulk read. */
const PAGE = 4096;

/** pgvector's binary form of a vector: int16 dim, int16 unused, then dim big-endian float32. */
function fromVectorBinary(bytes: Buffer, out: Float32Array, at: number): void {
  const dim = bytes.readUInt16BE(0);
  for (let d = 0; d < dim; d++) out[at + d] = bytes.readFloatBE(4 + d * 4);
}

export class PgStore extends ProductTable implements VectorStore {
  readonly dim: number;

  private constructor(
    private readonly url: string,
    private readonly db: pg.Pool,
    private readonly manifest: PgManifest,
    readonly info: StoreInfo,
    items: IndexItem[],
    readonly schema: VectorStore['schema'],
  ) {
    super(items);
    this.dim = manifest.spec.dim;
  }

  get spec() {
    return this.manifest.spec;
  }

  static async open(url: string, options: OpenStoreOptions = {}): Promise<PgStore> {
    const ef = Math.max(10, Math.min(1000, Math.floor(options.efSearch ?? 100)));
    // Every connection of the pool gets the search settings at start-up (not a SET through the pool).
    // Iterative scans (pgvector 0.8) keep reading the graph until filtered queries are filled.
    const db = createPool(url, 8, { 'hnsw.ef_search': ef, 'hnsw.iterative_scan': 'relaxed_order' });
    try {
      let manifest: PgManifest | undefined;
      try {
        manifest = await readPgManifest(db);
      } catch (err) {
        throw new IndexError(`cannot read the store at ${redact(url)}: ${(err as Error).message}`);
      }
      if (!manifest) {
        throw new IndexError(
          `no index in ${redact(url)} (build one with: lookalike index <images-dir> --out <url>)`,
        );
      }
      const items = await readItems(db);
      const space = await options.searchSpace?.({
        location: redact(url),
        items,
        dim: manifest.spec.dim,
        vectors: () => Promise.reject(new IndexError('a PostgreSQL store is searched in its stored vectors')),
      });
      if (space) throw new IndexError('a PostgreSQL store is searched in its stored vectors only');
      const search = options.search ?? 'hnsw';
      const info: StoreInfo = {
        kind: 'postgres',
        location: redact(url),
        count: items.length,
        imagesDir: manifest.imagesDir,
        updatedAt: manifest.updatedAt,
        search,
      };
      const schema = manifest.schema ?? schemaOfProducts(items.map((i) => i.metadata));
      return new PgStore(url, db, manifest, info, items, schema);
    } catch (err) {
      await db.end();
      throw err;
    }
  }

  async vector(row: number): Promise<Float32Array> {
    const id = this.items[row]?.id;
    const r = await this.db.query('SELECT embedding::text AS e FROM lookalike_products WHERE id = $1', [id]);
    if (!r.rows[0]) throw new IndexError(`no product "${id}" in the store`);
    return fromVectorLiteral(r.rows[0].e);
  }

  /** Every vector in row order: pages of rows by id, embeddings in pgvector's binary form. */
  async vectors(): Promise<Float32Array> {
    const out = new Float32Array(this.items.length * this.dim);
    let after = '';
    for (;;) {
      // Binary results (node-postgres supports them; its typings lack the flag): no text to parse.
      const r = await this.db.query<{ id: Buffer | string; embedding: Buffer }>({
        text: 'SELECT id, embedding FROM lookalike_products WHERE id > $1 ORDER BY id LIMIT $2',
        values: [after, PAGE],
        binary: true,
        types: { getTypeParser: () => (raw: Buffer) => raw },
      } as pg.QueryConfig);
      for (const row of r.rows) {
        const id = row.id.toString();
        const at = this.row(id);
        if (at !== undefined) fromVectorBinary(row.embedding, out, at * this.dim);
        after = id;
      }
      if (r.rows.length < PAGE) return out;
    }
  }

  /** The k nearest products, with filters and exclusions applied in SQL. */
  async nearest(vector: Float32Array, query: NearestQuery): Promise<Hit[]> {
    const params: unknown[] = [toVectorLiteral(vector), query.k, query.excludeHashes ?? []];
    const conditions = ['NOT (hash = ANY($3::text[]))', ...filterConditions(query.where, params)];
    const order =
      this.info.search === 'hnsw'
        ? `embedding::halfvec(${EMBEDDING_DIM}) <#> $1::halfvec(${EMBEDDING_DIM})`
        : 'embedding <#> $1::vector';
    const r = await this.db.query(
      `SELECT id, -(embedding <#> $1::vector) AS score FROM (
         SELECT id, embedding FROM lookalike_products
         WHERE ${conditions.join(' AND ')}
         ORDER BY ${order}
         LIMIT $2
       ) candidates`,
      params,
    );
    // Products added after this process loaded the catalogue are not shown until it reloads.
    return r.rows
      .flatMap((h: { id: string; score: string }) => {
        const row = this.row(h.id);
        return row === undefined ? [] : [{ row, score: Number(h.score) }];
      })
      .sort((a, b) => b.score - a.score || a.row - b.row);
  }

  async generation(): Promise<string> {
    const r = await this.db.query(
      'SELECT (SELECT updated_at FROM lookalike_manifest) AS at, count(*)::int AS n, max(indexed_at) AS last FROM lookalike_products',
    );
    const row = r.rows[0] as { at: Date | null; n: number; last: Date | null };
    return `${row.at?.toISOString() ?? '-'}/${row.n}/${row.last?.toISOString() ?? '-'}`;
  }

  writer(): IndexSink {
    return new PgSink(this.url);
  }

  close(): Promise<void> {
    return this.db.end();
  }
}

/** Every product, by id (metadata only, no embeddings). */
async function readItems(db: pg.Pool): Promise<IndexItem[]> {
  const r = await db.query(
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

/**
 * SQL conditions for filters (parameters appended to `params`): any value of a column, all columns.
 * PostgreSQL text holds no NUL character, and no stored value has one (the catalogue reader removes
 * them): a column or value with a NUL matches nothing, as on an index folder.
 */
function filterConditions(where: Filters | undefined, params: unknown[]): string[] {
  const conditions: string[] = [];
  for (const [column, all] of Object.entries(where ?? {})) {
    if (all.length === 0) continue;
    const values = all.filter((v) => !v.includes('\0'));
    if (column.includes('\0') || values.length === 0) {
      conditions.push('FALSE');
      continue;
    }
    params.push(
      column,
      values.map((v) => v.toLowerCase()),
    );
    conditions.push(`lower(metadata->>$${params.length - 1}) = ANY($${params.length}::text[])`);
  }
  return conditions;
}
