/**
 * The results grid: one card per product, best first: its photo, title (a link to its detail
 * view), facet values (what kind of product first) and colour swatch, why it matched, how strong
 * a match it is in words, and "More like this".
 */
import type { ApiProduct } from '../http/api/contract.js';
import type { Result } from './api.js';
import { type CatalogueView, columnLabel } from './catalogue.js';
import { swatchColour } from './colours.js';
import { h } from './dom.js';

export interface CardActions {
  /** The detail view's address for a product. */
  detailHref: (id: string) => string;
  onDetail: (p: Result) => void;
  onMore: (p: Result) => void;
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

export function colourLine(p: ApiProduct, catalogue: CatalogueView): HTMLElement | undefined {
  const name = catalogue.colour ? p.metadata[catalogue.colour]?.trim() : undefined;
  if (!name) return undefined;
  const swatch = h('span', { class: 'swatch', attrs: { 'aria-hidden': 'true' } });
  const colour = swatchColour(name);
  if (colour === 'multi') swatch.classList.add('swatch-multi');
  else if (colour) swatch.style.setProperty('--swatch', colour);
  else swatch.classList.add('swatch-unknown');
  return h('p', { class: 'card-colour' }, swatch, name);
}

/** The match's strength in words (none where the server does not say). */
function matchLine(r: Result): HTMLElement | undefined {
  if (!r.match) return undefined;
  return h('p', { class: `card-match match-${r.match.strength}`, text: r.match.label });
}

/** Plain left clicks follow links inside the page; others (new tab...) are the browser's. */
export function isPlainClick(event: MouseEvent): boolean {
  return event.button === 0 && !event.metaKey && !event.ctrlKey && !event.shiftKey && !event.altKey;
}

function card(r: Result, rank: number, catalogue: CatalogueView, actions: CardActions): HTMLLIElement {
  const name = r.name ?? `Product ${r.id}`;
  const nameId = `result-${r.id}-name`;
  // The name is in the card's text: the photo's alt is empty so that it is not read twice.
  const image = h('img', {
    class: 'card-image',
    attrs: { src: r.imageUrl, alt: '', loading: 'lazy', decoding: 'async', width: '60', height: '80' },
  });
  const link = h('a', {
    class: 'card-link',
    text: name,
    attrs: { href: actions.detailHref(r.id), title: name },
  });
  link.addEventListener('click', (event) => {
    if (!isPlainClick(event)) return;
    event.preventDefault();
    actions.onDetail(r);
  });
  const more = h('button', {
    class: 'btn btn-small card-more',
    text: 'More like this',
    attrs: { type: 'button' },
  });
  more.addEventListener('click', () => actions.onMore(r));
  const li = h(
    'li',
    { class: `card${r.match ? ` is-${r.match.strength}` : ''}` },
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
        h('h3', { class: 'card-name', attrs: { id: nameId } }, link),
        matchLine(r),
        facetLine(r, catalogue),
        colourLine(r, catalogue),
        r.reasons.length > 0
          ? h('p', { class: 'card-why', text: `Why: ${r.reasons.join(', ')}` })
          : undefined,
        more,
      ),
    ),
  );
  // The whole photo opens the detail view too (for pointers; keyboard users have the link).
  image.addEventListener('click', () => actions.onDetail(r));
  return li;
}

/** Shows `results` (ranks from `firstRank`); `append` keeps the cards already shown. */
export function renderResults(
  list: HTMLOListElement,
  results: readonly Result[],
  catalogue: CatalogueView,
  actions: CardActions,
  append = false,
): void {
  const start = append ? list.children.length : 0;
  const cards = results.map((r, i) => card(r, start + i + 1, catalogue, actions));
  if (append) list.append(...cards);
  else list.replaceChildren(...cards);
}

/** A word about the results' strength as a whole: weak matches are said to be weak. */
export function strengthNote(results: readonly Result[]): string | undefined {
  const rated = results.filter((r) => r.match);
  if (rated.length === 0) return undefined;
  const same = rated.filter((r) => r.match?.strength === 'same-product').length;
  if (same > 0) {
    return same === 1
      ? 'One result is probably the very product in the photo.'
      : `${same} results are probably the very product in the photo.`;
  }
  if (rated.every((r) => r.match?.strength === 'weak')) {
    return 'Only weak matches: the catalogue may have nothing like this. Try cropping to one garment, or another photo.';
  }
  return undefined;
}
