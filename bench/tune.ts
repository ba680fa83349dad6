/**
 * Tuning the learned similarity's weights and query preparation, fast: every part's similarity
 * matrix is computed once for a sample of queries, then any weighting of them is scored. Caches
 * colour descriptors, the projection and query embeddings in bench-output/tune/ (delete it after
 * re-indexing). Figures of record come from `lookalike eval` and `npm run bench:levers`.
 *
 *   MODE=loo VAL=1 GRID='[[visual,learned,type,colourLabel,colour,allLabels],...]' npm run bench:tune
 *     leave-one-out label precision on a validation slice of the training side (photo hash 1 mod 5),
 *     with a projection learned without it: how the default weights were chosen.
 *   MODE=street VARIANTS=plain,match,crop,cropmatch,whitematch,cropwhitematch,matchflip FUSIONS='[...]' npm run bench:tune
 *     street-dev P@5 and hit@5 for each query preparation and weighting, tune and report halves.
 *     A 7th weight scores the kind vote (the schema's kind column) of the VOTE (default 50) nearest
 *     visual neighbours;
 *     QUOTAS='[3,1,1]' fills the 5 results from the most voted kinds in turn (diversified).
 *   MODE=f224 VARIANTS=plain,match FUSIONS='[...]' npm run bench:tune
 *     fashion-224 recall@1 of held-out products.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { z } from 'zod';
import { schemaOfProducts } from '../src/catalogue/schema.js';
import { MatMul, matrix } from '../src/compute/matmul.js';
import { Embedder } from '../src/embeddings/embedder.js';
import { judgedLabels } from '../src/evaluation/metrics.js';
import { COLOUR_DIM, colourOf, smallRgb } from '../src/images/colour.js';
import { prepareQuery, type QueryPrep } from '../src/images/query-prep.js';
import { loadIndex } from '../src/index/store.js';
import { writeDurably } from '../src/io/durable.js';
import { parseJson, readJsonFile } from '../src/io/json-file.js';
import { detectTasks, learnSimilarity } from '../src/similarity/learn.js';
import { normaliseRows, type Projection, project } from '../src/similarity/projection.js';
import { isHeldOut, streetPart } from '../src/similarity/split.js';

const W = 'bench-output/tune';
mkdirSync(W, { recursive: true });
const D = 2048;
const index = await loadIndex('.cache/index');
const items = index.items;
const n = items.length;
// The label columns come from the catalogue's schema (recorded with the index, else detected).
const schema = index.manifest.schema ?? schemaOfProducts(items.map((i) => i.metadata));
const labels = judgedLabels(schema);
const kindColumn = schema.kindColumn;
if (!kindColumn) throw new Error('bench:tune needs a catalogue whose schema names a kind column');
const weightLists = z.array(z.array(z.number()));
const t0 = performance.now();
const el = () => ((performance.now() - t0) / 1000).toFixed(1);

async function cached(name: string, make: () => Promise<Float32Array>): Promise<Float32Array> {
  const p = join(W, name);
  if (existsSync(p)) {
    const b = await readFile(p);
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  }
  const v = await make();
  await writeDurably(p, new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  return v;
}

const colours = await cached('colours.f32', async () => {
  const out = new Float32Array(n * COLOUR_DIM);
  const start = performance.now();
  const B = 64;
  for (let i = 0; i < n; i += B) {
    const part = await Promise.all(
      items
        .slice(i, i + B)
        .map(async (it) => colourOf(await smallRgb(join(index.manifest.imagesDir, it.file)))),
    );
    part.forEach((c, j) => {
      out.set(c, (i + j) * COLOUR_DIM);
    });
    if (i % 4096 === 0)
      console.error(`colours ${i}/${n} ${((i / (performance.now() - start)) * 1000).toFixed(0)}/s`);
  }
  console.error(`colours done in ${((performance.now() - start) / 1000).toFixed(1)} s`);
  return out;
});

// VAL=1: learn from the training side less a validation slice (hash mod 5 == 1), and query that slice.
const validation = process.env.VAL === '1';
const isVal = (h: string) => Number.parseInt(h.slice(0, 8), 16) % 5 === 1;
const train = (h: string) => !isHeldOut(h) && !(validation && isVal(h));
const trainRows = items.map((it, r) => (train(it.hash) ? r : -1)).filter((r) => r >= 0);
const heldRows = items
  .map((it, r) => ((validation ? isVal(it.hash) : isHeldOut(it.hash)) ? r : -1))
  .filter((r) => r >= 0);
console.error(`train ${trainRows.length} held ${heldRows.length}`);

const dim = Number(process.env.PDIM ?? 256);
const epochs = Number(process.env.EPOCHS ?? 12);
const taskEnv = process.env.TASKS; // e.g. <kind column>=1,<colour column>=0.5
const tasks = taskEnv
  ? taskEnv
      .split(',')
      .map((p) => ({ column: p.split('=')[0] as string, weight: Number(p.split('=')[1] ?? 1) }))
  : detectTasks(items, schema);
console.error(JSON.stringify(tasks));
const projTag = `proj-${dim}-${epochs}-${taskEnv ?? 'auto'}${validation ? '-val' : ''}`;
const mm = await MatMul.create();
let proj!: Projection;
const projected = await cached(`${projTag}.f32`, async () => {
  const seen = new Set<string>();
  const rows = items
    .map((it, r) => (train(it.hash) && !seen.has(it.hash) && seen.add(it.hash) ? r : -1))
    .filter((r) => r >= 0);
  const learned = await learnSimilarity({
    rows,
    items,
    vectors: index.vectors,
    dim: D,
    tasks,
    outputDim: dim,
    epochs,
    query: {},
    onEpoch: (e, E, loss, acc) =>
      console.error(`epoch ${e}/${E} loss ${loss.toFixed(3)} ${JSON.stringify(acc)} ${el()}s`),
  });
  await writeDurably(join(W, `${projTag}.bin`), learned.projection);
  return new Float32Array(0);
}).then(async (v) => {
  const b = readFileSync(join(W, `${projTag}.bin`));
  const f = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  const main = 2 * D + D * dim;
  const C = (f.length - main) / (dim + 1);
  proj = {
    inputDim: D,
    outputDim: dim,
    mean: f.slice(0, D),
    scale: f.slice(D, 2 * D),
    weights: f.slice(2 * D, main),
    head: { weights: f.slice(main, main + dim * C), bias: f.slice(main + dim * C) },
  };
  if (v.length > 0) return v;
  const p = await project(mm, proj, index.vectors);
  await writeDurably(join(W, `${projTag}.f32`), new Uint8Array(p.buffer));
  return p;
});

// Label columns in head order (as learnSimilarity builds them: classes with >= 2 training rows).
const trainSeen = new Set<string>();
const trainSet = new Set(
  items
    .map((it, r) => (train(it.hash) && !trainSeen.has(it.hash) && trainSeen.add(it.hash) ? r : -1))
    .filter((r) => r >= 0),
);
const labelCols = tasks.map((t) => {
  const counts = new Map<string, number>();
  for (const r of trainSet) {
    const v = items[r]?.metadata[t.column];
    if (v) counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  const classes = [...counts.entries()]
    .filter(([, c]) => c >= 2)
    .map(([k]) => k)
    .sort();
  return { column: t.column, classes, at: new Map(classes.map((c, i) => [c, i])) };
});
const offsets: number[] = [];
let totalC = 0;
for (const l of labelCols) {
  offsets.push(totalC);
  totalC += l.classes.length;
}
/** Per label column, for query visual vectors (q x D): normalised class probabilities (q x C). */
async function labelProbs(Q: Float32Array): Promise<Float32Array[]> {
  const q = Q.length / D;
  const xs = new Float32Array(Q.length);
  for (let i = 0; i < Q.length; i++)
    xs[i] = ((Q[i] as number) - (proj.mean[i % D] as number)) / (proj.scale[i % D] as number);
  const Z = await mm.mul(matrix(q, D, xs), matrix(D, dim, proj.weights));
  const L = await mm.mul(Z, matrix(dim, totalC, (proj.head as { weights: Float32Array }).weights));
  const bias = (proj.head as { bias: Float32Array }).bias;
  return labelCols.map((l, li) => {
    const C = l.classes.length;
    const out = new Float32Array(q * C);
    for (let i = 0; i < q; i++) {
      let max = -Infinity;
      for (let j = 0; j < C; j++)
        max = Math.max(
          max,
          (L.data[i * totalC + offsets[li]! + j] as number) + (bias[offsets[li]! + j] as number),
        );
      let sum = 0;
      let sq = 0;
      for (let j = 0; j < C; j++) {
        const e = Math.exp(
          (L.data[i * totalC + offsets[li]! + j] as number) + (bias[offsets[li]! + j] as number) - max,
        );
        out[i * C + j] = e;
        sum += e;
      }
      for (let j = 0; j < C; j++) {
        out[i * C + j] = (out[i * C + j] as number) / sum;
        sq += (out[i * C + j] as number) ** 2;
      }
      for (let j = 0; j < C; j++) out[i * C + j] = (out[i * C + j] as number) / Math.sqrt(sq);
    }
    return out;
  });
}
/** S[q, r] = P_q(class of r) for one label column. */
function labelSims(P: Float32Array, li: number): Float32Array {
  const l = labelCols[li] as (typeof labelCols)[number];
  const C = l.classes.length;
  const q = P.length / C;
  const cls = new Int32Array(n).map((_, r) => l.at.get(items[r]?.metadata[l.column] ?? '') ?? -1);
  const out = new Float32Array(q * n);
  for (let i = 0; i < q; i++) {
    for (let r = 0; r < n; r++) {
      const c = cls[r] as number;
      out[i * n + r] = c >= 0 ? (P[i * C + c] as number) : 1 / Math.sqrt(C);
    }
  }
  return out;
}
function heldAccuracy(P: Float32Array[], rows: number[]) {
  return labelCols
    .map((l, li) => {
      const C = l.classes.length;
      let ok = 0;
      let cnt = 0;
      rows.forEach((r, i) => {
        const truth = l.at.get(items[r]?.metadata[l.column] ?? '');
        if (truth === undefined) return;
        let best = 0;
        for (let j = 1; j < C; j++)
          if ((P[li]![i * C + j] as number) > (P[li]![i * C + best] as number)) best = j;
        cnt++;
        if (best === truth) ok++;
      });
      return `${l.column} ${(ok / cnt).toFixed(3)}`;
    })
    .join(', ');
}
/** All label columns, each weighted by its task weight (as the production default). */
function allLabelSims(P: Float32Array[]): Float32Array {
  const total = tasks.reduce((sum, t) => sum + t.weight, 0);
  return fuse(
    labelCols.map((_, li) => [labelSims(P[li] as Float32Array, li), (tasks[li]?.weight ?? 0) / total]),
  );
}
const typeIdx = labelCols.findIndex((l) => l.column === kindColumn);
const colourIdx = labelCols.findIndex((l) => l.column === schema.colourColumn);
if (typeIdx < 0 || colourIdx < 0)
  throw new Error(`bench:tune learns from ${kindColumn} and the schema's colour column: put both in TASKS`);

