/**
 * A catalogue read from disk under its schema: every product with its photo and metadata, and
 * what does not fit (rows without a photo, duplicate ids), reported rather than fatal.
 */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize, resolve } from 'node:path';
import { readJsonFile } from '../io/json-file.js';
import { IMAGE_EXTENSIONS, listPhotos, type PhotoFile, statPhoto } from './listing.js';
import { type Metadata, readMetadataTable } from './metadata.js';
import {
  type CatalogueSchema,
  detectSchema,
  photosOnlySchema,
  SCHEMA_FILE,
  SchemaError,
  type SchemaOverrides,
  schemaOverridesZ,
} from './schema.js';

/** A catalogue that cannot be read (no folder, no photos). */
export class CatalogueError extends Error {}

export interface CatalogueProduct {
  id: string;
  /** Photo path relative to the photos folder. */
  file: string;
  bytes: number;
  mtimeMs: number;
  /** Every column but the id. */
  metadata: Metadata;
}

/** A product or photo left out, and why (`code` is machine-readable). */
export interface Skipped {
  id: string;
  file: string;
  code: string;
  reason: string;
}

/** Notes on the metadata (rows without a photo, duplicate ids): reported, but no photo failed. */
const NOTE_CODES = new Set(['no-photo', 'duplicate-id']);

export const isCatalogueNote = (s: Skipped): boolean => NOTE_CODES.has(s.code);

/** "12 rows without a photo, 1 duplicate id" (empty when there are none). */
export function describeNotes(skipped: readonly Skipped[]): string {
  const rows = skipped.filter((s) => s.code === 'no-photo').length;
  const dups = skipped.filter((s) => s.code === 'duplicate-id').length;
  return [rows ? `${rows} rows without a photo` : '', dups ? `${dups} duplicate ids (the last row wins)` : '']
    .filter(Boolean)
    .join(', ');
}

export interface CatalogueSource {
  imagesDir: string;
  /** CSV or JSON Lines; without it, product ids are the photos' file names. */
  metadataPath?: string;
  /** Flags that override the detected schema (they win over lookalike.json). */
  overrides?: SchemaOverrides;
  /** Only these product ids. */
  ids?: ReadonlySet<string>;
}

export interface Catalogue {
  schema: CatalogueSchema;
  products: CatalogueProduct[];
  skipped: Skipped[];
  /** How the schema was chosen, for the log. */
  schemaSource: string;
}

/** The overrides in `lookalike.json` beside the metadata, if there is one. */
async function fileOverrides(metadataPath: string): Promise<SchemaOverrides | undefined> {
  const path = join(dirname(metadataPath), SCHEMA_FILE);
  return existsSync(path) ? readJsonFile(path, schemaOverridesZ) : undefined;
}

export async function readCatalogue(source: CatalogueSource): Promise<Catalogue> {
  const imagesDir = resolve(source.imagesDir);
  if (!existsSync(imagesDir)) throw new CatalogueError(`no such folder: ${imagesDir}`);
  const photos = await listPhotos(imagesDir);
  if (photos.length === 0) {
    throw new CatalogueError(`no photos in ${imagesDir} (looked for ${[...IMAGE_EXTENSIONS].join(' ')})`);
  }
  const keep = (id: string) => !source.ids || source.ids.has(id);
  if (!source.metadataPath) {
    const schema = photosOnlySchema(source.overrides);
    if (schema.image.by === 'column')
      throw new SchemaError('an image column needs a metadata file (--metadata)');
    const products = byFileName(photos).products.filter((p) => keep(p.id));
    return { schema, products, skipped: [], schemaSource: 'photos only (ids from file names)' };
  }
  const fromFile = await fileOverrides(source.metadataPath);
  const overrides = { ...fromFile, ...source.overrides };
  const table = await readMetadataTable(source.metadataPath);
  const schema = detectSchema(table.columns, table.rows.slice(0, 20_000), overrides);
  const schemaSource = fromFile ? `detected, with ${SCHEMA_FILE}` : 'detected';
  const skipped: Skipped[] = [];
  const rows = new Map<string, Metadata>();
  for (const row of table.rows) {
    const id = row[schema.idColumn];
    if (!id || !keep(id)) continue;
    if (rows.has(id))
      skipped.push({ id, file: '', code: 'duplicate-id', reason: `a second row has the id ${id}` });
    const { [schema.idColumn]: _, ...metadata } = row;
    rows.set(id, metadata);
  }
  let products: CatalogueProduct[];
  if (schema.image.by === 'file-name') {
    const named = byFileName(photos);
    products = named.products
      .filter((p) => keep(p.id))
      .map((p) => ({ ...p, metadata: rows.get(p.id) ?? {} }));
    for (const id of rows.keys()) {
      if (!named.ids.has(id))
        skipped.push({ id, file: '', code: 'no-photo', reason: `no photo named ${id}.<ext>` });
    }
  } else {
    const column = schema.image.column;
    products = [];
    for (const [id, metadata] of rows) {
      const found = await photoAt(imagesDir, metadata[column]);
      if (typeof found === 'string')
        skipped.push({ id, file: metadata[column] ?? '', code: 'no-photo', reason: found });
      else products.push({ id, file: found.file, bytes: found.bytes, mtimeMs: found.mtimeMs, metadata });
    }
    products.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  }
  return { schema, products, skipped, schemaSource };
}

/** Photos named by product id; two photos with one id are an error (which one is meant?). */
function byFileName(photos: PhotoFile[]): { products: CatalogueProduct[]; ids: Set<string> } {
  const seen = new Map<string, string>();
  const products: CatalogueProduct[] = [];
  for (const p of photos) {
    const other = seen.get(p.stem);
    if (other) throw new SchemaError(`two photos share the product id ${p.stem}: ${other} and ${p.file}`);
    seen.set(p.stem, p.file);
    products.push({ id: p.stem, file: p.file, bytes: p.bytes, mtimeMs: p.mtimeMs, metadata: {} });
  }
  return { products, ids: new Set(seen.keys()) };
}

/** The photo a metadata cell points at (inside the photos folder), or why there is none. */
async function photoAt(imagesDir: string, cell: string | undefined): Promise<PhotoFile | string> {
  if (!cell) return 'no photo path in the row';
  const file = normalize(cell);
  if (isAbsolute(file) || file.startsWith('..')) return `the photo path ${cell} is outside the photos folder`;
  return (await statPhoto(imagesDir, file)) ?? `no photo at ${cell}`;
}
