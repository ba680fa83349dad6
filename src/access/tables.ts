/** The tables of keys and audit lines in a PostgreSQL store, created on first use. */
import type pg from 'pg';

const created = new WeakSet<pg.Pool>();

/** Creates the access tables once per pool (under an advisory lock: servers may start together). */
export async function ensureAccessTables(db: pg.Pool): Promise<void> {
  if (created.has(db)) return;
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    await client.query("SELECT pg_advisory_xact_lock(hashtext('lookalike_access'))");
    await client.query(
      'CREATE TABLE IF NOT EXISTS lookalike_access_keys (id text PRIMARY KEY, hash text NOT NULL, ' +
        'label text, created_at timestamptz NOT NULL DEFAULT now(), revoked_at timestamptz)',
    );
    await client.query(
      'CREATE TABLE IF NOT EXISTS lookalike_audit (seq bigserial PRIMARY KEY, at timestamptz NOT NULL, ' +
        'key_id text NOT NULL, product_id text NOT NULL, action text NOT NULL, result text NOT NULL, ' +
        'status integer NOT NULL, sequence bigint, hash text, batch boolean NOT NULL DEFAULT false)',
    );
    await client.query(
      'CREATE INDEX IF NOT EXISTS lookalike_audit_product ON lookalike_audit (product_id, seq)',
    );
    await client.query('COMMIT');
    created.add(db);
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