/** Similarities of queries (q x d) to the whole catalogue (n x d). */
async function sims(q: Float32Array, cat: Float32Array, d: number): Promise<Float32Array> {
  const r = await mm.mul(matrix(q.length / d, d, q), matrix(cat.length / d, d, cat), false, true);
  return r.data;
}

function rowsOf(src: Float32Array, rows: number[], d: number): Float32Array {
  const out = new Float32Array(rows.length * d);
  rows.forEach((r, i) => {
    out.set(src.subarray(r * d, (r + 1) * d), i * d);
  });
  return out;
}

function topk(scores: Float32Array, qi: number, k: number, skip: (r: number) => boolean): number[] {
  const base = qi * n;
  const best: [number, number][] = [];
  for (let r = 0; r < n; r++) {
    const s = scores[base + r] as number;
    if (best.length === k && s <= (best[k - 1] as [number, number])[1]) continue;
    if (skip(r)) continue;
    let at = best.length;
    while (at > 0 && (best[at - 1] as [number, number])[1] < s) at--;
    best.splice(at, 0, [r, s]);
    if (best.length > k) best.pop();
  }
  return best.map((b) => b[0]);
}

function fuse(parts: [Float32Array, number][]): Float32Array {
  const out = new Float32Array((parts[0] as [Float32Array, number])[0].length);
  for (const [m, w] of parts) {
    if (w === 0) continue;
    for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) + w * (m[i] as number);
  }
  return out;
}

