/**
 * PostgreSQL as an indexing run's sink, shared by any number of workers on one machine or many:
 * the same command against the same database. The plan becomes a job table; each claim takes a
 * batch of jobs with `SELECT ... FOR UPDATE SKIP LOCKED` inside a transaction, and its write
 * stores the products and marks the jobs done in that same transaction. A worker that dies
 * mid-batch loses nothing: its transaction rolls back and the rows are claimable again. Photos
 * whose content is already embedded (identical copies) are copied in SQL, not embedded again.
 */
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import type { Skipped } from '../../catalogue/catalogue.js';
import type { EmbeddingSpec } from '../../embeddings/spec.js';
import type * as Pipeline from '../pipeline.js';
import { IndexError } from '../store.js';
import { createPool, redact, toVectorLiteral } from './connection.js';
import {
  API_WRITER,
  checkSpec,
  claimManifest,
  dropAll,
  ensureHnswIndex,
  ensureSchema,
  LOCKS,
  readPgManifest,
  withAdvisoryLock,
  withClient,
} from './schema.js';

export interface PgSinkOptions {
  /** Empty the store first. */
  rebuild?: boolean;
  /** Worker name recorded with each product (default host:pid). */
  worker?: string;
  /** A layer on top of the vectors is asked for (the learned similarity): refused, a store holds none. */
  requireDerived?: boolean;
}

/** Rows per statement when loading the listing. */
const CHUNK = 2000;

const UPSERT = `ON CONFLICT (id) DO UPDATE SET file = EXCLUDED.file, hash = EXCLUDED.hash, bytes = EXCLUDED.bytes,
  mtime_ms = EXCLUDED.mtime_ms, metadata = EXCLUDED.metadata, embedding = EXCLUDED.embedding,
  indexed_by = EXCLUDED.indexed_by, indexed_at = now()`;

interface JobRow {
  id: string;
  file: string;
  hash: string;
}

export class PgSink implements Pipeline.IndexSink {
  private readonly db: pg.Pool;
  private readonly worker: string;
  private spec?: EmbeddingSpec;
  private catalogue?: Pipeline.PlannedCatalogue;
  private metadata = new Map<string, Record<string, string>>();
  /** The client holding the claimed batch's transaction. */
  private claimed?: { client: pg.PoolClient; jobs: JobRow[] };
  private readonly failed: Skipped[] = [];

  constructor(
    private readonly url: string,
    private readonly options: PgSinkOptions = {},
  ) {
    this.db = createPool(url, 3);
    this.worker = options.worker ?? `${hostname()}:${process.pid}`;
  }

  get location(): string {
    return redact(this.url);
  }

  async begin(spec: EmbeddingSpec): Promise<Map<string, Pipeline.KnownPhoto>> {
    this.spec = spec;
    if (this.options.requireDerived) {
      throw new IndexError(
        'the learned similarity needs an index folder (--out <dir>); a PostgreSQL store is searched with the original similarity',
      );
    }
    try {
      await this.db.query('SELECT 1');
    } catch (err) {
      throw new IndexError(`cannot connect to ${this.location}: ${(err as Error).message}`);
    }
    const known = new Map<string, Pipeline.KnownPhoto>();
    await withClient(this.db, async (client) => {
      if (this.options.rebuild) await dropAll(client);
      await ensureSchema(client, spec.dim);
      // Refused before the catalogue is planned, not after (claimManifest checks again, in the plan's transaction).
      checkSpec(await readPgManifest(client), spec, this.location);
      const r = await client.query('SELECT id, file, hash, bytes, mtime_ms FROM lookalike_jobs');
      for (const row of r.rows) {
        known.set(row.id, {
          file: row.file,
          hash: row.hash,
          bytes: Number(row.bytes),
          mtimeMs: row.mtime_ms,
        });
      }
    });
    return known;
  }

