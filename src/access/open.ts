/** The keys and the audit trail of a store, from its location (an index folder or a postgres:// URL). */
import { localFolder } from '../index/location/open.js';
import { createPool, redact } from '../index/postgres/connection.js';
import { type AuditLog, FileAuditLog, PgAuditLog } from './audit.js';
import { FileKeyStore, type KeyStore, PgKeyStore } from './key-store.js';

export interface Access {
  keys: KeyStore;
  audit: AuditLog;
  close(): Promise<void>;
}

export function openAccess(location: string): Access {
  const folder = localFolder(location);
  if (folder) {
    const keys = new FileKeyStore(folder);
    const audit = new FileAuditLog(folder);
    return { keys, audit, close: async () => audit.close() };
  }
  const db = createPool(location, 2);
  const where = redact(location);
  return {
    keys: new PgKeyStore(db, `${where} (table lookalike_access_keys)`),
    audit: new PgAuditLog(db, `${where} (table lookalike_audit)`),
    close: () => db.end(),
  };
}
