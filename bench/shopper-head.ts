/**
 * How the shopper head's weight and its runner-up result were chosen: on the tune half of a folder
 * of labelled shoppers' photos only, with out-of-fold probabilities (the head is learned on four
 * fifths of the tune half and predicts the fifth it did not see, five times), so that the tune
 * figures are not those of photos the head learned from. The report half's figures use the head
 * learned on the whole tune half, as `lookalike learn --shopper-photos` does; `lookalike eval
 * --street` measures the real thing (it also collapses identical catalogue photos and treats
 * shoppers' photos on a plain light background as catalogue-like photos; this script does neither).
 *
 *   npm run bench:shopper-head [-- --index <dir> --street <dir> --weights 0,0.05,0.1,0.2,0.4]
 *
 * Prints, per weight of the kind (the shopper weights' labels share; visual gets the rest), P@5
 * and hit@5 without and with the runner-up kind's result at rank 5, and the head's accuracy.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { MatMul, matrix } from '../src/compute/matmul.js';
import { datasetsDir, defaultIndexDir } from '../src/config.js';
import { Embedder } from '../src/embeddings/embedder.js';
import { optionsForSpec } from '../src/embeddings/spec.js';
import { loadIndex } from '../src/index/store.js';
import { recordedSimilarity } from '../src/similarity/derive.js';
import { readSimilarity } from '../src/similarity/model.js';
import { standardise } from '../src/similarity/projection.js';
import {
  type ShopperHead,
  shopperLabelProbabilities,
  trainShopperHead,
} from '../src/similarity/shopper-head.js';
import { readShopperPhotos } from '../src/similarity/shopper-photos.js';
import { describeMachine } from './support/machine.js';

const { values } = parseArgs({
  options: {
    index: { type: 'string', default: defaultIndexDir },
    street: { type: 'string', default: join(datasetsDir, 'street-dev') },
    weights: { type: 'string', default: '0,0.03,0.05,0.1,0.15,0.2,0.3' },
    folds: { type: 'string', default: '5' },
  },
});
const K = 5;
const HEDGE_RANK = 5;

const data = await loadIndex(values.index);
const recorded = recordedSimilarity(data.manifest.similarity);
if (recorded?.kind !== 'learned') throw new Error(`${values.index} has no learned similarity`);
const model = await readSimilarity(values.index, recorded.id);
if (!model) throw new Error('the learned similarity could not be read');
const column = model.file.labels[0]?.column as string;
const projection = model.projection;
const dim = data.manifest.dim;
const count = data.items.length;
const kinds = data.items.map((i) => i.metadata[column] ?? '');

const folder = await readShopperPhotos(values.street);
const embedder = await Embedder.create(optionsForSpec(data.manifest.spec));
const embedded = await embedder.embedEach(folder.photos.map((p) => p.path));
await embedder.close();
const photos = folder.photos.filter((_, i) => embedded[i] instanceof Float32Array);
const visual = new Float32Array(photos.length * dim);
let at = 0;
for (const v of embedded) if (v instanceof Float32Array) visual.set(v, dim * at++);
const row = (i: number) => visual.subarray(i * dim, (i + 1) * dim);
const tune = photos.flatMap((p, i) => (p.part === 'tune' ? [i] : []));
const report = photos.flatMap((p, i) => (p.part === 'report' ? [i] : []));

// Label probabilities: out of fold on the tune half, from the whole tune half on the report half.
const folds = Number(values.folds);
const probabilities: Float32Array[] = new Array(photos.length);
async function learnOn(rows: number[]): Promise<ShopperHead> {
  const x = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => {
    x.set(row(r), i * dim);
  });
  const examples = {
    source: folder.dir,
    vectors: x,
    labels: rows.map((r) => (photos[r] as { label: string }).label),
    map: folder.map,
    part: 'tune',
  };
  return (await trainShopperHead(examples, projection)).head;
}
const predict = (h: ShopperHead, i: number) => shopperLabelProbabilities(h, standardise(projection, row(i)));
for (let f = 0; f < folds; f++) {
  const h = await learnOn(tune.filter((_, j) => j % folds !== f));
  tune.forEach((i, j) => {
    if (j % folds === f) probabilities[i] = remap(h, predict(h, i));
  });
}
const head = await learnOn(tune);
for (const i of report) probabilities[i] = predict(head, i);
const labels = head.labels;

/** A fold's head may miss a label the whole tune half has: its probabilities in the full order. */
function remap(h: ShopperHead, p: Float32Array): Float32Array {
  const all = [...new Set(tune.map((i) => (photos[i] as { label: string }).label))].sort();
  const out = new Float32Array(all.length);
  h.labels.forEach((l, j) => {
    out[all.indexOf(l)] = p[j] as number;
  });
  return out;
}

