/** Distinct values of the filterable columns with their counts, as the catalogue spells them. */
import type { IndexItem } from '../../index/store.js';
import { type ApiFacets, type FacetValue, FILTER_COLUMNS } from './contract.js';

/**
 * Filters match case-insensitively, so values differing only in case count as one, shown with
 * their most frequent spelling. Most frequent first, then alphabetical.
 */
export function computeFacets(items: readonly IndexItem[]): ApiFacets {
  const facets = {} as ApiFacets;
  for (const column of FILTER_COLUMNS) {
    const byKey = new Map<string, { count: number; spellings: Map<string, number> }>();
    for (const item of items) {
      const value = item.metadata[column]?.trim();
      if (!value) continue;
      const key = value.toLowerCase();
      const entry = byKey.get(key) ?? { count: 0, spellings: new Map<string, number>() };
      entry.count += 1;
      entry.spellings.set(value, (entry.spellings.get(value) ?? 0) + 1);
      byKey.set(key, entry);
    }
    facets[column] = [...byKey.values()]
      .map(({ count, spellings }): FacetValue => {
        const [value] = [...spellings.entries()].sort((a, b) => b[1] - a[1])[0] as [string, number];
        return { value, count };
      })
      .sort((a, b) => b.count - a.count || a.value.localeCompare(b.value));
  }
  return facets;
}
