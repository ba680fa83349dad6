/** The filter dropdowns: filled from /api/facets; every change re-runs the current search. */
import type { ApiFacets, FilterColumn } from '../http/contract.js';
import type { ChosenFilters } from './api.js';
import { h } from './dom.js';

export class FilterForm {
  constructor(private readonly form: HTMLFormElement) {}

  private selects(): HTMLSelectElement[] {
    return [...this.form.querySelectorAll('select')];
  }

  /** Adds the catalogue's values to each dropdown, alphabetically. */
  fill(facets: ApiFacets): void {
    for (const select of this.selects()) {
      const values = facets[select.name as FilterColumn] ?? [];
      const options = [...values]
        .sort((a, b) => a.value.localeCompare(b.value))
        .map((v) => h('option', { text: v.value, attrs: { value: v.value } }));
      select.replaceChildren(h('option', { text: 'Any', attrs: { value: '' } }), ...options);
    }
  }

  values(): ChosenFilters {
    const chosen: ChosenFilters = {};
    for (const select of this.selects()) if (select.value) chosen[select.name as FilterColumn] = select.value;
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