/**
 * Each part's similarity of queries to the whole catalogue, in the order of a weight tuple:
 * visual, learned projection, type label, colour label, colour descriptor, all labels.
 */
async function partSims(Qv: Float32Array, Qp: Float32Array, Qc: Float32Array) {
  const P = await labelProbs(Qv);
  const parts = [
    await sims(Qv, index.vectors, D),
    await sims(Qp, projected, dim),
    labelSims(P[typeIdx] as Float32Array, typeIdx),
    labelSims(P[colourIdx] as Float32Array, colourIdx),
    await sims(Qc, colours, COLOUR_DIM),
    allLabelSims(P),
  ];
  return { parts, P };
}

/** The fused similarity for a weight tuple (missing weights are 0). */
function fuseParts(parts: Float32Array[], weights: number[]): Float32Array {
  return fuse(parts.map((m, i) => [m, weights[i] ?? 0]));
}

// ---- leave-one-out on held-out products
const mode = process.env.MODE ?? 'loo';
if (mode === 'loo') {
  const sample = heldRows.filter((_, i) => i % 4 === 0).slice(0, 2000);
  const Qv = rowsOf(index.vectors, sample, D);
  const { parts, P } = await partSims(
    Qv,
    rowsOf(projected, sample, dim),
    rowsOf(colours, sample, COLOUR_DIM),
  );
  console.log(`held-out accuracy: ${heldAccuracy(P, sample)}`);
  console.error(`sims ${el()}s`);
  const grid = parseJson(
    'GRID',
    process.env.GRID ??
      '[[1,0,0,0,0],[0,1,0,0,0],[0.3,0.2,0.3,0.2,0],[0.3,0.2,0.3,0.1,0.1],[0.3,0.1,0.3,0.15,0.15],[0.4,0,0.3,0.15,0.15],[0.3,0,0.4,0.15,0.15],[0.3,0,0.3,0.2,0.2],[0.25,0,0.35,0.2,0.2],[0.3,0.2,0.2,0.15,0.15]]',
    weightLists,
  );
  for (const weights of grid) {
    const S = fuseParts(parts, weights);
    const p = new Map(labels.columns.map((l) => [l, 0]));
    const cnt = new Map(labels.columns.map((l) => [l, 0]));
    sample.forEach((q, qi) => {
      const h = items[q]?.hash;
      const res = topk(S, qi, 5, (r) => items[r]?.hash === h);
      for (const l of labels.columns) {
        const qv = items[q]?.metadata[l];
        if (!qv) continue;
        p.set(l, (p.get(l) ?? 0) + res.filter((r) => items[r]?.metadata[l] === qv).length / 5);
        cnt.set(l, (cnt.get(l) ?? 0) + 1);
      }
    });
    console.log(
      `visual/learned/type/colourLabel/colour/allLabels=${weights.join('/')}  ` +
        labels.columns.map((l) => `${l} ${((p.get(l) ?? 0) / (cnt.get(l) ?? 1)).toFixed(3)}`).join('  '),
    );
  }
}

