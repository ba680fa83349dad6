/** Human-readable and JSON renderings of recommendation results, with the catalogue's title and facets. */
import { type CatalogueSchema, facetValues } from '../../catalogue/schema.js';
import type { Recommendation, RecommendResult } from '../../recommend/recommender.js';

function cell(value: string | undefined, width: number): string {
  const v = value ?? '';
  return (v.length > width ? `${v.slice(0, width - 1)}…` : v).padEnd(width);
}

interface Column {
  header: string;
  width: number;
  value: (r: Recommendation) => string | undefined;
}

/** As wide as its header and values, within bounds. */
function column(
  header: string,
  value: Column['value'],
  results: readonly Recommendation[],
  max: number,
): Column {
  const widest = Math.max(header.length, ...results.map((r) => value(r)?.length ?? 0));
  return { header, value, width: Math.min(widest, max) };
}

/** The table's columns: id, the title (where the catalogue has one), then the facets in the schema's order. */
function columns(schema: CatalogueSchema, results: readonly Recommendation[]): Column[] {
  return [
    column('id', (r) => r.id, results, 12),
    ...(schema.titleColumn ? [column('name', (r) => r.name, results, 42)] : []),
    ...schema.facets.map((facet) => column(facet, (r) => r.metadata[facet], results, 18)),
  ];
}

export function resultsAsText(title: string, result: RecommendResult, schema: CatalogueSchema): string {
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
    const cols = columns(schema, result.results);
    lines.push(`  #  score  ${cols.map((c) => cell(c.header, c.width)).join(' ')} image`);
    result.results.forEach((r, i) => {
      const cells = cols.map((c) => cell(c.value(r), c.width)).join(' ');
      const why = r.reasons.length > 0 ? `  (${r.reasons.join(', ')})` : '';
      lines.push(`${String(i + 1).padStart(3)}  ${r.score.toFixed(3)}  ${cells} ${r.imagePath}${why}`);
    });
  }
  return `${lines.join('\n')}\n`;
}

/**
 * A result as JSON: its title as `name`, its facet values (those it has) by column in the schema's
 * order, and all its metadata (as the HTTP API gives it).
 */
export function recommendationJson(r: Recommendation, schema: CatalogueSchema) {
  return {
    id: r.id,
    score: Number(r.score.toFixed(6)),
    name: r.name,
    facets: facetValues(schema, r.metadata),
    metadata: r.metadata,
    image: r.imagePath,
    alsoListedAs: r.alsoListedAs,
    reasons: r.reasons,
  };
}

export function resultsAsJson(result: RecommendResult, schema: CatalogueSchema): string {
  const results = result.results.map((r) => recommendationJson(r, schema));
  return `${JSON.stringify({ query: result.query, results })}\n`;
}
