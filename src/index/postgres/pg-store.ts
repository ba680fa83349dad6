/**
 * The PostgreSQL + pgvector store, read side. Products (without embeddings) are loaded once; the
 * nearest-neighbour search runs in SQL with filters, exclusions and the vector ordering in one
 * query. `hnsw` orders by the half-precision HNSW index (with pgvector's iterative scan, so that
 * selective filters still fill the page); `exact` scans the float32 embeddings. Scores are always
 * the exact float32 cosine similarity. Bulk reads are set-based (pages of rows, binary vectors).
 */
import type pg from 'pg';
import pgModule from 'pg';
import { schemaOfProducts } from '../../catalogue/schema.js';
import { EMBEDDING_DIM } from '../../embeddings/spec.js';
import type { Filters } from '../filters.js';
import type { IndexSink } from '../pipeline.js';
import type {
  ChangeToWrite,
  Hit,
  IndexItem,
  NearestQuery,
  OpenStoreOptions,
  StoredChange,
  StoreInfo,
  VectorStore,
} from '../port.js';
import { ProductTable } from '../product-table.js';
import { IndexError } from '../store.js';
import { createPool, fromVectorLiteral, redact, toVectorLiteral } from './connection.js';
import { PgSink } from './pg-sink.js';
import {
  API_WRITER,
  CHANGES_CHANNEL,
  ensureApiTables,
  LOCKS,
  type PgManifest,
  readPgManifest,
  withClient,
} from './schema.js';

/** Rows per page of a bulk read. */
const PAGE = 4096;

/** pgvector's binary form of a vector: int16 dim, int16 unused, then dim big-endian float32. */
function fromVectorBinary(bytes: Buffer, out: Float32Array, at: number): void {
  const dim = bytes.readUInt16BE(0);
  for (let d = 0; d < dim; d++) out[at + d] = bytes.readFloatBE(4 + d * 4);
}

