/**
 * A catalogue on disk: a folder of product photos named by product id, and optionally a CSV of
 * product metadata (the Kaggle `styles.csv` columns, or any others, kept as they are).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, relative } from 'node:path';
import { parse } from 'csv-parse/sync';
import pLimit from 'p-limit';

export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.avif', '.tif', '.tiff']);

export interface CatalogueFile {
  /** Product id: the file name without its extension. */
  id: string;
  /** Path relative to the images folder. */
  file: string;
  bytes: number;
  mtimeMs: number;
}

/** Lists the photos of a catalogue folder (recursively), sorted by path. Duplicate ids are an error. */
export async function listCatalogue(imagesDir: string): Promise<CatalogueFile[]> {
  const entries = await readdir(imagesDir, { recursive: true, withFileTypes: true });
  const files: CatalogueFile[] = [];
  const seen = new Map<string, string>();
  const candidates = entries
    .filter((e) => (e.isFile() || e.isSymbolicLink()) && IMAGE_EXTENSIONS.has(extname(e.name).toLowerCase()))
    .map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name))
    .sort();
  for (const path of candidates) {
    const file = relative(imagesDir, path);
    const id = file.slice(file.lastIndexOf('/') + 1, file.length - extname(file).length);
    const other = seen.get(id);
    if (other) throw new Error(`two photos share the product id ${id}: ${other} and ${file}`);
    seen.set(id, file);
  }
  const limit = pLimit(32);
  const stats = await Promise.all(
    candidates.map((path) => limit(() => stat(path).catch(() => undefined))), // a dangling link is not a photo
  );
  candidates.forEach((path, i) => {
    const s = stats[i];
    if (!s?.isFile()) return;
    const file = relative(imagesDir, path);
    files.push({
      id: file.slice(file.lastIndexOf('/') + 1, file.length - extname(file).length),
      file,
      bytes: s.size,
      mtimeMs: s.mtimeMs,
    });
  });
  return files;
}

export type Metadata = Record<string, string>;

/** Reads a CSV with an `id` column into id -> row (all columns but id, as strings; empty cells omitted). */
export async function readMetadata(csvPath: string): Promise<Map<string, Metadata>> {
  const text = await readFile(csvPath, 'utf8');
  const rows = parse(text, {
    columns: true,
    skip_empty_lines: true,
    relax_column_count: true,
    trim: true,
    bom: true,
  }) as Record<string, string | undefined>[];
  const byId = new Map<string, Metadata>();
  for (const row of rows) {
    const id = row.id;
    if (!id) continue;
    const meta: Metadata = {};
    for (const [key, value] of Object.entries(row)) if (key !== 'id' && value) meta[key] = value;
    byId.set(id, meta);
  }
  if (rows.length > 0 && byId.size === 0) throw new Error(`${csvPath}: no "id" column`);
  return byId;
}

/** SHA-256 of a file's bytes, hex. */
export function hashFile(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

export function hashBytes(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
