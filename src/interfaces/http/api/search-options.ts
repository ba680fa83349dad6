/** A search's k and filters: from the query string (validated by its schema), merged with an upload's form fields. */
import type { RecommendOptions } from '../../../recommend/recommender.js';
import { ApiError } from './api-error.js';
import { IMAGE_FIELD } from './contract.js';
import { quote } from './echo.js';
import {
  expectedParameters,
  type FilterParameter,
  filterValueZ,
  kZ,
  nonEmptyFilters,
  type Search,
} from './schemas.js';

/** The recommender's options for a search. */
export function recommendOptions(search: Search): RecommendOptions {
  return { k: search.k, where: search.where };
}

/**
 * Form fields of an upload (name → values, in order) merged over the query string's search:
 * a form `k` wins, filter values add up; empty values (an "any" choice) are ignored.
 * @throws ApiError 400 'bad-field' for a field that is neither k nor a filter, or a bad k.
 */
export function mergeFormFields(
  search: Search,
  fields: ReadonlyMap<string, string[]>,
  filters: readonly FilterParameter[],
): Search {
  const known = new Set(filters.map((f) => f.column));
  known.delete('k');
  let { k } = search;
  const where: Record<string, string[]> = { ...search.where };
  for (const [name, values] of fields) {
    if (name === 'k') {
      // The same rule as the query string's k: decimal digits, 1..MAX_K.
      const raw = values.at(-1) ?? '';
      const parsed = kZ.safeParse(raw);
      if (!parsed.success) {
        throw new ApiError(400, 'bad-field', `${parsed.error.issues[0]?.message} (got ${quote(raw)})`);
      }
      k = parsed.data;
    } else if (known.has(name)) {
      for (const value of values) {
        const checked = filterValueZ.safeParse(value);
        if (!checked.success)
          throw new ApiError(400, 'bad-field', `${name}: ${checked.error.issues[0]?.message}`);
      }
      where[name] = [...(where[name] ?? []), ...values];
    } else {
      throw new ApiError(
        400,
        'bad-field',
        `unknown form field ${quote(name)}; expected ${IMAGE_FIELD}, ${expectedParameters(filters)}`,
      );
    }
  }
  return { k, where: nonEmptyFilters(where) };
}
