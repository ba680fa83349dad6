/**
 * The CatalogueEditor of a recommender's store (index folder or PostgreSQL): a change is embedded
 * as an indexing run embeds a photo, written durably through the store (its write-ahead log, or a
 * committed transaction), then read back from the store's log and applied to the recommender in
 * memory, so that searches see it before the promise resolves.
 *
 * Changes are applied one at a time (Recommender.exclusive); the embedding of a photo happens
 * before, so that uploads in a batch do not wait on each other's writes.
 */
import { extname } from 'node:path';
import sharp from 'sharp';
import { MAX_PRODUCT_ID_LENGTH } from '../catalogue/limits.js';
import { hashBytes, IMAGE_EXTENSIONS } from '../catalogue/listing.js';
import { colourOf, smallRgb } from '../images/colour.js';
import { ImageError, isImageError } from '../images/errors.js';
import type { IndexItem, StoredVector } from '../index/port.js';
import { type Recommender, UnknownProductError } from '../recommend/recommender.js';
import { type CatalogueEditor, type ChangeResult, InvalidChangeError, type PutProduct } from './editor.js';

/** Limits of a change's metadata. */
export const MAX_COLUMNS = 100;
export const MAX_COLUMN_LENGTH = 200;
export const MAX_VALUE_LENGTH = 2000;

/** File extension of a photo by its decoded format (what /images/:id serves it as). */
const EXTENSIONS: Readonly<Record<string, string>> = {
  jpeg: '.jpg',
  png: '.png',
  webp: '.webp',
  gif: '.gif',
  avif: '.avif',
  heif: '.avif',
  tiff: '.tif',
};

export class StoreEditor implements CatalogueEditor {
  constructor(private readonly recommender: Recommender) {}

  async put(change: PutProduct): Promise<ChangeResult> {
    checkId(change.id);
    if (change.metadata) this.checkMetadata(change.metadata);
    // The photo is embedded first (outside the queue of writes).
    const photo = change.photo ? await this.readPhoto(change.id, change.photo) : undefined;
    const r = this.recommender;
    return r.exclusive(async () => {
      await r.catchUpNow();
      const store = r.store;
      const row = store.row(change.id);
      const existing = row === undefined ? undefined : store.items[row];
      if (!photo && !existing) {
        throw new InvalidChangeError(`product ${JSON.stringify(change.id)} is new: it needs a photo`);
      }
      const metadata = change.metadata ?? existing?.metadata ?? {};
      let stored: StoredVector;
      let item: IndexItem;
      if (photo) {
        stored = photo.stored;
        item = {
          id: change.id,
          file: `${photo.hash}${photo.ext}`,
          hash: photo.hash,
          bytes: photo.bytes.length,
          mtimeMs: Date.now(),
          metadata,
          origin: 'api',
        };
      } else {
        const current = existing as IndexItem;
        stored = await store.storedVector(row as number);
        item = { ...current, metadata };
      }
      if (existing && existing.hash === item.hash && sameMetadata(existing.metadata, metadata)) {
        return { id: change.id, action: 'put', outcome: 'unchanged', hash: item.hash, sequence: 0 };
      }
      const sequence = await store.writeChange({
        op: 'put',
        item,
        visual: stored.visual,
        ...(stored.colour ? { colour: stored.colour } : {}),
        ...(photo ? { photo: photo.bytes } : {}),
      });
      await r.catchUpNow();
      return {
        id: change.id,
        action: 'put',
        outcome: existing ? 'replaced' : 'created',
        hash: item.hash,
        sequence,
      };
    });
  }

