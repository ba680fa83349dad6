/**
 * Commits an index folder's current vectors again as a new generation with its derived layer made
 * anew (lookalike learn): the photos are neither listed nor embedded.
 */
import { resolve } from 'node:path';
import { type Derived, type DeriveInput, INDEX_LOCK } from './folder-sink.js';
import { lockFolder } from './lock.js';
import { commitIndex, type IndexManifest, loadIndex } from './store.js';

export async function rederiveIndex(
  dir: string,
  derive: (input: DeriveInput) => Promise<Derived>,
): Promise<IndexManifest> {
  const outDir = resolve(dir);
  const lock = await lockFolder(outDir, INDEX_LOCK);
  try {
    const data = await loadIndex(outDir);
    const { manifest, items, vectors } = data;
    const derived = await derive({
      outDir,
      imagesDir: manifest.imagesDir,
      items,
      vectors,
      dim: manifest.dim,
      previous: data,
    });
    if (derived.unchanged) return manifest;
    await lock.assertHeld();
    const { format, version, generation, vectorsFile, itemsFile, count, checksums, ...rest } = manifest;
    return await commitIndex(
      outDir,
      { ...rest, updatedAt: new Date().toISOString(), similarity: derived.spec },
      items,
      vectors,
      derived.files,
      { beforeSwitch: () => lock.assertHeld() },
    );
  } finally {
    await lock.release();
  }
}
