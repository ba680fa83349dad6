/**
 * Shoppers' own photos (a garment on a bed, a hanger, a floor) as queries: is the right kind of
 * product recommended? A street folder holds `images/`, `labels.csv` (image,label) and a label
 * map, `label-to-kinds.json` or `label-to-articletypes.json` (label → the values of the catalogue's
 * kind column that count as that kind; another column with `column`). For each
 * photo with a mapped label: the share of its 5 results of a right kind (P@5), and whether any is
 * (hit@5). The photos are split in two halves by file name: one to tune on, one to report.
 */
import { resolve } from 'node:path';
import pLimit from 'p-limit';
import type { EmbedderOptions } from '../embeddings/embedder.js';
import { isImageError } from '../images/errors.js';
import { readShopperPhotos, ShopperPhotosError } from '../similarity/shopper-photos.js';
import type { StreetPart } from '../similarity/split.js';
import type { EvalIndex, Neighbour } from './eval-index.js';
import { K, Mean } from './metrics.js';
import type { StreetMetrics } from './summary.js';

export class StreetError extends Error {}

export interface StreetCase {
  image: string;
  path: string;
  label: string;
  part: StreetPart;
  results: Neighbour[];
  /** Results of a right kind. */
  hits: number;
}

export interface StreetEvaluation {
  dir: string;
  /** The metadata column the label map's values are compared with. */
  column: string;
  labelled: number;
  mapped: number;
  failed: { image: string; reason: string }[];
  parts: Record<StreetPart | 'all', StreetMetrics>;
  /** The catalogue values that count as each label's kind. */
  rightKinds: Map<string, Set<string>>;
  /** Per label, over both parts. */
  perLabel: ({ label: string } & StreetMetrics)[];
  cases: StreetCase[];
  seconds: number;
}

export interface StreetOptions {
  /** The metadata column the label map's values are compared with (default: the kind column). */
  column?: string;
  embedder?: Pick<EmbedderOptions, 'device' | 'batchSize' | 'threads'>;
  onProgress?: (done: number, total: number) => void;
}

function metrics(cases: StreetCase[]): StreetMetrics {
  const p = new Mean();
  const h = new Mean();
  for (const c of cases) {
    p.add(c.hits / K);
    h.add(c.hits > 0 ? 1 : 0);
  }
  return { photos: cases.length, precision: p.result, hitRate: h.result };
}

export async function evaluateStreet(
  index: EvalIndex,
  dirArg: string,
  options: StreetOptions = {},
): Promise<StreetEvaluation> {
  const started = performance.now();
  const dir = resolve(dirArg);
  const column = options.column ?? index.labels.kind;
  if (column === null) {
    throw new StreetError(
      "the catalogue's schema has no kind column (nor any facet) to judge street photos' results by",
    );
  }
  const folder = await readShopperPhotos(dir).catch((err: unknown) => {
    throw err instanceof ShopperPhotosError ? new StreetError(err.message) : err;
  });
  const { map, photos } = folder;
  // Resolved and searched as an upload is: the same ranking the page and the API give.
  const resolved = await index.recommender.resolvePhotos(
    photos.map((p) => p.path),
    options.embedder,
    options.onProgress,
  );
  const rowOf = new Map(index.items.map((item, row) => [item.id, row]));
  const failed: StreetEvaluation['failed'] = [];
  const cases: StreetCase[] = [];
  const limit = pLimit(16);
  const found = await Promise.all(
    resolved.map((r) => (isImageError(r) ? undefined : limit(() => index.recommender.search(r, { k: K })))),
  );
  found.forEach((result, i) => {
    const photo = photos[i] as (typeof photos)[number];
    const r = resolved[i];
    if (isImageError(r)) failed.push({ image: photo.image, reason: r.reason });
    if (!result) return;
    const results: Neighbour[] = result.results.map((x) => ({
      row: rowOf.get(x.id) as number,
      score: x.score,
    }));
    const right = new Set(map[photo.label]);
    const hits = results.filter((n) => right.has(index.item(n.row).metadata[column] ?? '')).length;
    cases.push({ image: photo.image, path: photo.path, label: photo.label, part: photo.part, results, hits });
  });
  const labels = [...new Set(cases.map((c) => c.label))].sort();
  return {
    dir,
    column,
    labelled: folder.labelled,
    mapped: folder.mapped,
    failed,
    parts: {
      tune: metrics(cases.filter((c) => c.part === 'tune')),
      report: metrics(cases.filter((c) => c.part === 'report')),
      all: metrics(cases),
    },
    rightKinds: new Map(labels.map((label) => [label, new Set(map[label])])),
    perLabel: labels.map((label) => ({ label, ...metrics(cases.filter((c) => c.label === label)) })),
    cases,
    seconds: (performance.now() - started) / 1000,
  };
}