  async patch(id: string, metadata: Record<string, string>): Promise<ChangeResult> {
    checkId(id);
    this.checkMetadata(metadata);
    const r = this.recommender;
    return r.exclusive(async () => {
      await r.catchUpNow();
      const store = r.store;
      const row = store.row(id);
      if (row === undefined) throw new UnknownProductError(`no product "${id}" in the index`);
      const existing = store.items[row] as IndexItem;
      const merged = { ...existing.metadata, ...metadata };
      if (sameMetadata(existing.metadata, merged)) {
        return { id, action: 'patch', outcome: 'unchanged', hash: existing.hash, sequence: 0 };
      }
      const stored = await store.storedVector(row);
      const sequence = await store.writeChange({
        op: 'put',
        item: { ...existing, metadata: merged },
        visual: stored.visual,
        ...(stored.colour ? { colour: stored.colour } : {}),
      });
      await r.catchUpNow();
      return { id, action: 'patch', outcome: 'updated', hash: existing.hash, sequence };
    });
  }

  async delete(id: string): Promise<ChangeResult> {
    checkId(id);
    const r = this.recommender;
    return r.exclusive(async () => {
      await r.catchUpNow();
      if (r.store.row(id) === undefined) throw new UnknownProductError(`no product "${id}" in the index`);
      const sequence = await r.store.writeChange({ op: 'delete', id });
      await r.catchUpNow();
      return { id, action: 'delete', outcome: 'deleted', sequence };
    });
  }

  /**
   * A photo's hash, stored format and, unless the catalogue has the very same photo already, its
   * visual vector and colour as an indexing run computes them. An unusable photo is an ImageError.
   */
  private async readPhoto(
    id: string,
    photo: NonNullable<PutProduct['photo']>,
  ): Promise<{ hash: string; ext: string; bytes: Buffer; stored: StoredVector }> {
    const { bytes } = photo;
    const label = photo.filename ?? `product ${id}`;
    const hash = hashBytes(bytes);
    const r = this.recommender;
    const format = await sharp(bytes)
      .metadata()
      .then(
        (m) => m.format,
        () => undefined,
      );
    const byName = photo.filename ? extname(photo.filename).toLowerCase() : '';
    const ext = (format && EXTENSIONS[format]) ?? (IMAGE_EXTENSIONS.has(byName) ? byName : undefined);
    const same = r.store.rowsWithHash(hash)[0];
    // The very same photo is in the catalogue: identical bytes embed identically.
    if (same !== undefined)
      return { hash, ext: ext ?? '.jpg', bytes, stored: await r.store.storedVector(same) };
    const embedder = await r.getEmbedder();
    const [visual] = await embedder.embedEach([{ data: bytes, label }]);
    if (!visual || isImageError(visual)) {
      throw visual ?? new ImageError(label, 'unreadable', 'the photo could not be read');
    }
    if (!ext)
      throw new ImageError(label, 'unsupported-format', `the photo's format (${format}) cannot be stored`);
    const colour = r.similarity.learned ? colourOf(await smallRgb(bytes)) : undefined;
    return { hash, ext, bytes, stored: { visual, ...(colour ? { colour } : {}) } };
  }

  /** Columns and values a product may have: short strings, at most MAX_COLUMNS of them. */
  private checkMetadata(metadata: Record<string, string>): void {
    const entries = Object.entries(metadata);
    if (entries.length > MAX_COLUMNS) {
      throw new InvalidChangeError(
        `a product has at most ${MAX_COLUMNS} metadata columns, not ${entries.length}`,
      );
    }
    for (const [column, value] of entries) {
      if (column.length === 0 || column.length > MAX_COLUMN_LENGTH || hasControl(column)) {
        throw new InvalidChangeError(
          `metadata column ${JSON.stringify(column.slice(0, 50))} is not a column name (1 to ${MAX_COLUMN_LENGTH} characters, no control characters)`,
        );
      }
      if (typeof value !== 'string' || value.length > MAX_VALUE_LENGTH || value.includes('\0')) {
        throw new InvalidChangeError(
          `metadata ${JSON.stringify(column)} must be a text of at most ${MAX_VALUE_LENGTH} characters without NUL`,
        );
      }
    }
  }
}

function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) < 0x20) return true;
  return false;
}

function checkId(id: string): void {
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_PRODUCT_ID_LENGTH || id.includes('\0')) {
    throw new InvalidChangeError(
      `a product id is 1 to ${MAX_PRODUCT_ID_LENGTH} characters without a NUL character`,
    );
  }
}

function sameMetadata(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}
