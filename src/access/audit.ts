/**
 * The audit trail of catalogue changes: one JSON line per write, with its time, the key id that
 * made it (never the key), the product, the action and its result (the outcome, or the error
 * code of a refused change). In an index folder it is `audit.jsonl`, appended and fsynced
 * before the answer is sent; in a PostgreSQL store, the table `lookalike_audit`.
 */
import { type FileHandle, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { z } from 'zod';
import { syncDir } from '../io/durable.js';
import { parseJson } from '../io/json-file.js';
import { ensureAccessTables } from './tables.js';

export const auditEntryZ = z.object({
  time: z.string(),
  keyId: z.string(),
  productId: z.string(),
  action: z.enum(['put', 'patch', 'delete']),
  /** created, replaced, updated, deleted, unchanged; or the error code (e.g. unknown-product). */
  result: z.string(),
  /** The HTTP status the change got. */
  status: z.number().int(),
  /** The change's place in the store's log, when it was made. */
  sequence: z.number().int().optional(),
  /** The photo's content hash after the change. */
  hash: z.string().optional(),
  /** Made in a batch. */
  batch: z.boolean().optional(),
});

export type AuditEntry = z.output<typeof auditEntryZ>;

export interface AuditLog {
  readonly where: string;
  /** Writes the entries durably (in order) before resolving. */
  append(entries: readonly AuditEntry[]): Promise<void>;
  /** The entries of one product, oldest first. */
  history(productId: string): Promise<AuditEntry[]>;
  close(): Promise<void>;
}

export const AUDIT_FILE = 'audit.jsonl';

/** `audit.jsonl` in an index folder: lines appended and fsynced, one writer at a time. */
export class FileAuditLog implements AuditLog {
  readonly where: string;
  private handle: Promise<FileHandle> | undefined;
  private tail: Promise<void> = Promise.resolve();

  constructor(folder: string) {
    this.where = join(folder, AUDIT_FILE);
  }

  private file(): Promise<FileHandle> {
    this.handle ??= (async () => {
      const handle = await open(this.where, 'a');
      // The file's own name must survive a crash too.
      await syncDir(join(this.where, '..'));
      return handle;
    })();
    this.handle.catch(() => {
      this.handle = undefined;
    });
    return this.handle;
  }

  append(entries: readonly AuditEntry[]): Promise<void> {
    if (entries.length === 0) return Promise.resolve();
    const text = entries.map((e) => `${JSON.stringify(e)}\n`).join('');
    const write = this.tail.then(async () => {
      const handle = await this.file();
      await handle.appendFile(text, 'utf8');
      await handle.sync();
    });
    this.tail = write.catch(() => undefined);
    return write;
  }

  async history(productId: string): Promise<AuditEntry[]> {
    let text: string;
    try {
      text = await readFile(this.where, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const lines = text.split('\n');
    // A line cut short by a crash while it was written (the last, without its newline) is not an entry.
    const complete = lines.slice(0, -1);
    const entries: AuditEntry[] = [];
    complete.forEach((line, i) => {
      if (line.trim() === '') return;
      const entry = parseJson(`${this.where}:${i + 1}`, line, auditEntryZ);
      if (entry.productId === productId) entries.push(entry);
    });
    return entries;
  }

  async close(): Promise<void> {
    await this.tail;
    const handle = this.handle;
    this.handle = undefined;
    if (handle) await (await handle).close();
  }
}

interface AuditRow {
  at: Date;
  key_id: string;
  product_id: string;
  action: AuditEntry['action'];
  result: string;
  status: number;
  sequence: string | null;
  hash: string | null;
  batch: boolean;
}

/** The table `lookalike_audit` of a PostgreSQL store. */
export class PgAuditLog implements AuditLog {
  constructor(
    private readonly db: pg.Pool,
    readonly where: string,
  ) {}

  async append(entries: readonly AuditEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await ensureAccessTables(this.db);
    const values: unknown[] = [];
    const rows = entries.map((e, i) => {
      values.push(e.time, e.keyId, e.productId, e.action, e.result, e.status, e.sequence ?? null);
      values.push(e.hash ?? null, e.batch ?? false);
      const p = i * 9;
      return `(${Array.from({ length: 9 }, (_, j) => `$${p + j + 1}`).join(', ')})`;
    });
    await this.db.query(
      'INSERT INTO lookalike_audit (at, key_id, product_id, action, result, status, sequence, hash, batch) ' +
        `VALUES ${rows.join(', ')}`,
      values,
    );
  }

  async history(productId: string): Promise<AuditEntry[]> {
    await ensureAccessTables(this.db);
    const { rows } = await this.db.query<AuditRow>(
      'SELECT at, key_id, product_id, action, result, status, sequence, hash, batch FROM lookalike_audit ' +
        'WHERE product_id = $1 ORDER BY seq',
      [productId],
    );
    return rows.map((r) => ({
      time: r.at.toISOString(),
      keyId: r.key_id,
      productId: r.product_id,
      action: r.action,
      result: r.result,
      status: r.status,
      ...(r.sequence !== null ? { sequence: Number(r.sequence) } : {}),
      ...(r.hash !== null ? { hash: r.hash } : {}),
      ...(r.batch ? { batch: true } : {}),
    }));
  }

  async close(): Promise<void> {}
}