  /** Brings the job table in line with the catalogue: new and changed photos pending, gone ones removed. */
  async plan(catalogue: Pipeline.PlannedCatalogue): Promise<Pipeline.PlanSummary> {
    this.catalogue = catalogue;
    if (catalogue.products.length === 0) throw new IndexError(`no photos in ${catalogue.imagesDir}`);
    this.metadata = new Map(catalogue.products.map((p) => [p.id, p.metadata]));
    const { schema, imagesDir, metadataPath, products } = catalogue;
    let removed = 0;
    await withClient(this.db, (client) =>
      withAdvisoryLock(client, LOCKS.jobs, async () => {
        try {
          await client.query('BEGIN');
          await claimManifest(
            client,
            { spec: this.spec as EmbeddingSpec, schema, imagesDir, metadataPath },
            this.location,
          );
          await client.query(
            'CREATE TEMP TABLE listing (id text, file text, hash text, bytes bigint, mtime_ms double precision, metadata jsonb) ON COMMIT DROP',
          );
          for (let i = 0; i < products.length; i += CHUNK) {
            const chunk = products.slice(i, i + CHUNK);
            await client.query(
              `INSERT INTO listing SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::float8[], $6::jsonb[])`,
              [
                chunk.map((p) => p.id),
                chunk.map((p) => p.file),
                chunk.map((p) => p.hash),
                chunk.map((p) => p.bytes),
                chunk.map((p) => p.mtimeMs),
                chunk.map((p) => JSON.stringify(p.metadata)),
              ],
            );
          }
          // Products written or deleted through the API belong to it: the folder does not change them.
          await client.query(
            `DELETE FROM listing l WHERE EXISTS (SELECT 1 FROM lookalike_products p WHERE p.id = l.id AND p.indexed_by = '${API_WRITER}')
               OR EXISTS (SELECT 1 FROM lookalike_api_deleted d WHERE d.id = l.id)`,
          );
          // New or changed photos become pending; unchanged ones keep their state.
          await client.query(`
            INSERT INTO lookalike_jobs (id, file, hash, bytes, mtime_ms)
            SELECT id, file, hash, bytes, mtime_ms FROM listing
            ON CONFLICT (id) DO UPDATE SET file = EXCLUDED.file, bytes = EXCLUDED.bytes, mtime_ms = EXCLUDED.mtime_ms,
              hash = EXCLUDED.hash,
              state = CASE WHEN lookalike_jobs.hash = EXCLUDED.hash AND lookalike_jobs.state <> 'failed' THEN lookalike_jobs.state ELSE 'pending' END,
              updated_at = now()`);
          // Gone from the catalogue: gone from the store.
          await client.query(
            'DELETE FROM lookalike_jobs j WHERE NOT EXISTS (SELECT 1 FROM listing l WHERE l.id = j.id)',
          );
          removed =
            (
              await client.query(
                `DELETE FROM lookalike_products p WHERE NOT EXISTS (SELECT 1 FROM listing l WHERE l.id = p.id)
                 AND p.indexed_by IS DISTINCT FROM '${API_WRITER}'`,
              )
            ).rowCount ?? 0;
          // Metadata may change without the photo changing.
          await client.query(
            `UPDATE lookalike_products p SET metadata = l.metadata FROM listing l
             WHERE p.id = l.id AND p.metadata IS DISTINCT FROM l.metadata`,
          );
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw err;
        }
      }),
    );
    const { total, pending } = await this.counts();
    return { total, toEmbed: pending, reused: total - pending, removed };
  }

  private async counts(): Promise<{ total: number; pending: number }> {
    const r = await this.db.query(
      "SELECT count(*)::int AS total, count(*) FILTER (WHERE state = 'pending')::int AS pending FROM lookalike_jobs",
    );
    return r.rows[0] as { total: number; pending: number };
  }

