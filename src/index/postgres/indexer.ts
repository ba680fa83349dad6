/**
 * Distributed indexing into PostgreSQL: any number of workers, on one machine or many, run the
 * same command against the same database. The catalogue listing becomes a job table; each worker
 * claims a batch of jobs with `SELECT ... FOR UPDATE SKIP LOCKED` inside a transaction, embeds
 * them, writes the products and marks the jobs done in that same transaction. A worker that dies
 * mid-batch loses nothing: its transaction rolls back and the rows are claimable again. Photos
 * whose content is already embedded (identical copies) are copied in SQL, not embedded again.
 */
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pLimit from 'p-limit';
import type pg from 'pg';
import { Embedder, type EmbedderOptions, embeddingSpec } from '../../embeddings/embedder.js';
import { isImageError } from '../../images/errors.js';
import { log } from '../../log.js';
import { type CatalogueFile, hashFile, listCatalogue, readMetadata } from '../catalogue.js';
import { IndexError } from '../store.js';
import { createPool, redact, toVectorLiteral } from './connection.js';
import { claimManifest, dropAll, ensureHnswIndex, ensureSchema } from './schema.js';

export interface PgBuildOptions {
  url: string;
  imagesDir: string;
  metadataPath?: string;
  embedder?: EmbedderOptions;
  rebuild?: boolean;
  ids?: ReadonlySet<string>;
  /** Photos claimed per transaction (default 32). */
  claimSize?: number;
  /** Worker name recorded with each product (default host:pid). */
  worker?: string;
  /** Global progress (all workers): done + failed, total. */
  onProgress?: (done: number, total: number) => void;
  onPlan?: (plan: { total: number; pending: number }) => void;
}

export interface PgBuildResult {
  total: number;
  /** Photos this worker embedded. */
  embedded: number;
  /** Photos this worker filled from an identical, already embedded photo. */
  copied: number;
  failed: { id: string; file: string; code: string; reason: string }[];
  hnswBuilt: boolean;
  seconds: number;
}

interface Job {
  id: string;
  file: string;
  hash: string;
  bytes: string;
  mtime_ms: number;
}

