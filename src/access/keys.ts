/**
 * API keys: random, shown once, stored only as a hash.
 *
 * A key reads `lk_<id>_<secret>`: `id` is 10 hex digits (5 random bytes) that name the key in
 * lists, logs and the audit trail; `secret` is 32 random bytes in base64url. Only the SHA-256 of
 * the whole key is stored. A fast hash is enough here: a key carries 256 random bits, so there is
 * nothing to guess from its hash, and a slow password hash (scrypt, bcrypt) would only add CPU
 * cost to every request, which a flood of bad keys could turn against the server.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const KEY_PREFIX = 'lk_';
const KEY_FORMAT = /^lk_([0-9a-f]{10})_([A-Za-z0-9_-]{43})$/;
const ID_FORMAT = /^[0-9a-f]{10}$/;

/** What is stored of a key. */
export interface KeyRecord {
  id: string;
  /** SHA-256 of the whole key, hex. */
  hash: string;
  label?: string;
  createdAt: string;
  revokedAt?: string;
}

export function isKeyId(text: string): boolean {
  return ID_FORMAT.test(text);
}

/** A new key and its record. The key itself is returned once and stored nowhere. */
export function newKey(label?: string, now = new Date()): { key: string; record: KeyRecord } {
  const id = randomBytes(5).toString('hex');
  const key = `${KEY_PREFIX}${id}_${randomBytes(32).toString('base64url')}`;
  return {
    key,
    record: { id, hash: hashKey(key), ...(label ? { label } : {}), createdAt: now.toISOString() },
  };
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** The id a key names, or undefined when it is not a key of this form. */
export function keyIdOf(key: string): string | undefined {
  return KEY_FORMAT.exec(key)?.[1];
}

/** Compared with when a key names no record, so that every check hashes and compares once. */
const NO_HASH = Buffer.alloc(32);

/**
 * The active record matching a presented key, or undefined. The hashes are compared in constant
 * time (crypto.timingSafeEqual), and the work is the same whether the id is known or not.
 */
export function matchKey(presented: string, records: ReadonlyMap<string, KeyRecord>): KeyRecord | undefined {
  const id = keyIdOf(presented);
  const record = id === undefined ? undefined : records.get(id);
  const expected = record ? Buffer.from(record.hash, 'hex') : NO_HASH;
  const actual = createHash('sha256').update(presented, 'utf8').digest();
  const same = expected.length === actual.length && timingSafeEqual(expected, actual);
  return same && record && !record.revokedAt ? record : undefined;
}
