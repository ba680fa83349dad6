/** Recommender results as API JSON: only public fields (never a server path). */
import type { Recommendation, RecommendResult } from '../../recommend/recommender.js';
import type { ApiProduct, ApiRecommendation, ApiResults } from './contract.js';

export const imageUrl = (id: string): string => `/images/${encodeURIComponent(id)}`;

export function productJson(r: Recommendation): ApiProduct {
  const m = r.metadata;
  return {
    id: r.id,
    name: r.name,
    gender: r.gender,
    masterCategory: r.masterCategory,
    subCategory: r.subCategory,
    articleType: r.articleType,
    baseColour: r.baseColour,
    season: m.season,
    year: m.year,
    usage: m.usage,
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
      recognisedAs: result.query.recognisedAs,
      excluded: result.query.excluded,
      ...(result.query.predicted ? { predicted: result.query.predicted } : {}),
    },
    results: result.results.map(recommendationJson),
  };
}
