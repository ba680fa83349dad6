/** The product detail view: its full name, a larger photo, all its metadata, and "More like this". */
import type { ApiProduct } from '../http/api/contract.js';
import { columnLabel } from './catalogue.js';
import { h } from './dom.js';

export interface DetailActions {
  onMore: (p: ApiProduct) => void;
  /** Where "Back" goes, or undefined when there is nothing to go back to. */
  onBack: (() => void) | undefined;
}

export function renderDetail(container: HTMLElement, p: ApiProduct, actions: DetailActions): HTMLElement {
  const name = p.name ?? `Product ${p.id}`;
  const rows = Object.entries(p.metadata)
    .filter(([, value]) => value.trim() !== '')
    .flatMap(([column, value]) => [h('dt', { text: columnLabel(column) }), h('dd', { text: value })]);
  rows.push(h('dt', { text: 'Product id' }), h('dd', { text: p.id }));
  if (p.alsoListedAs.length > 0) {
    rows.push(h('dt', { text: 'Also listed as' }), h('dd', { text: p.alsoListedAs.join(', ') }));
  }
  const more = h('button', { class: 'btn btn-primary', text: 'More like this', attrs: { type: 'button' } });
  more.addEventListener('click', () => actions.onMore(p));
  const back = actions.onBack
    ? h('button', { class: 'btn', text: 'Back to results', attrs: { type: 'button' } })
    : undefined;
  const onBack = actions.onBack;
  if (back && onBack) back.addEventListener('click', onBack);
  const heading = h('h2', { class: 'detail-name', text: name, attrs: { id: 'detail-name', tabindex: '-1' } });
  container.replaceChildren(
    h(
      'article',
      { class: 'detail', attrs: { 'aria-labelledby': 'detail-name' } },
      heading,
      h(
        'div',
        { class: 'detail-body' },
        // The name is the heading: the photo's alt is empty so that it is not read twice.
        h(
          'a',
          { class: 'detail-photo', attrs: { href: p.imageUrl, target: '_blank', rel: 'noopener' } },
          h('img', {
            class: 'detail-image',
            attrs: { src: p.imageUrl, alt: '', width: '240', height: '320' },
          }),
          h('span', { class: 'visually-hidden', text: 'Open the photo at full size' }),
        ),
        h('dl', { class: 'detail-facts' }, ...rows),
      ),
      h('div', { class: 'actions' }, more, back),
    ),
  );
  return heading;
}