// Visual similarities of every photo to every product.
const mm = await MatMul.create();
const cos = await mm.mul(matrix(photos.length, dim, visual), matrix(count, dim, data.vectors), false, true);
await mm.close();

function rank(i: number, weight: number, runnerUp: boolean): number[] {
  const p = probabilities[i] as Float32Array;
  const byKind = new Map<string, number>();
  labels.forEach((l, j) => {
    for (const k of folder.map[l] ?? []) byKind.set(k, (byKind.get(k) ?? 0) + (p[j] as number));
  });
  const score = new Float32Array(count);
  for (let r = 0; r < count; r++)
    score[r] =
      (1 - weight) * (cos.data[i * count + r] as number) + weight * (byKind.get(kinds[r] as string) ?? 0);
  const top: number[] = [];
  const order = (filter: (r: number) => boolean, n: number) => {
    const best: number[] = [];
    for (let r = 0; r < count; r++) {
      if (!filter(r)) continue;
      if (best.length < n) best.push(r);
      else if ((score[r] as number) > (score[best[n - 1] as number] as number)) best[n - 1] = r;
      else continue;
      best.sort((a, b) => (score[b] as number) - (score[a] as number));
    }
    return best;
  };
  top.push(...order(() => true, K));
  if (!runnerUp) return top;
  const sorted = Array.from(p.keys()).sort((a, b) => (p[b] as number) - (p[a] as number));
  const first = folder.map[labels[sorted[0] as number] as string] ?? [];
  const next = sorted
    .slice(1)
    .map((j) => (folder.map[labels[j] as string] ?? []).filter((k) => !first.includes(k)))
    .find((ks) => ks.length > 0);
  if (!next || top.some((r) => next.includes(kinds[r] as string))) return top;
  const [extra] = order((r) => next.includes(kinds[r] as string), 1);
  return extra === undefined ? top : [...top.slice(0, HEDGE_RANK - 1), extra];
}

function measure(ids: number[], weight: number, runnerUp: boolean): { p: number; hit: number } {
  let p = 0;
  let hit = 0;
  for (const i of ids) {
    const right = new Set(folder.map[(photos[i] as { label: string }).label]);
    const hits = rank(i, weight, runnerUp).filter((r) => right.has(kinds[r] as string)).length;
    p += hits / K;
    hit += hits > 0 ? 1 : 0;
  }
  return { p: p / ids.length, hit: hit / ids.length };
}

function accuracy(ids: number[]): string {
  let top1 = 0;
  let top2 = 0;
  for (const i of ids) {
    const p = probabilities[i] as Float32Array;
    const sorted = Array.from(p.keys()).sort((a, b) => (p[b] as number) - (p[a] as number));
    const truth = labels.indexOf((photos[i] as { label: string }).label);
    if (sorted[0] === truth) top1++;
    if (sorted.slice(0, 2).includes(truth)) top2++;
  }
  return `top-1 ${(top1 / ids.length).toFixed(3)}, top-2 ${(top2 / ids.length).toFixed(3)}`;
}

const f = (v: number) => v.toFixed(3);
const lines = [
  `Index ${values.index} (${count} products); shoppers' photos ${folder.dir}: tune ${tune.length}, report ${report.length}; ${describeMachine()}`,
  `The head's label accuracy: tune half out of fold ${accuracy(tune)}; report half ${accuracy(report)}`,
  '',
  '| kind weight | runner-up | tune P@5 (out of fold) | tune hit@5 | report P@5 | report hit@5 |',
  '| ---: | --- | ---: | ---: | ---: | ---: |',
];
for (const w of values.weights.split(',').map(Number)) {
  for (const runnerUp of [false, true]) {
    const t = measure(tune, w, runnerUp);
    const r = measure(report, w, runnerUp);
    lines.push(`| ${w} | ${runnerUp ? 'yes' : 'no'} | ${f(t.p)} | ${f(t.hit)} | ${f(r.p)} | ${f(r.hit)} |`);
  }
}
process.stdout.write(`${lines.join('\n')}\n`);
