/** Metadata filters: `column=value` pairs. Values of one column are alternatives; columns combine. */
import type { IndexItem } from './store.js';

export type Filters = Record<string, string[]>;

export class FilterError extends Error {}

/**
 * Filters by column, in an object without a prototype: a column named `toString` or `__proto__`
 * is a column like any other.
 */
export function emptyFilters(): Filters {
  return Object.create(null) as Filters;
}

/** Parses `--where brand=Acme --where colour=Black` style pairs. */
export function parseWhere(pairs: readonly string[]): Filters {
  const filters = emptyFilters();
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    const column = pair.slice(0, at).trim();
    const value = pair.slice(at + 1).trim();
    if (at < 1 || !column || !value)
      throw new FilterError(`filter "${pair}" is not of the form column=value`);
    const values = filters[column] ?? [];
    values.push(value);
    filters[column] = values;
  }
  return filters;
}

export function hasFilters(filters: Filters | undefined): filters is Filters {
  return filters !== undefined && Object.values(filters).some((values) => values.length > 0);
}

/** Rows per (column, lower-cased value), built once per index. */
export class FilterIndex {
  private readonly byColumn = new Map<string, Map<string, { value: string; rows: number[] }>>();

  constructor(items: readonly IndexItem[]) {
    items.forEach((item, row) => {
      for (const [column, value] of Object.entries(item.metadata)) {
        if (typeof value !== 'string') continue;
        const values = this.byColumn.get(column) ?? new Map<string, { value: string; rows: number[] }>();
        this.byColumn.set(column, values);
        const key = value.toLowerCase();
        const entry = values.get(key);
        if (entry) entry.rows.push(row);
        else values.set(key, { value, rows: [row] });
      }
    });
  }

  get columns(): string[] {
    return [...this.byColumn.keys()];
  }

  /** Distinct values of a column (as first spelled in the catalogue) with their counts, most frequent first. */
  values(column: string): { value: string; count: number }[] {
    return [...(this.byColumn.get(column)?.values() ?? [])]
      .map(({ value, rows }) => ({ value, count: rows.length }))
      .sort((a, b) => b.count - a.count);
  }

  /** Throws a FilterError naming the known columns when a filter names an unknown one. */
  check(filters: Filters): void {
    for (const [column, values] of Object.entries(filters)) {
      if (values.length > 0 && !this.byColumn.has(column)) {
        throw new FilterError(
          `unknown filter column "${column}"; the index has: ${this.columns.join(', ') || '(no metadata)'}`,
        );
      }
    }
  }

  /** Sorted rows matching every column (any of its values). */
  rows(filters: Filters): Uint32Array {
    this.check(filters);
    let result: Set<number> | undefined;
    for (const [column, values] of Object.entries(filters)) {
      if (values.length === 0) continue;
      const byValue = this.byColumn.get(column);
      const matching = new Set<number>();
      for (const v of values) for (const row of byValue?.get(v.toLowerCase())?.rows ?? []) matching.add(row);
      result = result ? new Set([...result].filter((r) => matching.has(r))) : matching;
    }
    return Uint32Array.from([...(result ?? [])].sort((a, b) => a - b));
  }
}
