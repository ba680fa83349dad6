/** The photos of a catalogue folder: listed recursively, and hashed by content. */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { extname, join, relative } from 'node:path';
import pLimit from 'p-limit';

export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.avif', '.tif', '.tiff']);

export interface PhotoFile {
  /** Path relative to the photos folder. */
  file: string;
  /** The file name without its extension (a product id, when photos are named by id). */
  stem: string;
  bytes: number;
  mtimeMs: number;
}

const stemOf = (file: string) => file.slice(file.lastIndexOf('/') + 1, file.length - extname(file).length);

/** The photos under a folder (recursively, links followed), sorted by path; dangling links are left out. */
export async function listPhotos(imagesDir: string): Promise<PhotoFile[]> {
  const entries = await readdir(imagesDir, { recursive: true, withFileTypes: true });
  const paths = entries
    .filter((e) => (e.isFile() || e.isSymbolicLink()) && IMAGE_EXTENSIONS.has(extname(e.name).toLowerCase()))
    .map((e) => join(e.parentPath, e.name))
    .sort();
  const limit = pLimit(32);
  const stats = await Promise.all(paths.map((path) => limit(() => stat(path).catch(() => undefined))));
  const files: PhotoFile[] = [];
  paths.forEach((path, i) => {
    const s = stats[i];
    if (!s?.isFile()) return;
    const file = relative(imagesDir, path);
    files.push({ file, stem: stemOf(file), bytes: s.size, mtimeMs: s.mtimeMs });
  });
  return files;
}

/** The size and modification time of one photo (undefined when it is missing or not a file). */
export async function statPhoto(imagesDir: string, file: string): Promise<PhotoFile | undefined> {
  const s = await stat(join(imagesDir, file)).catch(() => undefined);
  return s?.isFile() ? { file, stem: stemOf(file), bytes: s.size, mtimeMs: s.mtimeMs } : undefined;
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
