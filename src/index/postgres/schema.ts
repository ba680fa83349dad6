/**
 * The PostgreSQL + pgvector store's tables. Embeddings are kept exactly (vector(2048), float32),
 * and searched approximately through an HNSW index on their half-precision cast: pgvector's HNSW
 * indexes `vector` up to 2,000 dimensions only, `halfvec` up to 4,000.
 *
 *   lookalike_manifest  one row: the embedding spec, the catalogue's schema and folder, dates
 *   lookalike_products  one row per product: id, photo, content hash, metadata (jsonb), embedding
 *   lookalike_jobs      the indexing work queue, claimed with FOR UPDATE SKIP LOCKED
 *   lookalike_changes   changes made through the product-management API, in order (seq), announced
 *                       with NOTIFY lookalike_changes so that every server applies them
 *   lookalike_photos    photos uploaded through the API, by content hash (bytea)
 *   lookalike_api_deleted  products deleted through the API (an indexing run does not bring them back)
 */
import type pg from 'pg';
import { type CatalogueSchema, catalogueSchemaZ } from '../../catalogue/schema.js';
import { describeSpec, EMBEDDING_DIM, type EmbeddingSpec, sameSpec } from '../../embeddings/spec.js';
import { IndexError } from '../store.js';

/**
 * Runs `fn` on one checked-out client: advisory locks and session settings belong to a
 * connection, so they must not go through the pool (each query may take another connection).
 */
export async function withClient<T>(db: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await db.connect();
  try {
    return await fn(client);
  } finally {
    client.release();
  }
}

/** Runs `fn` holding a session advisory lock on one client. */
export async function withAdvisoryLock<T>(
  client: pg.PoolClient,
  key: number,
  fn: () => Promise<T>,
): Promise<T> {
  await client.query('SELECT pg_advisory_lock($1)', [key]);
  try {
    return await fn();
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [key]).catch(() => undefined);
  }
}

export const LOCKS = { schema: 7311001, hnsw: 7311002, jobs: 7311003, changes: 7311004 } as const;

export const HNSW_INDEX = 'lookalike_products_embedding_hnsw';

/** The NOTIFY channel of API changes (the payload is the change's seq). */
export const CHANGES_CHANNEL = 'lookalike_changes';

/** `indexed_by` of the products written through the API (an indexing run leaves them alone). */
export const API_WRITER = 'api';

/** The tables' columns; a product's photo is recorded alike by the products and the jobs. */
function tables(dim: number): Record<string, string[]> {
  const photo = [
    'id text PRIMARY KEY',
    'file text NOT NULL',
    'hash text NOT NULL',
    'bytes bigint NOT NULL',
    'mtime_ms double precision NOT NULL',
  ];
  const now = 'timestamptz NOT NULL DEFAULT now()';
  return {
    lookalike_manifest: [
      'singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton)',
      'spec jsonb NOT NULL',
      'schema jsonb',
      'images_dir text NOT NULL',
      'metadata_path text',
      `created_at ${now}`,
      `updated_at ${now}`,
    ],
    lookalike_products: [
      ...photo,
      "metadata jsonb NOT NULL DEFAULT '{}'",
      `embedding vector(${dim}) NOT NULL`,
      'indexed_by text',
      `indexed_at ${now}`,
    ],
    lookalike_jobs: [
      ...photo,
      "state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed'))",
      'attempts integer NOT NULL DEFAULT 0',
      'error_code text',
      'error text',
      `updated_at ${now}`,
    ],
    ...apiTables(),
  };
}

/** The tables of the product-management API (created by indexing runs and by the first API write). */
function apiTables(): Record<string, string[]> {
  return {
    lookalike_changes: [
      'seq bigserial PRIMARY KEY',
      "op text NOT NULL CHECK (op IN ('put', 'delete'))",
      'id text NOT NULL',
      'at timestamptz NOT NULL DEFAULT now()',
    ],
    lookalike_photos: ['hash text PRIMARY KEY', 'bytes bytea NOT NULL'],
    lookalike_api_deleted: ['id text PRIMARY KEY', 'at timestamptz NOT NULL DEFAULT now()'],
  };
}

/** Creates the API's tables where they are missing. */
export function ensureApiTables(db: pg.PoolClient): Promise<void> {
  return withAdvisoryLock(db, LOCKS.schema, async () => {
    for (const [table, columns] of Object.entries(apiTables())) {
      await db.query(`CREATE TABLE IF NOT EXISTS ${table} (${columns.join(', ')})`);
    }
  });
}

