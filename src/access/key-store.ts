/**
 * Where API keys are kept: a file beside the index (`access-keys.json`), or a table of the
 * PostgreSQL store. Servers read the keys on every request through `records()`, which is cheap:
 * the file is re-read only when a stat says it changed; the table is queried at most every
 * quarter second. So a key revoked with `lookalike keys revoke` stops working at once.
 */
import { chmod, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import lockfile from 'proper-lockfile';
import { z } from 'zod';
import { writeJsonDurably } from '../io/durable.js';
import { readJsonFile } from '../io/json-file.js';
import type { KeyRecord } from './keys.js';
import { ensureAccessTables } from './tables.js';

export class KeyError extends Error {}

export interface KeyStore {
  /** Where the keys are, for messages. */
  readonly where: string;
  /** Every key ever created (revoked ones too), by id: current to within a quarter second. */
  records(): Promise<ReadonlyMap<string, KeyRecord>>;
  add(record: KeyRecord): Promise<void>;
  /**
   * Revokes a key: it stops working at once, and stays listed.
   * @throws KeyError when there is no key of that id.
   */
  revoke(id: string, now?: Date): Promise<KeyRecord>;
  close(): Promise<void>;
}

/** Whether any key can be used: without one, the write routes are off. */
export function hasActiveKey(records: ReadonlyMap<string, KeyRecord>): boolean {
  for (const record of records.values()) if (!record.revokedAt) return true;
  return false;
}

const recordZ = z.object({
  id: z.string().regex(/^[0-9a-f]{10}$/),
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  label: z.string().optional(),
  createdAt: z.string(),
  revokedAt: z.string().optional(),
});

const keysFileZ = z.object({ version: z.literal(1), keys: z.array(recordZ) });

export const KEYS_FILE = 'access-keys.json';

/** Keys in `access-keys.json` in an index folder, written whole (src/io/durable.ts). */
export class FileKeyStore implements KeyStore {
  readonly path: string;
  private cached: { signature: string; records: Map<string, KeyRecord> } | undefined;

  constructor(folder: string) {
    this.path = join(folder, KEYS_FILE);
  }

  get where(): string {
    return this.path;
  }

  private async signature(): Promise<string | undefined> {
    try {
      const s = await stat(this.path, { bigint: true });
      return `${s.ino}:${s.mtimeNs}:${s.size}`;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async records(): Promise<ReadonlyMap<string, KeyRecord>> {
    const signature = await this.signature();
    if (signature === undefined) return new Map();
    if (this.cached?.signature === signature) return this.cached.records;
    const records = await this.read();
    this.cached = { signature, records };
    return records;
  }

  private async read(): Promise<Map<string, KeyRecord>> {
    const file = await readJsonFile(this.path, keysFileZ, { optional: true });
    return new Map((file?.keys ?? []).map((r) => [r.id, r]));
  }

  private async write(records: Map<string, KeyRecord>): Promise<void> {
    await writeJsonDurably(this.path, { version: 1, keys: [...records.values()] });
    // Hashes only, but nobody else needs to read them.
    await chmod(this.path, 0o600);
  }

  /** Reads, changes and writes the keys file under a lock: two `keys` commands at once lose nothing. */
  private async update<T>(change: (records: Map<string, KeyRecord>) => T): Promise<T> {
    const release = await lockfile.lock(this.path, {
      realpath: false,
      lockfilePath: `${this.path}.lock`,
      stale: 10_000,
      retries: { retries: 50, minTimeout: 20, maxTimeout: 200 },
    });
    try {
      const records = await this.read();
      const result = change(records);
      await this.write(records);
      return result;
    } finally {
      await release();
    }
  }

  async add(record: KeyRecord): Promise<void> {
    await this.update((records) => {
      records.set(record.id, record);
    });
  }

  async revoke(id: string, now = new Date()): Promise<KeyRecord> {
    return this.update((records) => {
      const record = records.get(id);
      if (!record) throw new KeyError(`no key ${id} in ${this.path}`);
      if (record.revokedAt) return record;
      const revoked = { ...record, revokedAt: now.toISOString() };
      records.set(id, revoked);
      return revoked;
    });
  }

  async close(): Promise<void> {}
}

/** How long a server trusts what it read of the keys table. */
const PG_MAX_AGE_MS = 250;

interface KeyRow {
  id: string;
  hash: string;
  label: string | null;
  created_at: Date;
  revoked_at: Date | null;
}

const fromRow = (row: KeyRow): KeyRecord => ({
  id: row.id,
  hash: row.hash,
  ...(row.label ? { label: row.label } : {}),
  createdAt: row.created_at.toISOString(),
  ...(row.revoked_at ? { revokedAt: row.revoked_at.toISOString() } : {}),
});

/** Keys in the table `lookalike_access_keys` of a PostgreSQL store. */
export class PgKeyStore implements KeyStore {
  private cached: { at: number; records: Promise<Map<string, KeyRecord>> } | undefined;

  constructor(
    private readonly db: pg.Pool,
    readonly where: string,
  ) {}

  async records(): Promise<ReadonlyMap<string, KeyRecord>> {
    const now = performance.now();
    if (!this.cached || now - this.cached.at > PG_MAX_AGE_MS) {
      const records = this.query();
      this.cached = { at: now, records };
      records.catch(() => {
        if (this.cached?.records === records) this.cached = undefined;
      });
    }
    return this.cached.records;
  }

  private async query(): Promise<Map<string, KeyRecord>> {
    await ensureAccessTables(this.db);
    const { rows } = await this.db.query<KeyRow>(
      'SELECT id, hash, label, created_at, revoked_at FROM lookalike_access_keys ORDER BY created_at',
    );
    return new Map(rows.map((row) => [row.id, fromRow(row)]));
  }

  async add(record: KeyRecord): Promise<void> {
    await ensureAccessTables(this.db);
    await this.db.query(
      'INSERT INTO lookalike_access_keys (id, hash, label, created_at) VALUES ($1, $2, $3, $4)',
      [record.id, record.hash, record.label ?? null, record.createdAt],
    );
    this.cached = undefined;
  }

  async revoke(id: string, now = new Date()): Promise<KeyRecord> {
    await ensureAccessTables(this.db);
    await this.db.query(
      'UPDATE lookalike_access_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL',
      [id, now.toISOString()],
    );
    this.cached = undefined;
    const { rows } = await this.db.query<KeyRow>(
      'SELECT id, hash, label, created_at, revoked_at FROM lookalike_access_keys WHERE id = $1',
      [id],
    );
    const row = rows[0];
    if (!row) throw new KeyError(`no key ${id} in ${this.where}`);
    return fromRow(row);
  }

  async close(): Promise<void> {}
}