// ---- query photos: fashion-224 recall and street-dev precision, per query preparation
async function embedPrepared(
  paths: string[],
  prep: QueryPrep,
  flip: boolean,
  tag: string,
): Promise<Float32Array> {
  return cached(`q-${tag}.f32`, async () => {
    const e = await Embedder.create({});
    const out = new Float32Array(paths.length * D);
    const B = 32;
    const start = performance.now();
    for (let i = 0; i < paths.length; i += B) {
      const bufs = await Promise.all(
        paths.slice(i, i + B).map(async (p) => prepareQuery(await readFile(p), prep)),
      );
      const vs = await e.embed(bufs.map((data) => ({ data })));
      if (flip) {
        const fl = await Promise.all(bufs.map((b) => sharp(b).flop().png().toBuffer()));
        const vf = await e.embed(fl.map((data) => ({ data })));
        vs.forEach((v, j) => {
          const f = vf[j] as Float32Array;
          for (let d = 0; d < D; d++) v[d] = (v[d] as number) + (f[d] as number);
        });
      }
      vs.forEach((v, j) => {
        out.set(v, (i + j) * D);
      });
    }
    normaliseRows(out, D);
    console.error(`embedded ${paths.length} (${tag}) in ${((performance.now() - start) / 1000).toFixed(1)}s`);
    await e.close();
    return out;
  });
}
async function queryColours(paths: string[], prep: QueryPrep, tag: string): Promise<Float32Array> {
  return cached(`qc-${tag}.f32`, async () => {
    const out = new Float32Array(paths.length * COLOUR_DIM);
    for (let i = 0; i < paths.length; i++) {
      const b = await prepareQuery(await readFile(paths[i] as string), prep);
      out.set(colourOf(await smallRgb(b)), i * COLOUR_DIM);
    }
    return out;
  });
}

