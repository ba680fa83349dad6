/**
 * The filter dropdowns: one per facet of the catalogue, in its order, built from /api/facets
 * (none in the page itself); every change re-runs the current search.
 */
import type { ApiFacets } from '../http/api/contract.js';
import type { ChosenFilters } from './api.js';
import { columnLabel } from './catalogue.js';
import { h } from './dom.js';

export class FilterForm {
  constructor(
    private readonly form: HTMLFormElement,
    private readonly fields: HTMLElement,
  ) {}

  private selects(): HTMLSelectElement[] {
    return [...this.form.querySelectorAll('select')];
  }

  /**
   * A dropdown per facet that has values ("Any", then its values alphabetically), labelled with
   * the column's name. The form shows only once there is something to filter on.
   */
  build(facets: ApiFacets): void {
    const controls = facets.facets
      // `k` is the searches' own parameter: a facet of that name cannot be a filter (see api/schemas.ts).
      .filter((facet) => facet.values.length > 0 && facet.column !== 'k')
      .map((facet) => {
        const options = [...facet.values]
          .sort((a, b) => a.value.localeCompare(b.value))
          .map((v) => h('option', { text: v.value, attrs: { value: v.value } }));
        return h(
          'label',
          { class: 'field' },
          h('span', { text: columnLabel(facet.column) }),
          h(
            'select',
            { attrs: { name: facet.column } },
            h('option', { text: 'Any', attrs: { value: '' } }),
            ...options,
          ),
        );
      });
    this.fields.replaceChildren(...controls);
    this.form.hidden = controls.length === 0;
  }

  values(): ChosenFilters {
    const chosen: ChosenFilters = {};
    for (const select of this.selects()) if (select.value) chosen[select.name] = select.value;
    return chosen;
  }

  /** Readable summary of the chosen filters, e.g. "Men, Tshirts". */
  summary(): string {
    return Object.values(this.values()).join(', ');
  }

  onChange(run: () => void): void {
    this.form.addEventListener('change', run);
    // After a reset the selects hold their new values only once the event has been handled.
    this.form.addEventListener('reset', () => setTimeout(run));
    this.form.addEventListener('submit', (event) => event.preventDefault());
  }
}
