/** Paths to the shared real datasets used by the tests (read-only). */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { datasetsDir } from '../../src/config.js';

export const catalogueDir = join(datasetsDir, 'fashion-small');
export const catalogueImages = join(catalogueDir, 'images');
export const stylesCsv = join(catalogueDir, 'styles.csv');
export const queryImages = join(datasetsDir, 'fashion-224', 'images');

export const catalogueImage = (id: string | number): string => join(catalogueImages, `${id}.jpg`);
export const queryImage = (id: string | number): string => join(queryImages, `${id}.jpg`);

/** The first n catalogue photos in file-name order: a fixed, real subset. */
export function firstCatalogueImages(n: number): string[] {
  return readdirSync(catalogueImages)
    .filter((f) => f.endsWith('.jpg'))
    .sort()
    .slice(0, n)
    .map((f) => join(catalogueImages, f));
}
