/**
 * Facet counts on a built index: how long GET /api/facets takes to count every facet's values
 * under filters (disjunctive counts: each facet under the other facets' filters), and which facet
 * groups the kind facet.
 *
 *   npm run bench:facets [-- --index .cache/index --rounds 50]
 */
import { parseArgs } from 'node:util';
import { defaultIndexDir } from '../src/config.js';
import { facetCountsJson, kindGrouping } from '../src/interfaces/http/api/present.js';
import { Recommender } from '../src/recommend/recommender.js';
import { describeMachine } from './support/machine.js';

const { values } = parseArgs({
  options: {
    index: { type: 'string', default: defaultIndexDir },
    rounds: { type: 'string', default: '50' },
  },
});

const r = await Recommender.open(values.index);
try {
  const facets = r.schema.facets;
  const rounds = Number(values.rounds);
  let started = performance.now();
  const grouping = kindGrouping(r);
  const groupingMs = performance.now() - started;
  started = performance.now();
  facetCountsJson(r, {});
  const firstMs = performance.now() - started;
  // Filters on every facet: its two most frequent values.
  const where = Object.fromEntries(
    facets.map((column) => [
      column,
      r.filters
        .values(column)
        .slice(0, 2)
        .map((v) => v.value),
    ]),
  );
  const time = (filters: Record<string, string[]>) => {
    const t = performance.now();
    for (let i = 0; i < rounds; i++) facetCountsJson(r, filters);
    return (performance.now() - t) / rounds;
  };
  const none = time({});
  const one = time({ [facets[0] as string]: where[facets[0] as string] as string[] });
  const all = time(where);
  console.log(
    `facet counts on ${values.index}: ${r.items.length} products, ${facets.length} facets (${describeMachine()})`,
  );
  console.log(`kind grouped by: ${grouping?.column ?? '(none)'} (detected in ${groupingMs.toFixed(1)} ms)`);
  console.log(`first answer (grouping and values, then cached): ${firstMs.toFixed(1)} ms`);
  console.log(`| filters | ms per answer (mean of ${rounds}) |\n|---|---|`);
  console.log(`| none | ${none.toFixed(2)} |`);
  console.log(`| one facet, 2 values | ${one.toFixed(2)} |`);
  console.log(`| every facet, 2 values each | ${all.toFixed(2)} |`);
} finally {
  await r.close();
}