export class PgStore extends ProductTable implements VectorStore {
  readonly dim: number;
  /** The last API change this store has read (its products already reflect those before). */
  private lastSeq = 0;

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
      // (Read before the products: a change committed in between is applied again, harmlessly,
      // and an indexing run's batch committed in between makes the next check reload.)
      const lastSeq = await lastChange(db);
      const loadedToken = await generationOf(db);
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
        loadedToken,
      };
      const schema = manifest.schema ?? schemaOfProducts(items.map((i) => i.metadata));
      const store = new PgStore(url, db, manifest, info, items, schema);
      store.lastSeq = lastSeq;
      return store;
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
    // Products added after this process loaded the catalogue are not shown until it reloads.
    return (await this.nearestIds(vector, query))
      .flatMap((h) => {
        const row = this.row(h.id);
        return row === undefined ? [] : [{ row, score: h.score }];
      })
      .sort((a, b) => b.score - a.score || a.row - b.row);
  }

  /** The k nearest products of the whole table now, by id (LiveStore maps them to its rows). */
  async nearestIds(vector: Float32Array, query: NearestQuery): Promise<{ id: string; score: number }[]> {
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
    return r.rows.map((h: { id: string; score: string }) => ({ id: h.id, score: Number(h.score) }));
  }

  async vectorById(id: string): Promise<Float32Array> {
    const r = await this.db.query('SELECT embedding::text AS e FROM lookalike_products WHERE id = $1', [id]);
    if (!r.rows[0]) throw new IndexError(`no product "${id}" in the store`);
    return fromVectorLiteral(r.rows[0].e);
  }

  /** The API's changes committed since the last call, with each product as it is now. */
  async readChanges(): Promise<StoredChange[]> {
    const exists = await this.db.query("SELECT to_regclass('lookalike_changes') IS NOT NULL AS ok");
    if (!exists.rows[0]?.ok) return [];
    const r = await this.db.query(
      `SELECT c.seq, c.op, c.id, p.file, p.hash, p.bytes, p.mtime_ms, p.metadata, p.indexed_by,
              p.embedding::text AS embedding
       FROM lookalike_changes c LEFT JOIN lookalike_products p ON p.id = c.id AND c.op = 'put'
       WHERE c.seq > $1 ORDER BY c.seq`,
      [this.lastSeq],
    );
    return r.rows.map((row): StoredChange => {
      const seq = Number(row.seq);
      this.lastSeq = Math.max(this.lastSeq, seq);
      // A put whose product has been deleted since reads as the deletion it now is.
      if (row.op === 'delete' || row.embedding === null) return { seq, op: 'delete', id: row.id };
      return {
        seq,
        op: 'put',
        id: row.id,
        item: itemOf(row),
        visual: fromVectorLiteral(row.embedding),
      };
    });
  }

  prepareWrites(): Promise<void> {
    return withClient(this.db, (client) => ensureApiTables(client));
  }

  /** Commits a change (its photo, the product, the change row) and notifies the other servers. */
  async writeChange(change: ChangeToWrite): Promise<number> {
    return withClient(this.db, async (client) => {
      await client.query('BEGIN');
      try {
        // One writer at a time: seqs then commit in order, and a reader never skips one.
        await client.query('SELECT pg_advisory_xact_lock($1)', [LOCKS.changes]);
        let seq: number;
        if (change.op === 'put') {
          const { item } = change;
          if (change.photo) {
            await client.query(
              'INSERT INTO lookalike_photos (hash, bytes) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING',
              [item.hash, change.photo],
            );
          }
          await client.query(
            `INSERT INTO lookalike_products (id, file, hash, bytes, mtime_ms, metadata, embedding, indexed_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (id) DO UPDATE SET file = EXCLUDED.file, hash = EXCLUDED.hash, bytes = EXCLUDED.bytes,
               mtime_ms = EXCLUDED.mtime_ms, metadata = EXCLUDED.metadata, embedding = EXCLUDED.embedding,
               indexed_by = EXCLUDED.indexed_by, indexed_at = now()`,
            [
              item.id,
              item.file,
              item.hash,
              item.bytes,
              item.mtimeMs,
              JSON.stringify(item.metadata),
              toVectorLiteral(change.visual),
              API_WRITER,
            ],
          );
          await client.query('DELETE FROM lookalike_api_deleted WHERE id = $1', [item.id]);
          seq = await this.logChange(client, 'put', item.id);
        } else {
          await client.query('DELETE FROM lookalike_products WHERE id = $1', [change.id]);
          await client.query(
            'INSERT INTO lookalike_api_deleted (id) VALUES ($1) ON CONFLICT (id) DO UPDATE SET at = now()',
            [change.id],
          );
          seq = await this.logChange(client, 'delete', change.id);
        }
        await client.query('COMMIT');
        return seq;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  private async logChange(client: pg.PoolClient, op: 'put' | 'delete', id: string): Promise<number> {
    const r = await client.query('INSERT INTO lookalike_changes (op, id) VALUES ($1, $2) RETURNING seq', [
      op,
      id,
    ]);
    const seq = Number(r.rows[0].seq);
    // Delivered at commit, to every server listening.
    await client.query('SELECT pg_notify($1, $2)', [CHANGES_CHANNEL, String(seq)]);
    return seq;
  }

  async storedPhoto(item: IndexItem): Promise<Buffer | undefined> {
    if (item.origin !== 'api') return undefined;
    const exists = await this.db.query("SELECT to_regclass('lookalike_photos') IS NOT NULL AS ok");
    if (!exists.rows[0]?.ok) return undefined;
    const r = await this.db.query('SELECT bytes FROM lookalike_photos WHERE hash = $1', [item.hash]);
    return r.rows[0]?.bytes as Buffer | undefined;
  }

  /** Listens for the API's changes (NOTIFY) on a connection of its own. */
  async listen(onNotice: () => void): Promise<{ close(): Promise<void> }> {
    const client = new pgModule.Client({ connectionString: this.url, application_name: 'lookalike-listen' });
    client.on('error', () => undefined); // (the watcher's polling goes on)
    client.on('notification', () => onNotice());
    await client.connect();
    await client.query(`LISTEN ${CHANGES_CHANNEL}`);
    return { close: () => client.end().catch(() => undefined) };
  }

  /**
   * Changes when an indexing run writes (its start, its batches, products leaving the catalogue);
   * the API's writes are followed through readChanges and leave it alone (but for the rare delete
   * of the product an indexing run wrote last, which costs a reload).
   */
  generation(): Promise<string> {
    return generationOf(this.db);
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
    'SELECT id, file, hash, bytes, mtime_ms, metadata, indexed_by FROM lookalike_products ORDER BY id',
  );
  return r.rows.map(itemOf);
}

function itemOf(row: {
  id: string;
  file: string;
  hash: string;
  bytes: string | number;
  mtime_ms: number;
  metadata: Record<string, string>;
  indexed_by: string | null;
}): IndexItem {
  return {
    id: row.id,
    file: row.file,
    hash: row.hash,
    bytes: Number(row.bytes),
    mtimeMs: row.mtime_ms,
    metadata: row.metadata,
    ...(row.indexed_by === API_WRITER ? { origin: 'api' as const } : {}),
  };
}

/**
 * Changes when an indexing run writes (its start, its batches, products leaving the catalogue);
 * the API's writes are followed through readChanges and leave it alone (but for the rare delete
 * of the product an indexing run wrote last, which costs a reload).
 */
async function generationOf(db: pg.Pool): Promise<string> {
  const r = await db.query(
    `SELECT (SELECT updated_at FROM lookalike_manifest) AS at,
            (SELECT count(*)::int FROM lookalike_jobs) AS n,
            (SELECT max(indexed_at) FROM lookalike_products
             WHERE indexed_by IS DISTINCT FROM '${API_WRITER}') AS last`,
  );
  const row = r.rows[0] as { at: Date | null; n: number; last: Date | null };
  return `${row.at?.toISOString() ?? '-'}/${row.n}/${row.last?.toISOString() ?? '-'}`;
}

/** The last API change recorded (0 when there is none). */
async function lastChange(db: pg.Pool): Promise<number> {
  const exists = await db.query("SELECT to_regclass('lookalike_changes') IS NOT NULL AS ok");
  if (!exists.rows[0]?.ok) return 0;
  const r = await db.query('SELECT coalesce(max(seq), 0)::bigint AS seq FROM lookalike_changes');
  return Number(r.rows[0].seq);
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
