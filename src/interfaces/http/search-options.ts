/** k and filters of a search, from the query string (validated by its schema) or form fields. */
import type { Filters } from '../../recommend/filters.js';
import type { RecommendOptions } from '../../recommend/recommender.js';
import { ApiError } from './api-error.js';
import { DEFAULT_K, FILTER_COLUMNS, type FilterColumn, MAX_K } from './contract.js';

/** The query string, after validation: every filter is a list (a single value is coerced to one). */
export type SearchQuery = { k?: number } & Partial<Record<FilterColumn, string[]>>;

const isFilterColumn = (name: string): name is FilterColumn =>
  (FILTER_COLUMNS as readonly string[]).includes(name);

/** The recommender's options for a search; empty filter values (an "any" choice) are ignored. */
export function recommendOptions(query: SearchQuery): RecommendOptions {
  const where: Filters = {};
  for (const column of FILTER_COLUMNS) {
    const values = (query[column] ?? []).map((v) => v.trim()).filter((v) => v !== '');
    if (values.length > 0) where[column] = values;
  }
  return { k: query.k ?? DEFAULT_K, where };
}

/**
 * Form fields of an upload (name → values, in order) as a search, merged over the query string:
 * a form `k` wins, filter values add up.
 * @throws ApiError 400 'bad-field' for an unknown field or a bad k.
 */
export function mergeFormFields(query: SearchQuery, fields: ReadonlyMap<string, string[]>): SearchQuery {
  const merged: SearchQuery = { ...query };
  for (const [name, values] of fields) {
    if (name === 'k') {
      const raw = values.at(-1)?.trim() ?? '';
      const k = Number(raw);
      if (!/^\d+$/.test(raw) || k < 1 || k > MAX_K) {
        throw new ApiError(400, 'bad-field', `k must be an integer from 1 to ${MAX_K} (got "${raw}")`);
      }
      merged.k = k;
    } else if (isFilterColumn(name)) {
      merged[name] = [...(merged[name] ?? []), ...values];
    } else {
      throw new ApiError(
        400,
        'bad-field',
        `unknown form field "${name}"; expected image, k, ${FILTER_COLUMNS.join(', ')}`,
      );
    }
  }
  return merged;
}
