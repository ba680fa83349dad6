/**
 * A fixed evaluation subset of a catalogue: a seeded sample stratified by a label (the schema's
 * kind column), with proportional allocation. Every stratum with at least one photo keeps at least one, and the
 * rounding never falls short, so the sample holds at least the size asked for (all photos when the
 * catalogue is smaller). The same catalogue and seed always give the same ids.
 */
import { readCatalogue } from '../catalogue/catalogue.js';
import { judgedLabels } from './metrics.js';
import { compareIds, deriveSeed, seededRandom, shuffled } from './random.js';

/** The stratum of products that have no value for the label. */
export const NO_LABEL = '(none)';

export interface Stratum {
  name: string;
  available: number;
  chosen: number;
}

export interface StratifiedSample {
  ids: string[];
  strata: Stratum[];
}

export interface CatalogueSample extends StratifiedSample {
  /** The metadata column stratified by; null: none (a plain seeded sample). */
  label: string | null;
}

/** How many of each stratum to take: largest-remainder proportional allocation, at least one each. */
export function allocate(sizes: ReadonlyMap<string, number>, size: number): Map<string, number> {
  const total = [...sizes.values()].reduce((a, b) => a + b, 0);
  const target = Math.min(size, total);
  const names = [...sizes.keys()].sort();
  const out = new Map<string, number>();
  const remainders: { name: string; fraction: number }[] = [];
  let given = 0;
  for (const name of names) {
    const exact = total === 0 ? 0 : ((sizes.get(name) as number) * target) / total;
    const base = Math.floor(exact);
    out.set(name, base);
    given += base;
    remainders.push({ name, fraction: exact - base });
  }
  remainders.sort((a, b) => b.fraction - a.fraction || a.name.localeCompare(b.name));
  for (const { name, fraction } of remainders) {
    if (given >= target || fraction <= 0) break;
    out.set(name, (out.get(name) as number) + 1);
    given += 1;
  }
  for (const name of names) {
    const available = sizes.get(name) as number;
    out.set(name, Math.min(available, Math.max(1, out.get(name) as number)));
  }
  return out;
}

/** A stratified sample of `size` (or a few more) of the items. */
export function stratifiedSample(
  items: readonly { id: string; stratum: string | undefined }[],
  size: number,
  seed: number,
): StratifiedSample {
  const byStratum = new Map<string, string[]>();
  for (const { id, stratum } of items) {
    const name = stratum || NO_LABEL;
    const ids = byStratum.get(name);
    if (ids) ids.push(id);
    else byStratum.set(name, [id]);
  }
  const allocation = allocate(new Map([...byStratum].map(([name, ids]) => [name, ids.length])), size);
  const chosen: string[] = [];
  const strata: Stratum[] = [];
  for (const [name, count] of allocation) {
    const ids = (byStratum.get(name) as string[]).sort(compareIds);
    chosen.push(...shuffled(ids, seededRandom(deriveSeed(seed, name))).slice(0, count));
    strata.push({ name, available: ids.length, chosen: count });
  }
  strata.sort((a, b) => b.available - a.available || a.name.localeCompare(b.name));
  return { ids: chosen.sort(compareIds), strata };
}

export interface CatalogueSubsetOptions {
  imagesDir: string;
  metadataPath: string;
  size: number;
  seed: number;
  /** The metadata column to stratify by (default: the kind column of the catalogue's schema, else its first facet). */
  label?: string;
}

/**
 * A stratified sample of the products of a catalogue (read under its schema, as indexing reads it:
 * products without a photo are never chosen). Without a column to stratify by, a plain seeded sample.
 */
export async function catalogueSubset(options: CatalogueSubsetOptions): Promise<CatalogueSample> {
  const catalogue = await readCatalogue({ imagesDir: options.imagesDir, metadataPath: options.metadataPath });
  if (catalogue.products.length === 0) throw new Error(`no photos in ${options.imagesDir}`);
  const label = options.label ?? judgedLabels(catalogue.schema).kind;
  const sample = stratifiedSample(
    catalogue.products.map((p) => ({ id: p.id, stratum: label === null ? undefined : p.metadata[label] })),
    options.size,
    options.seed,
  );
  return { ...sample, label };
}
