/**
 * Colour descriptors for every product of an index, one per distinct photo: reused by content hash
 * from the previous generation, computed from the photo otherwise. A photo that cannot be read gets
 * no colour (zeros), and its search vector keeps the colour's share on the visual part.
 */
import { join } from 'node:path';
import pLimit from 'p-limit';
import { COLOUR_DIM, colourOf, smallRgb } from '../images/colour.js';
import type { IndexItem } from '../index/store.js';

export interface ColourInput {
  imagesDir: string;
  items: IndexItem[];
  /** Descriptors already known, by photo hash. */
  known?: Map<string, Float32Array>;
  onProgress?: (done: number, total: number) => void;
}

/** count x COLOUR_DIM descriptors in row order. */
export async function computeColours(
  input: ColourInput,
): Promise<{ colours: Float32Array; computed: number }> {
  const { items, known } = input;
  const colours = new Float32Array(items.length * COLOUR_DIM);
  const byHash = new Map<string, Float32Array>();
  const todo = new Map<string, string>();
  for (const item of items) {
    const k = known?.get(item.hash);
    if (k) byHash.set(item.hash, k);
    else if (!todo.has(item.hash)) todo.set(item.hash, item.file);
  }
  const unique = [...todo.entries()];
  const limit = pLimit(8);
  let done = 0;
  if (unique.length > 0) input.onProgress?.(0, unique.length);
  await Promise.all(
    unique.map(([hash, file]) =>
      limit(async () => {
        try {
          byHash.set(hash, colourOf(await smallRgb(join(input.imagesDir, file))));
        } catch {
          // Unreadable now (it was embedded before): no colour for it.
        }
        done += 1;
        if (done % 256 === 0 || done === unique.length) input.onProgress?.(done, unique.length);
      }),
    ),
  );
  items.forEach((item, row) => {
    const c = byHash.get(item.hash);
    if (c) colours.set(c, row * COLOUR_DIM);
  });
  return { colours, computed: unique.length };
}

/** The descriptors of an index generation by photo hash (for reuse by the next one). */
export function coloursByHash(items: IndexItem[], colours: Float32Array): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  items.forEach((item, row) => {
    out.set(item.hash, colours.subarray(row * COLOUR_DIM, (row + 1) * COLOUR_DIM));
  });
  return out;
}
