/**
 * The results grid: one card per product, best first: its photo, title, facet values (what kind
 * of product first) and colour swatch, why it matched, its similarity, and "More like this".
 */
import type { ApiProduct, ApiRecommendation } from '../http/api/contract.js';
import { type CatalogueView, columnLabel } from './catalogue.js';
import { swatchColour } from './colours.js';
import { h } from './dom.js';

/** Similarity as a whole percentage (scores are cosine similarities of non-negative features). */
export function percent(score: number): number {
  return Math.round(Math.max(0, Math.min(1, score)) * 100);
}

/**
 * The product's facet values but its colour: the kind first, then the others in the catalogue's
 * order, each value once.
 */
export function facetEntries(p: ApiProduct, catalogue: CatalogueView): [column: string, value: string][] {
  const order = catalogue.kind
    ? [catalogue.kind, ...catalogue.facets.filter((f) => f !== catalogue.kind)]
    : catalogue.facets;
  const seen = new Set<string>();
  const entries: [string, string][] = [];
  for (const column of order) {
    const value = p.metadata[column]?.trim();
    if (column === catalogue.colour || !value || seen.has(value.toLowerCase())) continue;
    seen.add(value.toLowerCase());
    entries.push([column, value]);
  }
  return entries;
}

function facetLine(p: ApiProduct, catalogue: CatalogueView): HTMLElement | undefined {
  const entries = facetEntries(p, catalogue);
  if (entries.length === 0) return undefined;
  const text = entries.map(([, value]) => value).join(' · ');
  const detail = entries.map(([column, value]) => `${columnLabel(column)}: ${value}`).join('\n');
  return h('p', { class: 'card-category', text, attrs: { title: detail } });
}

function colourLine(p: ApiProduct, catalogue: CatalogueView): HTMLElement | undefined {
  const name = catalogue.colour ? p.metadata[catalogue.colour]?.trim() : undefined;
  if (!name) return undefined;
  const swatch = h('span', { class: 'swatch', attrs: { 'aria-hidden': 'true' } });
  const colour = swatchColour(name);
  if (colour === 'multi') swatch.classList.add('swatch-multi');
  else if (colour) swatch.style.setProperty('--swatch', colour);
  else swatch.classList.add('swatch-unknown');
  return h('p', { class: 'card-colour' }, swatch, name);
}

function card(
  r: ApiRecommendation,
  rank: number,
  catalogue: CatalogueView,
  onMore: (p: ApiRecommendation) => void,
): HTMLLIElement {
  const name = r.name ?? `Product ${r.id}`;
  const nameId = `result-${rank}-name`;
  const pct = percent(r.score);
  const image = h('img', {
    class: 'card-image',
    attrs: { src: r.imageUrl, alt: name, loading: 'lazy', decoding: 'async', width: '60', height: '80' },
  });
  const more = h('button', {
    class: 'btn btn-small card-more',
    text: 'More like this',
    attrs: { type: 'button', 'aria-label': `More like this: ${name}` },
  });
  more.addEventListener('click', () => onMore(r));
  const meter = h('span', { class: 'score-bar', attrs: { 'aria-hidden': 'true' } }, h('span'));
  meter.style.setProperty('--score', `${pct}%`);
  return h(
    'li',
    { class: 'card' },
    h(
      'article',
      { attrs: { 'aria-labelledby': nameId } },
      h(
        'div',
        { class: 'card-thumb' },
        image,
        h('span', { class: 'card-rank', text: String(rank), attrs: { 'aria-hidden': 'true' } }),
      ),
      h(
        'div',
        { class: 'card-body' },
        h('h3', { class: 'card-name', text: name, attrs: { id: nameId, title: name } }),
        facetLine(r, catalogue),
        colourLine(r, catalogue),
        r.reasons.length > 0
          ? h('p', { class: 'card-why', text: `Why: ${r.reasons.join(', ')}` })
          : undefined,
        h(
          'p',
          { class: 'card-score' },
          h('span', { class: 'score-value', text: `${pct}%` }),
          h('span', { class: 'score-label', text: ' similar' }),
          meter,
        ),
        more,
      ),
    ),
  );
}

export function renderResults(
  list: HTMLOListElement,
  results: readonly ApiRecommendation[],
  catalogue: CatalogueView,
  onMore: (p: ApiRecommendation) => void,
): void {
  list.replaceChildren(...results.map((r, i) => card(r, i + 1, catalogue, onMore)));
}