const VARIANTS: Record<string, [QueryPrep, boolean]> = {
  plain: [{}, false],
  match: [{ match: { width: 60, height: 80 } }, false],
  crop: [{ crop: true }, false],
  cropmatch: [{ crop: true, match: { width: 60, height: 80 } }, false],
  whitematch: [{ whiten: true, match: { width: 60, height: 80 } }, false],
  cropwhitematch: [{ crop: true, whiten: true, match: { width: 60, height: 80 } }, false],
  matchflip: [{ match: { width: 60, height: 80 } }, true],
  cropmatchflip: [{ crop: true, match: { width: 60, height: 80 } }, true],
};
const variants = (process.env.VARIANTS ?? 'plain,match').split(',');
const fusions = parseJson(
  'FUSIONS',
  process.env.FUSIONS ?? '[[1,0,0,0,0],[0.3,0.2,0.3,0.1,0.1],[0.3,0,0.3,0.2,0.2],[0.4,0,0.3,0.15,0.15]]',
  weightLists,
);

if (mode === 'f224') {
  const rowById = new Map(items.map((it, r) => [it.id, r]));
  const qs = heldRows
    .map((r) => items[r]?.id as string)
    .filter((id) => existsSync(`../shared/datasets/fashion-224/images/${id}.jpg`))
    .slice(0, 1000);
  const paths = qs.map((id) => `../shared/datasets/fashion-224/images/${id}.jpg`);
  for (const v of variants) {
    const [prep, flip] = VARIANTS[v] as [QueryPrep, boolean];
    const Q = await embedPrepared(paths, prep, flip, `f224-${v}${validation ? '-val' : ''}`);
    const QC = await queryColours(paths, prep, `f224-${v}${validation ? '-val' : ''}`);
    const { parts } = await partSims(Q, await project(mm, proj, Q), QC);
    for (const weights of fusions) {
      const S = fuseParts(parts, weights);
      let r1 = 0;
      let at = 0;
      qs.forEach((id, qi) => {
        const target = items[rowById.get(id) as number]?.hash;
        const res = topk(S, qi, 5, () => false);
        if (items[res[0] as number]?.hash === target) r1++;
        const qa = items[rowById.get(id) as number]?.metadata[kindColumn];
        at += res.filter((r) => items[r]?.metadata[kindColumn] === qa).length / 5;
      });
      console.log(
        `f224 ${v} ${JSON.stringify(weights)} recall@1 ${(r1 / qs.length).toFixed(3)} ${kindColumn} ${(at / qs.length).toFixed(3)}`,
      );
    }
  }
}

