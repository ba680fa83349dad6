/** Recommender results and the catalogue's facets as API JSON: only public fields (never a server path). */
import type { Garment } from '../../../images/garments.js';
import { matchOf } from '../../../recommend/match-strength.js';
import type { Recommendation, Recommender, RecommendResult } from '../../../recommend/recommender.js';
import type { SimilarityKind } from '../../../similarity/model.js';
import type {
  ApiFacets,
  ApiGarment,
  ApiPage,
  ApiProduct,
  ApiRecommendation,
  ApiResults,
} from './contract.js';
import type { FilterParameter } from './schemas.js';

export const imageUrl = (id: string): string => `/images/${encodeURIComponent(id)}`;

export function productJson(r: Recommendation): ApiProduct {
  return {
    id: r.id,
    ...(r.name ? { name: r.name } : {}),
    metadata: { ...r.metadata },
    imageUrl: imageUrl(r.id),
    alsoListedAs: r.alsoListedAs,
  };
}

export function recommendationJson(
  r: Recommendation,
  similarity: SimilarityKind,
  shopperPhoto = false,
): ApiRecommendation {
  return {
    ...productJson(r),
    score: Number(r.score.toFixed(6)),
    reasons: r.reasons,
    match: matchOf(r.score, similarity, shopperPhoto),
  };
}

/** A found item as API JSON: its box rounded to 4 decimals. */
export function garmentJson(g: Garment): ApiGarment {
  const round = (x: number) => Number(x.toFixed(4));
  return {
    box: {
      left: round(g.box.left),
      top: round(g.box.top),
      width: round(g.box.width),
      height: round(g.box.height),
    },
    score: round(g.score),
    ...(g.kind ? { kind: g.kind } : {}),
  };
}

export interface ResultsContext {
  /** The similarity searched with: the scale of the scores, for their match strength. */
  similarity: SimilarityKind;
  /** The query is a shopper's own photo (its scores have thresholds of their own). */
  shopperPhoto?: boolean;
  page?: ApiPage;
  /** The stored query's id (uploaded photos). */
  queryId?: string;
  /** Separate items found in the photo, when more than one. */
  garments?: readonly Garment[];
}

export function resultsJson(result: RecommendResult, context: ResultsContext): ApiResults {
  return {
    query: {
      ...(result.query.recognisedAs ? { recognisedAs: result.query.recognisedAs } : {}),
      excluded: result.query.excluded,
      ...(result.query.predicted ? { predicted: result.query.predicted } : {}),
      ...(context.garments && context.garments.length > 1
        ? { garments: context.garments.map(garmentJson) }
        : {}),
    },
    results: result.results.map((r) => recommendationJson(r, context.similarity, context.shopperPhoto)),
    ...(context.queryId ? { queryId: context.queryId } : {}),
    ...(context.page ? { page: context.page } : {}),
  };
}

/**
 * The catalogue's facets, in its schema's order, with their values: as the filters match them
 * (case-insensitively, shown as the catalogue first spells them), most frequent first, then
 * alphabetically. Empty values are no value.
 */
export function facetsJson(recommender: Pick<Recommender, 'schema' | 'filters'>): ApiFacets {
  const { schema, filters } = recommender;
  return {
    facets: schema.facets.map((column) => ({
      column,
      values: filters
        .values(column)
        .filter((v) => v.value.trim() !== '')
        .sort((a, b) => b.count - a.count || a.value.localeCompare(b.value)),
    })),
    ...(schema.titleColumn ? { title: schema.titleColumn } : {}),
    ...(schema.kindColumn ? { kind: schema.kindColumn } : {}),
    ...(schema.colourColumn ? { colour: schema.colourColumn } : {}),
  };
}

/** Share of products that must agree with their kind's group for a facet to group the kinds (catalogues have a few odd rows). */
export const GROUPING_AGREEMENT = 0.99;

/**
 * The facet that groups the kind facet's values, detected from the catalogue: of the other facets
 * that give (nearly) every kind value a single value of theirs, the one with the fewest values,
 * more than one; and each kind value's group.
 */
export function kindGrouping(
  recommender: Pick<Recommender, 'schema' | 'filters'>,
): { column: string; groups: Map<string, string> } | undefined {
  const { schema, filters } = recommender;
  const kind = schema.kindColumn;
  if (!kind) return undefined;
  const kinds = filters.values(kind).filter((v) => v.value.trim() !== '').length;
  let best: { column: string; groups: Map<string, string>; size: number } | undefined;
  for (const column of schema.facets) {
    if (column === kind) continue;
    const size = filters.values(column).filter((v) => v.value.trim() !== '').length;
    // A grouping has fewer groups than kinds, and more than one.
    if (size < 2 || size >= kinds || (best && size >= best.size)) continue;
    const grouping = filters.groupsOf(kind, column);
    if (!grouping || grouping.agreement < GROUPING_AGREEMENT) continue;
    const used = new Set([...grouping.groups.values()].map((g) => g.toLowerCase()));
    if (used.size < 2) continue;
    best = { column, groups: grouping.groups, size };
  }
  return best && { column: best.column, groups: best.groups };
}

const facetCache = new WeakMap<
  object,
  { version: number; facets: ApiFacets; grouping: ReturnType<typeof kindGrouping> }
>();

/**
 * GET /api/facets: the facets with, per value, how many products the given filters on the other
 * columns would keep with it (disjunctive counts: 0 is a dead end), and the kind facet's values
 * in groups. Worked out once per filter index and change, counted per request.
 */
export function facetCountsJson(
  recommender: Pick<Recommender, 'schema' | 'filters'>,
  where: Record<string, string[]>,
): ApiFacets {
  const { filters } = recommender;
  let cached = facetCache.get(filters);
  // (Products put or deleted through the API change the filter index in place.)
  if (!cached || cached.version !== filters.version) {
    cached = {
      version: filters.version,
      facets: facetsJson(recommender),
      grouping: kindGrouping(recommender),
    };
    facetCache.set(filters, cached);
  }
  const { facets, grouping } = cached;
  const counts = filters.counts(
    where,
    facets.facets.map((f) => f.column),
  );
  return {
    ...facets,
    facets: facets.facets.map((facet) => {
      const byKey = counts.get(facet.column);
      const out: ApiFacets['facets'][number] = {
        ...facet,
        counts: facet.values.map(({ value }) => ({ value, count: byKey?.get(value.toLowerCase()) ?? 0 })),
      };
      if (grouping && facet.column === facets.kind) {
        // Groups with the most products first; in each, its values most frequent first.
        const groups = new Map<string, { values: string[]; products: number }>();
        for (const { value, count } of facet.values) {
          const group = grouping.groups.get(value.toLowerCase());
          if (group === undefined) continue;
          const entry = groups.get(group) ?? { values: [], products: 0 };
          entry.values.push(value);
          entry.products += count;
          groups.set(group, entry);
        }
        out.groups = [...groups]
          .sort(([a, x], [b, y]) => y.products - x.products || a.localeCompare(b))
          .map(([group, { values }]) => ({ group, values }));
      }
      return out;
    }),
    ...(grouping ? { groupedBy: grouping.column } : {}),
  };
}

/** The filters searches accept, with their most frequent values as examples for the documentation. */
export function filterParameters(facets: ApiFacets): FilterParameter[] {
  return facets.facets.map(({ column, values }) => ({
    column,
    examples: values.slice(0, 4).map((v) => v.value),
  }));
}
