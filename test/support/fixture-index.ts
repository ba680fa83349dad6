/**
 * A small real index for tests: a fixed subset of the shared catalogue, embedded with the real
 * model. Built once under .cache/test-indexes/ and reused (indexing is incremental).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from '../../src/config.js';
import type { EmbedderOptions } from '../../src/embeddings/embedder.js';
import { buildIndex } from './build-index.js';
import { catalogueImages, stylesCsv } from './datasets.js';

/** Pairs of product ids whose photos are byte-identical in the catalogue. */
export const DUPLICATE_PAIRS: [string, string][] = [
  ['11165', '11166'],
  ['10645', '10646'],
  ['12208', '12209'],
];

/** Every `stride`-th catalogue photo in file-name order, plus the duplicate pairs. */
export function subsetIds(count: number): Set<string> {
  const ids = readdirSync(catalogueImages)
    .filter((f) => f.endsWith('.jpg'))
    .map((f) => f.slice(0, -4))
    .sort();
  const stride = Math.max(1, Math.floor(ids.length / count));
  const chosen = new Set<string>();
  for (let i = 0; i < ids.length && chosen.size < count; i += stride) chosen.add(ids[i] as string);
  for (const pair of DUPLICATE_PAIRS) for (const id of pair) chosen.add(id);
  return chosen;
}

export interface FixtureIndex {
  dir: string;
  imagesDir: string;
  ids: Set<string>;
}

/** A real index of about `count` catalogue photos (default 240: about 10 s to build the first time). */
export async function fixtureIndex(
  name = 'small',
  count = 240,
  embedder: EmbedderOptions = {},
): Promise<FixtureIndex> {
  const dir = join(cacheDir, 'test-indexes', name);
  const ids = subsetIds(count);
  await buildIndex({ imagesDir: catalogueImages, outDir: dir, metadataPath: stylesCsv, ids, embedder });
  return { dir, imagesDir: catalogueImages, ids };
}
