/** The photos of a catalogue folder: listed recursively, and hashed by content. */
import { createHash } from 'node:crypto';
import { createReadStream, type Dirent, type Stats } from 'node:fs';
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
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

/** Why a photo of a catalogue folder is left out. */
export type RefusedCode = 'dangling-link' | 'outside-catalogue' | 'not-a-file';

/** A photo (or a link to a folder) of a catalogue folder that is left out, and why. */
export interface RefusedPhoto {
  file: string;
  stem: string;
  code: RefusedCode;
  reason: string;
}

export const stemOf = (file: string) =>
  file.slice(file.lastIndexOf('/') + 1, file.length - extname(file).length);

const isImageName = (name: string) => IMAGE_EXTENSIONS.has(extname(name).toLowerCase());

/** The photos under a folder (recursively, links followed), sorted by path; dangling links are left out. */
export async function listPhotos(imagesDir: string): Promise<PhotoFile[]> {
  const entries = await readdir(imagesDir, { recursive: true, withFileTypes: true });
  const paths = entries
    .filter((e) => (e.isFile() || e.isSymbolicLink()) && isImageName(e.name))
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

/** True when `path` (a real path) is `root` or inside it. */
export function isInside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/** What a file name is inside a catalogue folder: its photo, or why it is left out. */
async function resolveInside(
  root: string,
  imagesDir: string,
  file: string,
  isLink: boolean,
): Promise<PhotoFile | RefusedPhoto | undefined> {
  const path = join(imagesDir, file);
  const refused = (code: RefusedCode, reason: string): RefusedPhoto => ({
    file,
    stem: stemOf(file),
    code,
    reason,
  });
  let st: Stats;
  try {
    if (isLink) {
      const real = await realpath(path);
      if (!isInside(root, real))
        return refused(
          'outside-catalogue',
          `${file} is a link to ${real}, outside the catalogue folder: links out of the catalogue folder are not followed`,
        );
    }
    st = await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (isLink && (code === 'ENOENT' || code === 'ELOOP' || code === 'ENOTDIR'))
      return refused(
        'dangling-link',
        `${file} is a link to nothing (${code === 'ELOOP' ? 'a loop' : 'no such file'})`,
      );
    if (code === 'ENOENT') return undefined;
    throw err;
  }
  if (!st.isFile()) return refused('not-a-file', `${file} is not a regular file`);
  return { file, stem: stemOf(file), bytes: st.size, mtimeMs: st.mtimeMs };
}

/**
 * The photos of a catalogue folder (recursively, sorted by path), and what is left out: links
 * to nothing, links out of the folder (never followed: every photo indexed is inside the catalogue
 * folder, which the server relies on), and photo names that are not files.
 */
export async function listCatalogue(
  imagesDir: string,
): Promise<{ photos: PhotoFile[]; refused: RefusedPhoto[] }> {
  const root = await realpath(imagesDir);
  const entries = await readdir(imagesDir, { recursive: true, withFileTypes: true });
  const relevant = entries
    .filter((e: Dirent) => isImageName(e.name) || e.isSymbolicLink())
    .map((e) => ({ file: relative(imagesDir, join(e.parentPath, e.name)), entry: e }))
    .sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  const limit = pLimit(32);
  const results = await Promise.all(
    relevant.map(({ file, entry }) =>
      limit(async (): Promise<PhotoFile | RefusedPhoto | undefined> => {
        if (isImageName(entry.name)) {
          if (entry.isDirectory()) return undefined;
          return resolveInside(root, imagesDir, file, entry.isSymbolicLink());
        }
        // A link to a folder is not followed; one that leads out of the catalogue is reported.
        const real = await realpath(join(imagesDir, file)).catch(() => undefined);
        if (!real || isInside(root, real)) return undefined;
        const st = await stat(real).catch(() => undefined);
        if (!st?.isDirectory()) return undefined;
        return {
          file,
          stem: stemOf(file),
          code: 'outside-catalogue',
          reason: `${file} is a link to the folder ${real}, outside the catalogue folder: links out of the catalogue folder are not followed`,
        };
      }),
    ),
  );
  const photos: PhotoFile[] = [];
  const refused: RefusedPhoto[] = [];
  for (const r of results) {
    if (!r) continue;
    if ('code' in r) refused.push(r);
    else photos.push(r);
  }
  return { photos, refused };
}

/**
 * One photo of a catalogue folder named by a relative path (a metadata column): the photo, why it
 * is left out, or undefined when there is none (the same rules as listCatalogue).
 */
export async function catalogueFile(
  root: string,
  imagesDir: string,
  file: string,
): Promise<PhotoFile | RefusedPhoto | undefined> {
  const st = await lstat(join(imagesDir, file)).catch(() => undefined);
  if (!st) return undefined;
  // A link may be anywhere on the way (the file or a folder of its path): the real path decides.
  return resolveInside(root, imagesDir, file, true);
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
