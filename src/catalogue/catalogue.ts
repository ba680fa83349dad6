/**
 * A catalogue read from disk under its schema: every product with its photo and metadata, and
 * what does not fit, reported rather than fatal: notes on the metadata (rows without a photo,
 * photos without a row, duplicate ids, ids that are too long or hold a NUL, NUL characters
 * removed from cells) and photos left out (links to nothing, links out of the catalogue folder).
 */
import { existsSync, statSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, resolve } from 'node:path';
import pLimit from 'p-limit';
import { readJsonFile } from '../io/json-file.js';
import { MAX_PRODUCT_ID_LENGTH } from './limits.js';
import {
  catalogueFile,
  IMAGE_EXTENSIONS,
  listCatalogue,
  type PhotoFile,
  type RefusedPhoto,
} from './listing.js';
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

/** A product or photo left out (or a note on the metadata), and why (`code` is machine-readable). */
export interface Skipped {
  id: string;
  file: string;
  code: string;
  reason: string;
}

/**
 * Notes on the metadata: reported (in skipped.json and the summary), but no photo failed. A
 * photo without a metadata row is still indexed, without metadata.
 */
const NOTES: Record<string, (n: number) => string> = {
  'no-photo': (n) => `${n} rows without a photo`,
  'no-row': (n) => `${n} photos without a metadata row (indexed without metadata)`,
  'duplicate-id': (n) => `${n} duplicate ids (the last row wins)`,
  'no-id': (n) => `${n} rows without an id (left out)`,
  'id-too-long': (n) => `${n} ids over ${MAX_PRODUCT_ID_LENGTH} characters (left out)`,
  'bad-id': (n) => `${n} ids with a NUL character (left out)`,
  'nul-byte': (n) => `${n} cells with NUL characters (removed)`,
};

export const isCatalogueNote = (s: Skipped): boolean => Object.hasOwn(NOTES, s.code);

