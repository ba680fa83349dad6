/**
 * The page's state in its address, so that reload, back/forward and a shared link show the same
 * thing: `?q=<query id>` (an uploaded photo's search) or `?similar=<product id>`, the filters as
 * `<column>=<value>` (repeated for several), `n=<how many results are shown>` and `product=<id>`
 * (the detail view).
 */
import type { Filters } from './api.js';

export interface ViewState {
  /** Query id of an uploaded photo's search. */
  q?: string;
  /** Product whose lookalikes are shown. */
  similar?: string;
  /** Product shown in detail. */
  product?: string;
  filters: Filters;
  /** Results shown (grows with "Show more"); undefined is one page. */
  shown?: number;
}

const RESERVED = new Set(['q', 'similar', 'product', 'n']);

/** Reads the state from a query string; only `columns` are taken as filters. */
export function readState(search: string, columns: readonly string[]): ViewState {
  const params = new URLSearchParams(search);
  const state: ViewState = { filters: {} };
  const q = params.get('q');
  const similar = params.get('similar');
  const product = params.get('product');
  if (q) state.q = q;
  else if (similar) state.similar = similar;
  if (product) state.product = product;
  const n = Number(params.get('n'));
  if (Number.isInteger(n) && n > 0) state.shown = n;
  for (const column of columns) {
    if (RESERVED.has(column)) continue;
    const values = params.getAll(column).filter((v) => v !== '');
    if (values.length > 0) state.filters[column] = [...new Set(values)];
  }
  return state;
}

/** The state as a query string ("?" alone when empty, which clears the address's query). */
export function writeState(state: ViewState): string {
  const params = new URLSearchParams();
  if (state.q) params.set('q', state.q);
  else if (state.similar) params.set('similar', state.similar);
  for (const [column, values] of Object.entries(state.filters)) {
    if (RESERVED.has(column)) continue;
    for (const v of values) params.append(column, v);
  }
  if (state.shown) params.set('n', String(state.shown));
  if (state.product) params.set('product', state.product);
  return `?${params}`;
}

/** Whether a URL's query string has any state in it. */
export function hasState(search: string): boolean {
  const params = new URLSearchParams(search);
  return params.has('q') || params.has('similar') || params.has('product');
}
