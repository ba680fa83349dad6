/** Photos as small self-contained data: URIs for the HTML report. */
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';

/** Thumbnails fit in this box (the catalogue's 60x80 photos are inlined as they are). */
const MAX_WIDTH = 120;
const MAX_HEIGHT = 160;

/** A JPEG data: URI of the photo, or undefined when it cannot be read. Results are cached by path. */
export class Thumbnails {
  private readonly cache = new Map<string, Promise<string | undefined>>();

  get(path: string): Promise<string | undefined> {
    let uri = this.cache.get(path);
    if (!uri) {
      uri = thumbnail(path).catch(() => undefined);
      this.cache.set(path, uri);
    }
    return uri;
  }
}

async function thumbnail(path: string): Promise<string> {
  const bytes = await readFile(path);
  const meta = await sharp(bytes).metadata();
  const small = (meta.width ?? Infinity) <= MAX_WIDTH && (meta.height ?? Infinity) <= MAX_HEIGHT;
  const jpeg =
    meta.format === 'jpeg' && small
      ? bytes
      : await sharp(bytes)
          .rotate()
          .flatten({ background: '#ffffff' })
          .resize({ width: MAX_WIDTH, height: MAX_HEIGHT, fit: 'inside', withoutEnlargement: true })
          .jpeg({ quality: 82 })
          .toBuffer();
  return `data:image/jpeg;base64,${jpeg.toString('base64')}`;
}