  /**
   * Claims pending jobs in a transaction that stays open until `write`. Identical photos already
   * embedded (by anyone) are copied at once; the rest are returned to embed.
   */
  async claim(max: number): Promise<Pipeline.Job[]> {
    for (;;) {
      const client = await this.db.connect();
      let jobs: JobRow[];
      let toEmbed: JobRow[];
      try {
        await client.query('BEGIN');
        jobs = (
          await client.query(
            `SELECT id, file, hash FROM lookalike_jobs WHERE state = 'pending'
             ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
            [max],
          )
        ).rows as JobRow[];
        if (jobs.length > 0) {
          const copies = await client.query(
            `INSERT INTO lookalike_products (id, file, hash, bytes, mtime_ms, metadata, embedding, indexed_by)
             SELECT j.id, j.file, j.hash, j.bytes, j.mtime_ms, COALESCE(m.metadata, '{}'::jsonb), src.embedding, $3
             FROM unnest($1::text[]) AS c(id)
             JOIN lookalike_jobs j ON j.id = c.id
             JOIN LATERAL (SELECT embedding FROM lookalike_products p WHERE p.hash = j.hash LIMIT 1) src ON true
             LEFT JOIN unnest($1::text[], $2::jsonb[]) AS m(id, metadata) ON m.id = j.id
             ${UPSERT}
             RETURNING id`,
            [
              jobs.map((j) => j.id),
              jobs.map((j) => JSON.stringify(this.metadata.get(j.id) ?? {})),
              this.worker,
            ],
          );
          const copied = new Set(copies.rows.map((r) => r.id as string));
          toEmbed = jobs.filter((j) => !copied.has(j.id));
        } else toEmbed = [];
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        client.release();
        throw err;
      }
      if (jobs.length > 0) {
        this.claimed = { client, jobs };
        if (toEmbed.length > 0) return toEmbed.map((j) => ({ hash: j.hash, id: j.id, file: j.file }));
        await this.write([]); // all copies: commit and claim again
        continue;
      }
      await client.query('COMMIT');
      client.release();
      // Rows still pending but locked: another worker has them. Wait: if it dies, they come back.
      if ((await this.counts()).pending === 0) return [];
      await sleep(500);
    }
  }

  async write(results: Pipeline.JobResult[]): Promise<void> {
    const claimed = this.claimed;
    if (!claimed) throw new Error('write without a claim');
    this.claimed = undefined;
    const { client, jobs } = claimed;
    try {
      const ok = results.filter(
        (r): r is Pipeline.JobResult & { vector: Float32Array } => r.vector !== undefined,
      );
      const byId = new Map(jobs.map((j) => [j.id, j]));
      if (ok.length > 0) {
        const rows = await client.query(
          'SELECT id, bytes, mtime_ms FROM lookalike_jobs WHERE id = ANY($1::text[])',
          [ok.map((o) => o.job.id)],
        );
        const stat = new Map(rows.rows.map((r) => [r.id as string, r]));
        await client.query(
          `INSERT INTO lookalike_products (id, file, hash, bytes, mtime_ms, metadata, embedding, indexed_by)
           SELECT *, $8 FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::float8[], $6::jsonb[], $7::vector[])
           ${UPSERT}`,
          [
            ok.map((o) => o.job.id),
            ok.map((o) => o.job.file),
            ok.map((o) => o.job.hash),
            ok.map((o) => stat.get(o.job.id)?.bytes),
            ok.map((o) => stat.get(o.job.id)?.mtime_ms),
            ok.map((o) => JSON.stringify(this.metadata.get(o.job.id) ?? {})),
            ok.map((o) => toVectorLiteral(o.vector)),
            this.worker,
          ],
        );
      }
      const bad = results.filter((r) => r.error && byId.has(r.job.id));
      for (const b of bad)
        this.failed.push({
          id: b.job.id,
          file: b.job.file,
          code: b.error?.code ?? 'unknown',
          reason: b.error?.reason ?? '',
        });
      if (bad.length > 0) {
        await client.query(
          `UPDATE lookalike_jobs j SET state = 'failed', attempts = attempts + 1, error_code = b.code, error = b.reason, updated_at = now()
           FROM unnest($1::text[], $2::text[], $3::text[]) AS b(id, code, reason) WHERE j.id = b.id`,
          [bad.map((b) => b.job.id), bad.map((b) => b.error?.code), bad.map((b) => b.error?.reason)],
        );
      }
      await client.query(
        `UPDATE lookalike_jobs SET state = 'done', attempts = attempts + 1, error_code = NULL, error = NULL, updated_at = now()
         WHERE id = ANY($1::text[]) AND state = 'pending'`,
        [jobs.map((j) => j.id)],
      );
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async progress(): Promise<{ done: number; total: number }> {
    const { total, pending } = await this.counts();
    return { done: total - pending, total };
  }

  /** The last worker to finish builds the approximate-search index. */
  async finish(): Promise<Pipeline.SinkSummary> {
    try {
      const { total, pending } = await this.counts();
      let hnswBuilt = false;
      if (pending === 0) {
        hnswBuilt = await withClient(this.db, ensureHnswIndex);
        await this.db.query('UPDATE lookalike_manifest SET updated_at = now()');
      }
      const count = Number(
        (await this.db.query('SELECT count(*)::int AS n FROM lookalike_products')).rows[0]?.n,
      );
      const skipped = [...(this.catalogue?.skipped ?? []), ...this.failed].sort(
        (a, b) => a.file.localeCompare(b.file) || a.id.localeCompare(b.id),
      );
      return {
        kind: 'postgres',
        count,
        committed: true,
        skipped,
        description: `${total} photos in the store (all workers)${hnswBuilt ? '; built the HNSW index' : ''}`,
      };
    } finally {
      await this.db.end();
    }
  }

  async abort(): Promise<void> {
    const claimed = this.claimed;
    this.claimed = undefined;
    if (claimed) {
      await claimed.client.query('ROLLBACK').catch(() => undefined);
      claimed.client.release();
    }
    await this.db.end().catch(() => undefined);
  }
}
