/**
 * A search's k, offset and filters: from the query string (validated by its schema), merged with
 * an upload's form fields; and a page of results from them.
 */
import type { RecommendOptions, RecommendResult } from '../../../recommend/recommender.js';
import { ApiError } from './api-error.js';
import { type ApiPage, IMAGE_FIELD, MAX_OFFSET } from './contract.js';
import { quote } from './echo.js';
import {
  expectedParameters,
  type FilterParameter,
  filterValueZ,
  kZ,
  nonEmptyFilters,
  offsetZ,
  type Search,
} from './schemas.js';

/** The recommender's options for a search's first page (offset aside). */
export function recommendOptions(search: Pick<Search, 'k' | 'where'>): RecommendOptions {
  return { k: search.k, where: search.where };
}

/**
 * One page of a search: ranks offset+1..offset+k, and whether a next page has any (one result
 * more is asked for to know; a next page past the largest offset has none).
 */
export async function searchPage<R extends RecommendResult>(
  search: Search,
  run: (options: RecommendOptions) => Promise<R>,
): Promise<{ result: R; page: ApiPage }> {
  const { k, offset, where } = search;
  const result = await run({ k: offset + k + 1, where });
  const hasMore = result.results.length > offset + k && offset + k <= MAX_OFFSET;
  return {
    result: { ...result, results: result.results.slice(offset, offset + k) },
    page: { offset, k, hasMore },
  };
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
  known.delete('offset');
  let { k, offset } = search;
  const where: Record<string, string[]> = { ...search.where };
  for (const [name, values] of fields) {
    if (name === 'k' || name === 'offset') {
      // The same rules as the query string's: decimal digits, k 1..MAX_K, offset 0..MAX_OFFSET.
      const raw = values.at(-1) ?? '';
      const parsed = (name === 'k' ? kZ : offsetZ).safeParse(raw);
      if (!parsed.success) {
        throw new ApiError(400, 'bad-field', `${parsed.error.issues[0]?.message} (got ${quote(raw)})`);
      }
      if (name === 'k') k = parsed.data;
      else offset = parsed.data;
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
  return { k, offset, where: nonEmptyFilters(where) };
}