export function ensureSchema(db: pg.PoolClient, dim: number): Promise<void> {
  return withAdvisoryLock(db, LOCKS.schema, async () => {
    await db.query('CREATE EXTENSION IF NOT EXISTS vector');
    for (const [table, columns] of Object.entries(tables(dim))) {
      await db.query(`CREATE TABLE IF NOT EXISTS ${table} (${columns.join(', ')})`);
    }
    // Stores made before schemas were recorded.
    await db.query('ALTER TABLE lookalike_manifest ADD COLUMN IF NOT EXISTS schema jsonb');
    await db.query('CREATE INDEX IF NOT EXISTS lookalike_products_hash ON lookalike_products (hash)');
    await db.query(
      "CREATE INDEX IF NOT EXISTS lookalike_jobs_pending ON lookalike_jobs (id) WHERE state = 'pending'",
    );
  });
}

export interface PgManifest {
  spec: EmbeddingSpec;
  /** The catalogue's schema (absent in stores made before schemas: detected from the products). */
  schema?: CatalogueSchema;
  imagesDir: string;
  metadataPath?: string;
  createdAt: string;
  updatedAt: string;
}

export async function readPgManifest(db: pg.Pool | pg.PoolClient): Promise<PgManifest | undefined> {
  const exists = await db.query("SELECT to_regclass('lookalike_manifest') IS NOT NULL AS ok");
  if (!exists.rows[0]?.ok) return undefined;
  const r = await db.query('SELECT * FROM lookalike_manifest');
  const row = r.rows[0];
  if (!row) return undefined;
  const schema = row.schema ? catalogueSchemaZ.safeParse(row.schema) : undefined;
  if (schema && !schema.success)
    throw new IndexError(`the store's recorded schema is not valid: ${schema.error.message}`);
  return {
    spec: row.spec,
    ...(schema?.data ? { schema: schema.data } : {}),
    imagesDir: row.images_dir,
    metadataPath: row.metadata_path ?? undefined,
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

/** Refuses a store made with another embedding spec than `spec`. */
export function checkSpec(recorded: PgManifest | undefined, spec: EmbeddingSpec, where: string): void {
  if (recorded && !sameSpec(recorded.spec, spec)) {
    throw new IndexError(
      `the store at ${where} was built with ${describeSpec(recorded.spec)}, not ${describeSpec(spec)}; ` +
        'pass --rebuild to empty it and embed everything with the new options',
    );
  }
}

/** Records the spec on first use and refuses a store made with another spec; records the catalogue. */
export async function claimManifest(
  db: pg.PoolClient,
  manifest: { spec: EmbeddingSpec; schema: CatalogueSchema; imagesDir: string; metadataPath?: string },
  where: string,
): Promise<void> {
  const { spec, schema, imagesDir, metadataPath } = manifest;
  await db.query(
    `INSERT INTO lookalike_manifest (spec, images_dir, metadata_path) VALUES ($1, $2, $3)
     ON CONFLICT (singleton) DO NOTHING`,
    [JSON.stringify(spec), imagesDir, metadataPath ?? null],
  );
  checkSpec(await readPgManifest(db), spec, where);
  await db.query(
    'UPDATE lookalike_manifest SET images_dir = $1, metadata_path = $2, schema = $3, updated_at = now()',
    [imagesDir, metadataPath ?? null, JSON.stringify(schema)],
  );
}

/** Empties the store (for --rebuild). */
export async function dropAll(db: pg.PoolClient): Promise<void> {
  await db.query(
    'DROP TABLE IF EXISTS lookalike_jobs, lookalike_products, lookalike_manifest, lookalike_changes, lookalike_photos, lookalike_api_deleted',
  );
}

/** Builds the HNSW index once no work is left (idempotent; one worker builds it, others skip). */
export async function ensureHnswIndex(db: pg.PoolClient): Promise<boolean> {
  const got = await db.query('SELECT pg_try_advisory_lock($1) AS ok', [LOCKS.hnsw]);
  if (!got.rows[0]?.ok) return false;
  try {
    const exists = await db.query('SELECT to_regclass($1) IS NOT NULL AS ok', [HNSW_INDEX]);
    if (exists.rows[0]?.ok) return false;
    await db.query("SET maintenance_work_mem = '1GB'");
    await db.query(
      `CREATE INDEX IF NOT EXISTS ${HNSW_INDEX} ON lookalike_products
       USING hnsw ((embedding::halfvec(${EMBEDDING_DIM})) halfvec_ip_ops) WITH (m = 16, ef_construction = 64)`,
    );
    await db.query('RESET maintenance_work_mem');
    return true;
  } finally {
    await db.query('SELECT pg_advisory_unlock($1)', [LOCKS.hnsw]);
  }
}
