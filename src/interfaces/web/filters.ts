/**
 * The filters: one collapsible list of checkboxes per facet of the catalogue, in its order, built
 * from /api/facets (none in the page itself). Several values of a facet may be chosen (any of
 * them matches). The kind of product is grouped (e.g. article types under their sub-category)
 * where the server says how, and every value shows how many products it would leave given the
 * other choices: a value that would leave none is disabled, so no choice leads to nothing.
 */
import type { Facets, Filters } from './api.js';
import { columnLabel } from './catalogue.js';
import { h } from './dom.js';

type Facet = Facets['facets'][number];

const byName = (a: string, b: string) => a.localeCompare(b);

export class FilterForm {
  private changed: (filters: Filters) => void = () => {};

  constructor(
    private readonly form: HTMLFormElement,
    private readonly fields: HTMLElement,
  ) {
    this.form.addEventListener('change', () => {
      this.refreshSummaries();
      this.changed(this.values());
    });
    this.form.addEventListener('reset', (event) => {
      event.preventDefault();
      for (const box of this.boxes()) box.checked = false;
      this.refreshSummaries();
      this.changed({});
    });
    this.form.addEventListener('submit', (event) => event.preventDefault());
  }

  private boxes(): HTMLInputElement[] {
    return [...this.form.querySelectorAll<HTMLInputElement>('input[type="checkbox"]')];
  }

  private option(column: string, value: string, index: number): HTMLLabelElement {
    const id = `f-${column}-${index}`.replace(/[^A-Za-z0-9_-]/g, '_');
    return h(
      'label',
      { class: 'option', attrs: { for: id } },
      h('input', { attrs: { type: 'checkbox', id, name: column, value } }),
      h('span', { class: 'option-value', text: value }),
      h('span', { class: 'option-count', attrs: { 'data-value': value } }),
    );
  }

  private facetField(facet: Facet, index: number): HTMLElement {
    const label = columnLabel(facet.column);
    const values = facet.values.map((v) => v.value);
    let body: HTMLElement[];
    let n = 0;
    if (facet.groups && facet.groups.length > 1) {
      const grouped = new Set(facet.groups.flatMap((g) => g.values));
      const groups = [...facet.groups].sort((a, b) => byName(a.group, b.group));
      const rest = values.filter((v) => !grouped.has(v));
      if (rest.length > 0) groups.push({ group: 'Other', values: rest });
      body = groups.map((g, gi) => {
        const headingId = `fg-${index}-${gi}`;
        return h(
          'div',
          { class: 'facet-group', attrs: { role: 'group', 'aria-labelledby': headingId } },
          h('p', { class: 'facet-group-name', text: g.group, attrs: { id: headingId } }),
          ...[...g.values].sort(byName).map((v) => this.option(facet.column, v, n++)),
        );
      });
    } else {
      body = [...values].sort(byName).map((v) => this.option(facet.column, v, n++));
    }
    return h(
      'details',
      { class: 'facet', attrs: { 'data-column': facet.column } },
      h(
        'summary',
        {},
        h('span', { class: 'facet-name', text: label }),
        h('span', { class: 'facet-chosen', attrs: { 'data-column': facet.column } }),
      ),
      h(
        'fieldset',
        { class: 'facet-options' },
        h('legend', { class: 'visually-hidden', text: label }),
        ...body,
      ),
    );
  }

  /** A list per facet that has values; the form shows only once there is something to filter on. */
  build(facets: Facets, chosen: Filters): void {
    const controls = facets.facets
      // `k` and `offset` are the searches' own parameters: facets of those names cannot be filters.
      .filter((facet) => facet.values.length > 0 && facet.column !== 'k' && facet.column !== 'offset')
      .map((facet, i) => this.facetField(facet, i));
    this.fields.replaceChildren(...controls);
    this.form.hidden = controls.length === 0;
    this.setValues(chosen);
    this.updateCounts(facets);
  }

  /** Shows each value's count under the current choices; disables those that would leave nothing. */
  updateCounts(facets: Facets): void {
    for (const facet of facets.facets) {
      const counts = new Map(
        (facet.counts ?? facet.values).map((c) => [c.value.toLowerCase(), c.count] as const),
      );
      const exact = facet.counts !== undefined;
      for (const box of this.boxes().filter((b) => b.name === facet.column)) {
        const count = counts.get(box.value.toLowerCase()) ?? (exact ? 0 : undefined);
        const label = box.closest('label');
        const shown = label?.querySelector('.option-count');
        if (shown) shown.textContent = count === undefined ? '' : `(${count.toLocaleString('en')})`;
        box.disabled = exact && count === 0 && !box.checked;
        label?.classList.toggle('is-empty', box.disabled);
      }
    }
  }

  setValues(filters: Filters): void {
    for (const box of this.boxes()) {
      box.checked = (filters[box.name] ?? []).some((v) => v.toLowerCase() === box.value.toLowerCase());
    }
    this.refreshSummaries();
  }

  private refreshSummaries(): void {
    const chosen = this.values();
    for (const span of this.form.querySelectorAll<HTMLElement>('.facet-chosen')) {
      const values = chosen[span.dataset.column ?? ''] ?? [];
      span.textContent = values.length === 0 ? '' : `: ${values.join(', ')}`;
    }
  }

  values(): Filters {
    const chosen: Filters = {};
    for (const box of this.boxes()) {
      if (box.checked) chosen[box.name] = [...(chosen[box.name] ?? []), box.value];
    }
    return chosen;
  }

  onChange(run: (filters: Filters) => void): void {
    this.changed = run;
  }
}

/** Readable summary of filters, e.g. "Men, Tshirts or Tops". */
export function filterSummary(filters: Filters): string {
  return Object.values(filters)
    .filter((v) => v.length > 0)
    .map((v) => v.join(' or '))
    .join(', ');
}
