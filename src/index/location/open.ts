/**
 * A store from its location: an index folder, or a postgres:// URL. The only place that tells
 * them apart; everything else works through the port (port.ts).
 */
import { resolve } from 'node:path';
import type { EmbeddingSpec } from '../../embeddings/spec.js';
import { FileStore } from '../file-store.js';
import { FolderSink, type FolderSinkOptions } from '../folder-sink.js';
import type { IndexSink } from '../pipeline.js';
import type { OpenStoreOptions, VectorStore } from '../port.js';
import { createPool, isPostgresUrl, redact } from '../postgres/connection.js';
import { PgSink, type PgSinkOptions } from '../postgres/pg-sink.js';
import { PgStore } from '../postgres/pg-store.js';
import { readPgManifest } from '../postgres/schema.js';
import { IndexError, readManifest } from '../store.js';

/** Opens the store at a location for searching. */
export function openStore(location: string, options: OpenStoreOptions = {}): Promise<VectorStore> {
  return isPostgresUrl(location)
    ? PgStore.open(location, options)
    : FileStore.open(resolve(location), options);
}

export type WriterOptions = FolderSinkOptions & PgSinkOptions;

/** Opens the store at a location for an indexing run (creating it if needed): the pipeline's sink. */
export function openWriter(location: string, options: WriterOptions = {}): IndexSink {
  return isPostgresUrl(location) ? new PgSink(location, options) : new FolderSink(resolve(location), options);
}

/** A location as logs show it (a URL's password hidden; a folder made absolute). */
export function describeLocation(location: string): string {
  return isPostgresUrl(location) ? redact(location) : resolve(location);
}

/** The embedding spec a store was built with (its manifest only), or undefined when there is none yet. */
export async function readStoreSpec(location: string): Promise<EmbeddingSpec | undefined> {
  if (!isPostgresUrl(location)) return (await readManifest(resolve(location)))?.spec;
  const db = createPool(location, 1);
  try {
    return (await readPgManifest(db).catch(() => undefined))?.spec;
  } finally {
    await db.end();
  }
}

/** The folder of a location that is an index folder; undefined for a database. */
export function localFolder(location: string): string | undefined {
  return isPostgresUrl(location) ? undefined : resolve(location);
}

/** The index folder at a location, for what only an index folder can hold (the learned similarity). */
export function requireIndexFolder(location: string, what: string): string {
  const folder = localFolder(location);
  if (!folder) throw new IndexError(`${what} needs an index folder, not ${redact(location)}`);
  return folder;
}
