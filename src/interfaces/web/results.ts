/** The results grid: one card per product, best first, each with a "More like this" button. */
import type { ApiProduct, ApiRecommendation } from '../http/contract.js';
import { swatchColour } from './colours.js';
import { h } from './dom.js';

/** Similarity as a whole percentage (scores are cosine similarities of non-negative features). */
export function percent(score: number): number {
  return Math.round(Math.max(0, Math.min(1, score)) * 100);
}

export function categoryLine(p: ApiProduct): string {
  return [p.articleType ?? p.subCategory ?? p.masterCategory, p.gender].filter(Boolean).join(' · ');
}

function colourLine(p: ApiProduct): HTMLElement | undefined {
  if (!p.baseColour) return undefined;
  const swatch = h('span', { class: 'swatch', attrs: { 'aria-hidden': 'true' } });
  const colour = swatchColour(p.baseColour);
  if (colour === 'multi') swatch.classList.add('swatch-multi');
  else if (colour) swatch.style.setProperty('--swatch', colour);
  else swatch.classList.add('swatch-unknown');
  return h('p', { class: 'card-colour' }, swatch, p.baseColour);
}

function card(r: ApiRecommendation, rank: number, onMore: (p: ApiRecommendation) => void): HTMLLIElement {
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
        h('p', { class: 'card-category', text: categoryLine(r), attrs: { title: categoryLine(r) } }),
        colourLine(r),
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
  onMore: (p: ApiRecommendation) => void,
): void {
  list.replaceChildren(...results.map((r, i) => card(r, i + 1, onMore)));
}
