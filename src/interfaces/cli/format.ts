/** Human-readable and JSON renderings of recommendation results. */
import type { Recommendation, RecommendResult } from '../../recommend/recommender.js';

function cell(value: string | undefined, width: number): string {
  const v = value ?? '';
  return (v.length > width ? `${v.slice(0, width - 1)}…` : v).padEnd(width);
}

export function resultsAsText(title: string, result: RecommendResult): string {
  const lines = [title];
  if (result.query.recognisedAs) {
    lines.push(
      `(the query is catalogue product ${result.query.excluded.join(', ')}: left out of the results)`,
    );
  }
  const p = result.query.predicted?.[0];
  if (p && p.probability >= 0.5)
    lines.push(`(the photo looks like ${p.column} ${p.value}, ${Math.round(p.probability * 100)}% sure)`);
  if (result.results.length === 0) lines.push('No matching products.');
  else {
    lines.push(
      `  #  score  ${cell('id', 8)} ${cell('name', 42)} ${cell('articleType', 16)} ${cell('baseColour', 12)} image`,
    );
    result.results.forEach((r, i) => {
      lines.push(
        `${String(i + 1).padStart(3)}  ${r.score.toFixed(3)}  ${cell(r.id, 8)} ${cell(r.name, 42)} ${cell(r.articleType, 16)} ${cell(r.baseColour, 12)} ${r.imagePath}${r.reasons.length > 0 ? `  (${r.reasons.join(', ')})` : ''}`,
      );
    });
  }
  return `${lines.join('\n')}\n`;
}

export function recommendationJson(r: Recommendation) {
  return {
    id: r.id,
    score: Number(r.score.toFixed(6)),
    name: r.name,
    gender: r.gender,
    masterCategory: r.masterCategory,
    subCategory: r.subCategory,
    articleType: r.articleType,
    baseColour: r.baseColour,
    image: r.imagePath,
    alsoListedAs: r.alsoListedAs,
    reasons: r.reasons,
  };
}

export function resultsAsJson(result: RecommendResult): string {
  return `${JSON.stringify({ query: result.query, results: result.results.map(recommendationJson) })}\n`;
}
