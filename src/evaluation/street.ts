/**
 * Shoppers' own photos (a garment on a bed, a hanger, a floor) as queries: is the right kind of
 * product recommended? A street folder holds `images/`, `labels.csv` (image,label) and a label
 * map, `label-to-kinds.json` or `label-to-articletypes.json` (label → the values of the catalogue's
 * kind column that count as that kind; another column with `column`). For each
 * photo with a mapped label: the share of its 5 results of a right kind (P@5), and whether any is
 * (hit@5). The photos are split in two halves by file name: one to tune on, one to report.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import { z } from 'zod';
import type { EmbedderOptions } from '../embeddings/embedder.js';
import { isImageError } from '../images/errors.js';
import { readJsonFile } from '../io/json-file.js';
import { type StreetPart, streetPart } from '../similarity/split.js';
import { type EvalIndex, type Neighbour, NO_GROUP } from './eval-index.js';
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

const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp'];
/** The label map's names, the generic one first. */
const MAP_FILES = ['label-to-kinds.json', 'label-to-articletypes.json'];
const labelMapZ = z.record(z.string(), z.array(z.string()));

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
  const labelsPath = join(dir, 'labels.csv');
  const mapPath = MAP_FILES.map((f) => join(dir, f)).find((p) => existsSync(p));
  if (!existsSync(labelsPath) || !mapPath) {
    throw new StreetError(`${dir} needs labels.csv (image,label) and ${MAP_FILES.join(' or ')}`);
  }
  const rows = parse(await readFile(labelsPath, 'utf8'), { columns: true, skip_empty_lines: true }) as Record<
    string,
    string
  >[];
  const map = await readJsonFile(mapPath, labelMapZ);
  const mapped = rows.filter((r) => r.image && r.label && map[r.label] !== undefined);
  const photos = mapped.flatMap((r) => {
    const base = join(dir, 'images', r.image as string);
    const path = [base, ...IMAGE_EXTENSIONS.map((e) => `${base}${e}`)].find((p) => existsSync(p));
    return path ? [{ image: r.image as string, label: r.label as string, path }] : [];
  });
  if (photos.length === 0)
    throw new StreetError(`no photos with a mapped label under ${join(dir, 'images')}`);

  const vectors = await index.recommender.queryVectors(
    photos.map((p) => p.path),
    options.embedder,
    options.onProgress,
  );
  const failed: StreetEvaluation['failed'] = [];
  const cases: StreetCase[] = [];
  const good: { photo: (typeof photos)[number]; vector: Float32Array }[] = [];
  vectors.forEach((v, i) => {
    const photo = photos[i] as (typeof photos)[number];
    if (isImageError(v)) failed.push({ image: photo.image, reason: v.reason });
    else good.push({ photo, vector: v });
  });
  const queries = new Float32Array(good.length * index.dim);
  good.forEach((g, i) => {
    queries.set(g.vector, i * index.dim);
  });
  const found = await index.knn.search(queries, K + index.maxGroup + 16);
  for (const [i, { photo, vector }] of good.entries()) {
    const top = index.collapse(found, i, K, NO_GROUP);
    const results = top.complete ? top.neighbours : await index.nearest(vector, K, NO_GROUP);
    const right = new Set(map[photo.label]);
    const hits = results.filter((n) => right.has(index.item(n.row).metadata[column] ?? '')).length;
    const part = streetPart(photo.image);
    cases.push({ image: photo.image, path: photo.path, label: photo.label, part, results, hits });
  }
  const labels = [...new Set(cases.map((c) => c.label))].sort();
  return {
    dir,
    column,
    labelled: rows.length,
    mapped: mapped.length,
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