/** "12 rows without a photo, 1 duplicate id (the last row wins)" (empty when there are none). */
export function describeNotes(skipped: readonly Skipped[]): string {
  return Object.entries(NOTES)
    .map(([code, say]) => {
      const n = skipped.filter((s) => s.code === code).length;
      return n > 0 ? say(n) : '';
    })
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

/** An id as a message shows it (long ones cut). */
const shownId = (id: string) => (id.length > 80 ? `${id.slice(0, 80)}…` : id);

const refusedAsSkipped = (r: RefusedPhoto): Skipped => ({
  id: r.stem,
  file: r.file,
  code: r.code,
  reason: r.reason,
});

export async function readCatalogue(source: CatalogueSource): Promise<Catalogue> {
  const imagesDir = resolve(source.imagesDir);
  if (!existsSync(imagesDir)) throw new CatalogueError(`no such folder: ${imagesDir}`);
  if (!statSync(imagesDir).isDirectory()) throw new CatalogueError(`not a folder: ${imagesDir}`);
  const { photos, refused } = await listCatalogue(imagesDir);
  if (photos.length === 0 && refused.length === 0) {
    throw new CatalogueError(`no photos in ${imagesDir} (looked for ${[...IMAGE_EXTENSIONS].join(' ')})`);
  }
  const keep = (id: string) => !source.ids || source.ids.has(id);
  if (!source.metadataPath) {
    const schema = photosOnlySchema(source.overrides);
    if (schema.image.by === 'column')
      throw new SchemaError('an image column needs a metadata file (--metadata)');
    const products = byFileName(photos).products.filter((p) => keep(p.id));
    const skipped = refused.filter((r) => keep(r.stem)).map(refusedAsSkipped);
    return { schema, products, skipped, schemaSource: 'photos only (ids from file names)' };
  }
  const fromFile = await fileOverrides(source.metadataPath);
  const overrides = { ...fromFile, ...source.overrides };
  const table = await readMetadataTable(source.metadataPath);
  const schema = detectSchema(table.columns, table.rows.slice(0, 20_000), overrides);
  const schemaSource = fromFile ? `detected, with ${SCHEMA_FILE}` : 'detected';
  const skipped: Skipped[] = [];
  // NUL characters were removed from the cells: an id that held one is refused, other cells noted.
  const badIdLines = new Set<number>();
  for (const { line, column } of table.nulCells) {
    if (column === schema.idColumn) badIdLines.add(line);
    else
      skipped.push({
        id: '',
        file: '',
        code: 'nul-byte',
        reason: `${source.metadataPath} line ${line}, column ${column}: NUL characters removed`,
      });
  }
  const rows = new Map<string, Metadata>();
  table.rows.forEach((row, i) => {
    const line = table.lines[i] ?? 0;
    const id = row[schema.idColumn];
    if (badIdLines.has(line)) {
      skipped.push({
        id: id ? shownId(id) : '',
        file: '',
        code: 'bad-id',
        reason: `${source.metadataPath} line ${line}: the id holds a NUL character`,
      });
      return;
    }
    if (!id) {
      skipped.push({
        id: '',
        file: '',
        code: 'no-id',
        reason: `${source.metadataPath} line ${line}: no ${schema.idColumn}`,
      });
      return;
    }
    if (!keep(id)) return;
    if (id.length > MAX_PRODUCT_ID_LENGTH) {
      skipped.push({
        id: shownId(id),
        file: '',
        code: 'id-too-long',
        reason: `${source.metadataPath} line ${line}: the id is ${id.length} characters long, over the limit of ${MAX_PRODUCT_ID_LENGTH}`,
      });
      return;
    }
    if (rows.has(id))
      skipped.push({ id, file: '', code: 'duplicate-id', reason: `a second row has the id ${id}` });
    const { [schema.idColumn]: _, ...metadata } = row;
    rows.set(id, metadata);
  });
  let products: CatalogueProduct[];
  if (schema.image.by === 'file-name') {
    const named = byFileName(photos);
    products = named.products
      .filter((p) => keep(p.id))
      .map((p) => {
        const metadata = rows.get(p.id);
        if (!metadata)
          skipped.push({
            id: p.id,
            file: p.file,
            code: 'no-row',
            reason: `no row of the metadata has the id ${p.id}: indexed without metadata`,
          });
        return { ...p, metadata: metadata ?? {} };
      });
    const leftOut = refused.filter((r) => keep(r.stem));
    skipped.push(...leftOut.map(refusedAsSkipped));
    const refusedIds = new Set(leftOut.map((r) => r.stem));
    for (const id of rows.keys()) {
      if (!named.ids.has(id) && !refusedIds.has(id))
        skipped.push({ id, file: '', code: 'no-photo', reason: `no photo named ${id}.<ext>` });
    }
  } else {
    const column = schema.image.column;
    const root = await realpath(imagesDir);
    const limit = pLimit(32);
    const found = await Promise.all(
      [...rows].map(([id, metadata]) =>
        limit(async () => [id, metadata, await photoAt(root, imagesDir, metadata[column])] as const),
      ),
    );
    products = [];
    for (const [id, metadata, photo] of found) {
      if (typeof photo === 'string')
        skipped.push({ id, file: metadata[column] ?? '', code: 'no-photo', reason: photo });
      else if ('code' in photo) skipped.push({ ...refusedAsSkipped(photo), id });
      else products.push({ id, file: photo.file, bytes: photo.bytes, mtimeMs: photo.mtimeMs, metadata });
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

/** The photo a metadata cell points at (inside the photos folder), why it is left out, or why there is none. */
async function photoAt(
  root: string,
  imagesDir: string,
  cell: string | undefined,
): Promise<PhotoFile | RefusedPhoto | string> {
  if (!cell) return 'no photo path in the row';
  const file = normalize(cell);
  if (isAbsolute(file) || file === '..' || file.startsWith('../'))
    return `the photo path ${cell} is outside the photos folder`;
  return (await catalogueFile(root, imagesDir, file)) ?? `no photo at ${cell}`;
}
