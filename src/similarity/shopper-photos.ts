/**
 * A folder of labelled shoppers' photos (as street-dev): `images/`, `labels.csv` (image,label) and
 * a label map, `label-to-kinds.json` or `label-to-articletypes.json` (label → the values of the
 * catalogue's kind column that count as that kind). `lookalike eval --street` scores with it;
 * `lookalike learn --shopper-photos` learns from its tune half which kind a shopper's photo shows.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import { z } from 'zod';
import { Embedder, type EmbedderOptions } from '../embeddings/embedder.js';
import { readJsonFile } from '../io/json-file.js';
import type { ShopperExamples } from './shopper-head.js';
import { type StreetPart, streetPart } from './split.js';

export class ShopperPhotosError extends Error {}

export interface ShopperPhoto {
  image: string;
  label: string;
  path: string;
  part: StreetPart;
}

export interface ShopperPhotos {
  dir: string;
  /** Rows of labels.csv. */
  labelled: number;
  /** Label → the catalogue kind values that count as it (labels without an entry are not scored). */
  map: Record<string, string[]>;
  /** Rows with a mapped label. */
  mapped: number;
  /** Photos with a mapped label whose file exists. */
  photos: ShopperPhoto[];
}

const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp'];
/** The label map's names, the generic one first. */
export const LABEL_MAP_FILES = ['label-to-kinds.json', 'label-to-articletypes.json'];
const labelMapZ = z.record(z.string(), z.array(z.string()));

export async function readShopperPhotos(dirArg: string): Promise<ShopperPhotos> {
  const dir = resolve(dirArg);
  const labelsPath = join(dir, 'labels.csv');
  const mapPath = LABEL_MAP_FILES.map((f) => join(dir, f)).find((p) => existsSync(p));
  if (!existsSync(labelsPath) || !mapPath) {
    throw new ShopperPhotosError(`${dir} needs labels.csv (image,label) and ${LABEL_MAP_FILES.join(' or ')}`);
  }
  const rows = parse(await readFile(labelsPath, 'utf8'), { columns: true, skip_empty_lines: true }) as Record<
    string,
    string
  >[];
  const map = await readJsonFile(mapPath, labelMapZ);
  const mapped = rows.filter((r) => r.image && r.label && map[r.label] !== undefined);
  const photos = mapped.flatMap((r) => {
    if (!r.image || !r.label) return [];
    const base = join(dir, 'images', r.image);
    const path = [base, ...IMAGE_EXTENSIONS.map((e) => `${base}${e}`)].find((p) => existsSync(p));
    return path ? [{ image: r.image, label: r.label, path, part: streetPart(r.image) }] : [];
  });
  if (photos.length === 0)
    throw new ShopperPhotosError(`no photos with a mapped label under ${join(dir, 'images')}`);
  return { dir, labelled: rows.length, mapped: mapped.length, map, photos };
}

/**
 * The tune half of a folder of labelled shoppers' photos, embedded with the index's own model:
 * what the shopper head learns from (the report half stays unseen, for `lookalike eval --street`).
 * Photos that cannot be read are left out.
 */
export async function embedShopperPhotos(
  dirArg: string,
  embedder: EmbedderOptions,
  onProgress?: (done: number, total: number) => void,
): Promise<ShopperExamples> {
  const folder = await readShopperPhotos(dirArg);
  const photos = folder.photos.filter((p) => p.part === 'tune');
  const model = await Embedder.create(embedder);
  try {
    const vectors: Float32Array[] = [];
    const labels: string[] = [];
    let done = 0;
    for await (const batch of model.embedBatches(photos.map((p) => p.path))) {
      batch.forEach((v, i) => {
        if (v instanceof Float32Array) {
          vectors.push(v);
          labels.push((photos[done + i] as ShopperPhoto).label);
        }
      });
      done += batch.length;
      onProgress?.(done, photos.length);
    }
    const dim = vectors[0]?.length ?? 0;
    const all = new Float32Array(vectors.length * dim);
    vectors.forEach((v, i) => {
      all.set(v, i * dim);
    });
    return { source: folder.dir, vectors: all, labels, map: folder.map, part: 'tune' };
  } finally {
    await model.close();
  }
}
