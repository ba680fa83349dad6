/** Recommender results and the catalogue's facets as API JSON: only public fields (never a server path). */
import type { Recommendation, Recommender, RecommendResult } from '../../../recommend/recommender.js';
import type { ApiFacets, ApiProduct, ApiRecommendation, ApiResults } from './contract.js';
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

export function recommendationJson(r: Recommendation): ApiRecommendation {
  return { ...productJson(r), score: Number(r.score.toFixed(6)), reasons: r.reasons };
}

export function resultsJson(result: RecommendResult): ApiResults {
  return {
    query: {
      ...(result.query.recognisedAs ? { recognisedAs: result.query.recognisedAs } : {}),
      excluded: result.query.excluded,
      ...(result.query.predicted ? { predicted: result.query.predicted } : {}),
    },
    results: result.results.map(recommendationJson),
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

/** The filters searches accept, with their most frequent values as examples for the documentation. */
export function filterParameters(facets: ApiFacets): FilterParameter[] {
  return facets.facets.map(({ column, values }) => ({
    column,
    examples: values.slice(0, 4).map((v) => v.value),
  }));
}
