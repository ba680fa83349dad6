/**
 * The PostgreSQL + pgvector store's tables. Embeddings are kept exactly (vector(2048), float32),
 * and searched approximately through an HNSW index on their half-precision cast: pgvector's HNSW
 * indexes `vector` up to 2,000 dimensions only, `halfvec` up to 4,000.
 *
 *   lookalike_manifest  one row: the embedding spec, the catalogue folder, dates
 *   lookalike_products  one row per product: id, photo, content hash, metadata (jsonb), embedding
 *   lookalike_jobs      the indexing work queue, claimed with FOR UPDATE SKIP LOCKED
 */
import type pg from 'pg';
import type { EmbeddingSpec } from '../../embeddings/embedder.js';
import { describeSpec, EMBEDDING_DIM, sameSpec } from '../../embeddings/embedder.js';
import { IndexError } from '../store.js';

export const HNSW_INDEX = 'lookalike_products_embedding_hnsw';

export async function ensureSchema(db: pg.Pool | pg.PoolClient, dim: number): Promise<void> {
  await db.query('SELECT pg_advisory_lock(7311001)');
  try {
    await db.query('CREATE EXTENSION IF NOT EXISTS vector');
    await db.query(`
      CREATE TABLE IF NOT EXISTS lookalike_manifest (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        spec jsonb NOT NULL,
        images_dir text NOT NULL,
        metadata_path text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(`
      CREATE TABLE IF NOT EXISTS lookalike_products (
        id text PRIMARY KEY,
        file text NOT NULL,
        hash text NOT NULL,
        bytes bigint NOT NULL,
        mtime_ms double precision NOT NULL,
        metadata jsonb NOT NULL DEFAULT '{}',
        embedding vector(${dim}) NOT NULL,
        indexed_by text,
        indexed_at timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query('CREATE INDEX IF NOT EXISTS lookalike_products_hash ON lookalike_products (hash)');
    await db.query(`
      CREATE TABLE IF NOT EXISTS lookalike_jobs (
        id text PRIMARY KEY,
        file text NOT NULL,
        hash text NOT NULL,
        bytes bigint NOT NULL,
        mtime_ms double precision NOT NULL,
        state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
        attempts integer NOT NULL DEFAULT 0,
        error_code text,
        error text,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(
      "CREATE INDEX IF NOT EXISTS lookalike_jobs_pending ON lookalike_jobs (id) WHERE state = 'pending'",
    );
  } finally {
    await db.query('SELECT pg_advisory_unlock(7311001)');
  }
}

export interface PgManifest {
  spec: EmbeddingSpec;
  imagesDir: string;
  metadataPath?: string;
  createdAt: string;
  updatedAt: string;
}

export async function readPgManifest(db: pg.Pool | pg.PoolClient): Promise<PgManifest | undefined> {
  const exists = await db.query("SELECT to_regclass('lookalike_manifest') IS NOT NULL AS ok");
  if (!exists.rows[0]?.ok) return undefined;
  const r = await db.query(
    'SELECT spec, images_dir, metadata_path, created_at, updated_at FROM lookalike_manifest',
  );
  const row = r.rows[0];
  if (!row) return undefined;
  return {
    spec: row.spec,
    imagesDir: row.images_dir,
    metadataPath: row.metadata_path ?? undefined,
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

/** Records the spec on first use; refuses a store made with another spec. */
export async function claimManifest(
  db: pg.Pool | pg.PoolClient,
  spec: EmbeddingSpec,
  imagesDir: string,
  metadataPath: string | undefined,
  where: string,
): Promise<void> {
  await db.query(
    `INSERT INTO lookalike_manifest (spec, images_dir, metadata_path) VALUES ($1, $2, $3)
     ON CONFLICT (singleton) DO NOTHING`,
    [JSON.stringify(spec), imagesDir, metadataPath ?? null],
  );
  const manifest = await readPgManifest(db);
  if (manifest && !sameSpec(manifest.spec, spec)) {
    throw new IndexError(
      `the store at ${where} was built with ${describeSpec(manifest.spec)}, not ${describeSpec(spec)}; ` +
        'pass --rebuild to empty it and embed everything with the new options',
    );
  }
  await db.query('UPDATE lookalike_manifest SET images_dir = $1, metadata_path = $2, updated_at = now()', [
    imagesDir,
    metadataPath ?? null,
  ]);
}

/** Empties the store (for --rebuild). */
export async function dropAll(db: pg.Pool | pg.PoolClient): Promise<void> {
  await db.query('DROP TABLE IF EXISTS lookalike_jobs, lookalike_products, lookalike_manifest');
}

/** Builds the HNSW index once no work is left (idempotent; one worker builds it, others skip). */
export async function ensureHnswIndex(db: pg.Pool | pg.PoolClient): Promise<boolean> {
  const got = await db.query('SELECT pg_try_advisory_lock(7311002) AS ok');
  if (!got.rows[0]?.ok) return false;
  try {
    const exists = await db.query('SELECT to_regclass($1) IS NOT NULL AS ok', [HNSW_INDEX]);
    if (exists.rows[0]?.ok) return false;
    await db.query("SET maintenance_work_mem = '1GB'");
    await db.query(
      `CREATE INDEX IF NOT EXISTS ${HNSW_INDEX} ON lookalike_products
       USING hnsw ((embedding::halfvec(${EMBEDDING_DIM})) halfvec_ip_ops) WITH (m = 16, ef_construction = 64)`,
    );
    return true;
  } finally {
    await db.query('SELECT pg_advisory_unlock(7311002)');
  }
}
