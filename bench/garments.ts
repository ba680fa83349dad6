/**
 * How well the garment finder (src/images/garments.ts) tells items apart, on real photos:
 * single products (fashion-224 photos: it should suggest 1 item or none) and pairs of catalogue
 * photos side by side on white (it should find 2), with the time per photo.
 *
 *   npm run bench:garments [-- --singles 300 --pairs 60]
 */
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { datasetsDir } from '../src/config.js';
import { findGarments } from '../src/images/garments.js';
import { describeMachine } from './support/machine.js';

const { values } = parseArgs({
  options: {
    singles: { type: 'string', default: '300' },
    pairs: { type: 'string', default: '60' },
  },
});

const photos = join(datasetsDir, 'fashion-224', 'images');
const catalogue = join(datasetsDir, 'fashion-small', 'images');
const list = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.jpg'))
    .sort();

/** Two catalogue photos side by side on white. */
async function sideBySide(a: string, b: string): Promise<Buffer> {
  const tile = (file: string) =>
    sharp(join(catalogue, file)).resize(200, 266, { fit: 'contain', background: '#ffffff' }).toBuffer();
  return sharp({ create: { width: 440, height: 300, channels: 3, background: '#ffffff' } })
    .composite([
      { input: await tile(a), left: 10, top: 17 },
      { input: await tile(b), left: 230, top: 17 },
    ])
    .jpeg()
    .toBuffer();
}

const tally = (counts: number[]) => {
  const by = new Map<number, number>();
  for (const c of counts) by.set(c, (by.get(c) ?? 0) + 1);
  return [...by]
    .sort(([a], [b]) => a - b)
    .map(([items, n]) => `${items} item${items === 1 ? '' : 's'}: ${n}`)
    .join(', ');
};

const singles = list(photos);
const nSingles = Number(values.singles);
const chosen = singles
  .filter((_, i) => i % Math.max(1, Math.floor(singles.length / nSingles)) === 0)
  .slice(0, nSingles);
const singleCounts: number[] = [];
let ms = 0;
for (const file of chosen) {
  const bytes = await readFile(join(photos, file));
  const t = performance.now();
  singleCounts.push((await findGarments(bytes)).length);
  ms += performance.now() - t;
}
const files = list(catalogue);
const pairCounts: number[] = [];
for (let i = 0; i < Number(values.pairs); i++) {
  const a = files[(i * 733) % files.length] as string;
  const b = files[(i * 733 + 12345) % files.length] as string;
  pairCounts.push((await findGarments(await sideBySide(a, b))).length);
}
console.log(`garment finder (${describeMachine()})`);
console.log(`| photos | n | items found | right |\n|---|---|---|---|`);
const right = (counts: number[], ok: (c: number) => boolean) =>
  `${((counts.filter(ok).length / Math.max(1, counts.length)) * 100).toFixed(1)}%`;
console.log(
  `| one product (fashion-224) | ${chosen.length} | ${tally(singleCounts)} | ${right(singleCounts, (c) => c <= 1)} (1 or none) |`,
);
console.log(
  `| two catalogue photos side by side | ${pairCounts.length} | ${tally(pairCounts)} | ${right(pairCounts, (c) => c === 2)} (2) |`,
);
console.log(
  `time per photo: ${(ms / Math.max(1, chosen.length)).toFixed(1)} ms (decode, 96x96, foreground, regions)`,
);