/** Brings the job table in line with the folder: new and changed photos pending, gone ones removed. */
async function syncJobs(
  db: pg.Pool,
  files: CatalogueFile[],
  imagesDir: string,
  metadata: Map<string, Record<string, string>>,
): Promise<void> {
  const client = await db.connect();
  try {
    await client.query('SELECT pg_advisory_lock(7311003)');
    const known = new Map<string, { hash: string; bytes: string; mtime_ms: number; file: string }>();
    for (const row of (await client.query('SELECT id, file, hash, bytes, mtime_ms FROM lookalike_jobs'))
      .rows) {
      known.set(row.id, row);
    }
    const limit = pLimit(16);
    const rows = await Promise.all(
      files.map((f) =>
        limit(async () => {
          const k = known.get(f.id);
          const same = k && k.file === f.file && Number(k.bytes) === f.bytes && k.mtime_ms === f.mtimeMs;
          const hash = same ? (k?.hash as string) : await hashFile(join(imagesDir, f.file)).catch(() => '');
          return { ...f, hash };
        }),
      ),
    );
    await client.query('BEGIN');
    await client.query(
      'CREATE TEMP TABLE listing (id text, file text, hash text, bytes bigint, mtime_ms double precision) ON COMMIT DROP',
    );
    for (let i = 0; i < rows.length; i += 2000) {
      const chunk = rows.slice(i, i + 2000);
      await client.query(
        `INSERT INTO listing SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::float8[])`,
        [
          chunk.map((r) => r.id),
          chunk.map((r) => r.file),
          chunk.map((r) => r.hash),
          chunk.map((r) => r.bytes),
          chunk.map((r) => r.mtimeMs),
        ],
      );
    }
    // New or changed photos become pending; unchanged keep their state.
    await client.query(`
      INSERT INTO lookalike_jobs (id, file, hash, bytes, mtime_ms)
      SELECT id, file, hash, bytes, mtime_ms FROM listing
      ON CONFLICT (id) DO UPDATE SET file = EXCLUDED.file, bytes = EXCLUDED.bytes, mtime_ms = EXCLUDED.mtime_ms,
        hash = EXCLUDED.hash,
        state = CASE WHEN lookalike_jobs.hash = EXCLUDED.hash AND lookalike_jobs.state <> 'failed' THEN lookalike_jobs.state ELSE 'pending' END,
        updated_at = now()`);
    // Gone from the folder: gone from the store.
    await client.query(
      'DELETE FROM lookalike_jobs j WHERE NOT EXISTS (SELECT 1 FROM listing l WHERE l.id = j.id)',
    );
    await client.query(
      'DELETE FROM lookalike_products p WHERE NOT EXISTS (SELECT 1 FROM listing l WHERE l.id = p.id)',
    );
    // Metadata may change without the photo changing.
    const ids = [...metadata.keys()];
    for (let i = 0; i < ids.length; i += 5000) {
      const chunk = ids.slice(i, i + 5000);
      await client.query(
        `UPDATE lookalike_products p SET metadata = m.metadata
         FROM unnest($1::text[], $2::jsonb[]) AS m(id, metadata)
         WHERE p.id = m.id AND p.metadata IS DISTINCT FROM m.metadata`,
        [chunk, chunk.map((id) => JSON.stringify(metadata.get(id)))],
      );
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    await client.query('SELECT pg_advisory_unlock(7311003)').catch(() => undefined);
    client.release();
  }
}

async function progressOf(db: pg.Pool): Promise<{ total: number; pending: number; finished: number }> {
  const r = await db.query(
    "SELECT count(*)::int AS total, count(*) FILTER (WHERE state = 'pending')::int AS pending FROM lookalike_jobs",
  );
  const { total, pending } = r.rows[0] as { total: number; pending: number };
  return { total, pending, finished: total - pending };
}

export async function buildPgIndex(options: PgBuildOptions): Promise<PgBuildResult> {
  const started = performance.now();
  const imagesDir = resolve(options.imagesDir);
  const metadataPath = options.metadataPath ? resolve(options.metadataPath) : undefined;
  const spec = embeddingSpec(options.embedder);
  const worker = options.worker ?? `${hostname()}:${process.pid}`;
  const db = createPool(options.url, 3);
  try {
    try {
      await db.query('SELECT 1');
    } catch (err) {
      throw new IndexError(`cannot connect to ${redact(options.url)}: ${(err as Error).message}`);
    }
    if (options.rebuild) await dropAll(db);
    await ensureSchema(db, spec.dim);
    await claimManifest(db, spec, imagesDir, metadataPath, redact(options.url));

    const files = (await listCatalogue(imagesDir)).filter((f) => !options.ids || options.ids.has(f.id));
    if (files.length === 0) throw new IndexError(`no photos in ${imagesDir}`);
    const metadata = metadataPath
      ? await readMetadata(metadataPath)
      : new Map<string, Record<string, string>>();
    await syncJobs(db, files, imagesDir, metadata);
    const plan = await progressOf(db);
    options.onPlan?.({ total: plan.total, pending: plan.pending });

    let embedder: Embedder | undefined;
    const failed: PgBuildResult['failed'] = [];
    let embedded = 0;
    let copied = 0;
    const claimSize = options.claimSize ?? 32;
    for (;;) {
      const client = await db.connect();
      let claimed: Job[] = [];
      try {
        await client.query('BEGIN');
        claimed = (
          await client.query(
            `SELECT id, file, hash, bytes, mtime_ms FROM lookalike_jobs WHERE state = 'pending'
             ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
            [claimSize],
          )
        ).rows as Job[];
        if (claimed.length === 0) {
          await client.query('COMMIT');
          // Rows still pending but locked: another worker has them. Wait: if it dies, they come back.
          if ((await progressOf(db)).pending === 0) break;
          await sleep(500);
          continue;
        }
        // Identical photos already embedded (by anyone): copy their embedding.
        const copies = await client.query(
          `INSERT INTO lookalike_products (id, file, hash, bytes, mtime_ms, metadata, embedding, indexed_by)
           SELECT j.id, j.file, j.hash, j.bytes, j.mtime_ms, COALESCE(m.metadata, '{}'::jsonb), src.embedding, $3
           FROM unnest($1::text[]) AS c(id)
           JOIN lookalike_jobs j ON j.id = c.id
           JOIN LATERAL (SELECT embedding FROM lookalike_products p WHERE p.hash = j.hash LIMIT 1) src ON true
           LEFT JOIN unnest($1::text[], $2::jsonb[]) AS m(id, metadata) ON m.id = j.id
           ON CONFLICT (id) DO UPDATE SET file = EXCLUDED.file, hash = EXCLUDED.hash, bytes = EXCLUDED.bytes,
             mtime_ms = EXCLUDED.mtime_ms, metadata = EXCLUDED.metadata, embedding = EXCLUDED.embedding,
             indexed_by = EXCLUDED.indexed_by, indexed_at = now()
           RETURNING id`,
          [claimed.map((j) => j.id), claimed.map((j) => JSON.stringify(metadata.get(j.id) ?? {})), worker],
        );
        const done = new Set(copies.rows.map((r) => r.id as string));
        copied += done.size;
        const toEmbed = claimed.filter((j) => !done.has(j.id));
        if (toEmbed.length > 0) {
          embedder ??= await Embedder.create(options.embedder);
          const results = await embedder.embedEach(toEmbed.map((j) => join(imagesDir, j.file)));
          const ok: { job: Job; vector: Float32Array }[] = [];
          results.forEach((r, i) => {
            const job = toEmbed[i] as Job;
            if (isImageError(r)) failed.push({ id: job.id, file: job.file, code: r.code, reason: r.message });
            else ok.push({ job, vector: r });
          });
          if (ok.length > 0) {
            await client.query(
              `INSERT INTO lookalike_products (id, file, hash, bytes, mtime_ms, metadata, embedding, indexed_by)
               SELECT * , $8 FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::float8[], $6::jsonb[], $7::vector[])
               ON CONFLICT (id) DO UPDATE SET file = EXCLUDED.file, hash = EXCLUDED.hash, bytes = EXCLUDED.bytes,
                 mtime_ms = EXCLUDED.mtime_ms, metadata = EXCLUDED.metadata, embedding = EXCLUDED.embedding,
                 indexed_by = EXCLUDED.indexed_by, indexed_at = now()`,
              [
                ok.map((o) => o.job.id),
                ok.map((o) => o.job.file),
                ok.map((o) => o.job.hash),
                ok.map((o) => o.job.bytes),
                ok.map((o) => o.job.mtime_ms),
                ok.map((o) => JSON.stringify(metadata.get(o.job.id) ?? {})),
                ok.map((o) => toVectorLiteral(o.vector)),
                worker,
              ],
            );
            embedded += ok.length;
          }
          const bad = failed.filter((f) => toEmbed.some((j) => j.id === f.id));
          if (bad.length > 0) {
            await client.query(
              `UPDATE lookalike_jobs j SET state = 'failed', attempts = attempts + 1, error_code = b.code, error = b.reason, updated_at = now()
               FROM unnest($1::text[], $2::text[], $3::text[]) AS b(id, code, reason) WHERE j.id = b.id`,
              [bad.map((b) => b.id), bad.map((b) => b.code), bad.map((b) => b.reason)],
            );
          }
        }
        await client.query(
          `UPDATE lookalike_jobs SET state = 'done', attempts = attempts + 1, error_code = NULL, error = NULL, updated_at = now()
           WHERE id = ANY($1::text[]) AND state = 'pending'`,
          [claimed.map((j) => j.id)],
        );
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
      const p = await progressOf(db);
      options.onProgress?.(p.finished, p.total);
    }
    await embedder?.close();

    // The last worker to finish builds the approximate-search index.
    const p = await progressOf(db);
    let hnswBuilt = false;
    if (p.pending === 0) {
      hnswBuilt = await ensureHnswIndex(db);
      if (hnswBuilt) log.info('built the HNSW index');
      await db.query('UPDATE lookalike_manifest SET updated_at = now()');
    }
    return {
      total: p.total,
      embedded,
      copied,
      failed,
      hnswBuilt,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await db.end();
  }
}