if (mode === 'street') {
  const dir = '../shared/datasets/street-dev';
  const map = await readJsonFile(
    `${dir}/label-to-articletypes.json`,
    z.record(z.string(), z.array(z.string())),
  );
  const rows = (await readFile(`${dir}/labels.csv`, 'utf8'))
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(','));
  const used = rows.filter(([, label]) => map[label as string]);
  const paths = used.map(([img]) => `${dir}/images/${img}.jpg`);
  const tune = used.map(([img]) => streetPart(img as string) === 'tune');
  for (const v of variants) {
    const [prep, flip] = VARIANTS[v] as [QueryPrep, boolean];
    const Q = await embedPrepared(paths, prep, flip, `street-${v}`);
    if (process.env.SHIFT) {
      // Mean shift: the tune part's mean street feature moved onto the catalogue's mean feature.
      const muS = new Float64Array(D);
      let nt = 0;
      tune.forEach((isTune, qi) => {
        if (!isTune) return;
        nt++;
        for (let d = 0; d < D; d++) muS[d] = (muS[d] as number) + (Q[qi * D + d] as number);
      });
      const muC = new Float64Array(D);
      for (let r = 0; r < n; r++)
        for (let d = 0; d < D; d++) muC[d] = (muC[d] as number) + (index.vectors[r * D + d] as number);
      const alpha = Number(process.env.SHIFT);
      for (let qi = 0; qi < Q.length / D; qi++) {
        for (let d = 0; d < D; d++)
          Q[qi * D + d] = Math.max(
            0,
            (Q[qi * D + d] as number) - alpha * ((muS[d] as number) / nt - (muC[d] as number) / n),
          );
      }
      normaliseRows(Q, D);
    }
    const QC = await queryColours(paths, prep, `street-${v}`);
    const { parts } = await partSims(Q, await project(mm, proj, Q), QC);
    const Sr = parts[0] as Float32Array;
    // Neighbour vote: each query's kind distribution among its top VOTE visual neighbours.
    const voteK = Number(process.env.VOTE ?? 50);
    const Sv = new Float32Array(Sr.length);
    {
      const tl = labelCols[typeIdx] as (typeof labelCols)[number];
      const C = tl.classes.length;
      const cls = new Int32Array(n).map((_, r) => tl.at.get(items[r]?.metadata[tl.column] ?? '') ?? -1);
      const nq = Sr.length / n;
      for (let qi = 0; qi < nq; qi++) {
        const top = topk(Sr, qi, voteK, () => false);
        const dist = new Float64Array(C);
        for (const r of top)
          if ((cls[r] as number) >= 0) dist[cls[r] as number] = (dist[cls[r] as number] as number) + 1;
        let norm = 0;
        for (const v of dist) norm += v * v;
        norm = Math.sqrt(norm) || 1;
        for (let r = 0; r < n; r++) {
          const c = cls[r] as number;
          Sv[qi * n + r] = c >= 0 ? (dist[c] as number) / norm : 0;
        }
      }
    }
    for (const weights of fusions) {
      // A 7th weight scores the neighbour vote.
      const S = fuseParts([...parts, Sv], weights);
      const acc = [0, 0, 0, 0, 0, 0];
      const quotas = parseJson('QUOTAS', process.env.QUOTAS ?? '[]', z.array(z.number()));
      const diversify = (qi: number): number[] => {
        const cand = topk(S, qi, 100, () => false);
        if (quotas.length === 0) return cand.slice(0, 5);
        const votes = new Map<string, number>();
        for (const r of cand.slice(0, voteK)) {
          const t = items[r]?.metadata[kindColumn] ?? '';
          votes.set(t, (votes.get(t) ?? 0) + 1);
        }
        const kinds = [...votes.entries()].sort((x, y) => y[1] - x[1]).map(([t]) => t);
        const out: number[] = [];
        quotas.forEach((q, i) => {
          const kind = kinds[i];
          if (kind === undefined) return;
          out.push(
            ...cand.filter((r) => items[r]?.metadata[kindColumn] === kind && !out.includes(r)).slice(0, q),
          );
        });
        for (const r of cand) if (out.length < 5 && !out.includes(r)) out.push(r);
        return out.slice(0, 5);
      };
      used.forEach(([, label], qi) => {
        const ok = new Set(map[label as string]);
        const res = diversify(qi);
        const hits = res.filter((r) => ok.has(items[r]?.metadata[kindColumn] ?? '')).length;
        const part = tune[qi] ? 0 : 3;
        acc[part]! += hits / 5;
        acc[part + 1]! += hits > 0 ? 1 : 0;
        acc[part + 2]! += 1;
      });
      console.log(
        `street ${v} ${JSON.stringify(weights)} tune P@5 ${(acc[0]! / acc[2]!).toFixed(3)} hit@5 ${(acc[1]! / acc[2]!).toFixed(3)} | report P@5 ${(acc[3]! / acc[5]!).toFixed(3)} hit@5 ${(acc[4]! / acc[5]!).toFixed(3)}`,
      );
    }
  }
}
await mm.close();
console.error(`total ${el()}s`);
