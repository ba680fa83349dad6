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

  private rowCount: number;

  constructor(items: readonly IndexItem[]) {
    this.rowCount = items.length;
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

  /** Adds a row after the others (a product put through the API: recommend/recommender.ts). */
  add(row: number, item: IndexItem): void {
    this.changed();
    this.rowCount = Math.max(this.rowCount, row + 1);
    for (const [column, value] of Object.entries(item.metadata)) {
      if (typeof value !== 'string') continue;
      const values = this.byColumn.get(column) ?? new Map<string, { value: string; rows: number[] }>();
      this.byColumn.set(column, values);
      const entry = values.get(value.toLowerCase());
      if (entry) entry.rows.push(row);
      else values.set(value.toLowerCase(), { value, rows: [row] });
    }
  }

  /** Takes a row out (a product replaced or deleted); a value no row has any more goes. */
  remove(row: number, item: IndexItem): void {
    this.changed();
    for (const [column, value] of Object.entries(item.metadata)) {
      if (typeof value !== 'string') continue;
      const values = this.byColumn.get(column);
      const entry = values?.get(value.toLowerCase());
      if (!values || !entry) continue;
      entry.rows = entry.rows.filter((r) => r !== row);
      if (entry.rows.length === 0) values.delete(value.toLowerCase());
      if (values.size === 0) this.byColumn.delete(column);
    }
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

  /** Each row's value of a column as a number (its index in `keys`, lower-cased), -1 for none; built once per column. */
  private coded(column: string): { keys: string[]; codes: Int32Array } {
    let coded = this.codes.get(column);
    if (!coded) {
      const codes = new Int32Array(this.rowCount).fill(-1);
      const keys: string[] = [];
      for (const [key, { rows }] of this.byColumn.get(column) ?? []) {
        for (const row of rows) codes[row] = keys.length;
        keys.push(key);
      }
      coded = { keys, codes };
      this.codes.set(column, coded);
    }
    return coded;
  }

  private readonly codes = new Map<string, { keys: string[]; codes: Int32Array }>();
  private changes = 0;

  /** Counts changes (add, remove): what is worked out from the rows is worked out again after one. */
  get version(): number {
    return this.changes;
  }

  private changed(): void {
    this.changes += 1;
    this.codes.clear();
  }

  /**
   * Disjunctive counts: for each of these columns, each of its values (lower-cased key) with how
   * many rows the filters keep when that column's own filter is set aside and the value is chosen
   * instead. One pass over the rows. A filter on an unknown column throws (FilterError).
   */
  counts(filters: Filters, columns: readonly string[]): Map<string, Map<string, number>> {
    this.check(filters);
    const n = this.rowCount;
    // Per row: how many filtered columns it fails, and the last one it fails.
    const misses = new Uint8Array(n);
    const missed = new Int32Array(n).fill(-1);
    const filtered = Object.entries(filters).filter(([, values]) => values.length > 0);
    filtered.forEach(([column, values], f) => {
      const keep = new Uint8Array(n);
      const byValue = this.byColumn.get(column);
      for (const v of values) for (const row of byValue?.get(v.toLowerCase())?.rows ?? []) keep[row] = 1;
      for (let row = 0; row < n; row++) {
        if (keep[row] === 0) {
          misses[row] = Math.min(2, (misses[row] as number) + 1);
          missed[row] = f;
        }
      }
    });
    const out = new Map<string, Map<string, number>>();
    for (const column of columns) {
      const own = filtered.findIndex(([c]) => c === column);
      const { keys, codes } = this.coded(column);
      const tally = new Float64Array(keys.length);
      for (let row = 0; row < n; row++) {
        const code = codes[row] as number;
        if (code < 0) continue;
        const m = misses[row] as number;
        // Kept by every filter, or failing only this column's own.
        if (m === 0 || (m === 1 && missed[row] === own)) tally[code] = (tally[code] as number) + 1;
      }
      out.set(column, new Map(keys.map((key, i) => [key, tally[i] as number])));
    }
    return out;
  }

  /** How many rows (products) the index has. */
  get size(): number {
    return this.rowCount;
  }

  /**
   * The values of `column` grouped by another column: each value's most common value of `by`
   * (as first spelled), and the share of rows that agree with their value's group (1 when every
   * value of `column` has a single value of `by`). Empty values are left out.
   */
  groupsOf(column: string, by: string): { groups: Map<string, string>; agreement: number } | undefined {
    if (!this.byColumn.has(column) || !this.byColumn.has(by) || column === by) return undefined;
    const values = this.coded(column);
    const groups = this.coded(by);
    const spelled = [...(this.byColumn.get(by)?.values() ?? [])].map((v) => v.value);
    const ownSpelled = [...(this.byColumn.get(column)?.values() ?? [])].map((v) => v.value);
    // Rows per (value, group).
    const pairs = new Float64Array(values.keys.length * groups.keys.length);
    const totals = new Float64Array(values.keys.length);
    for (let row = 0; row < this.rowCount; row++) {
      const v = values.codes[row] as number;
      if (v < 0) continue;
      totals[v] = (totals[v] as number) + 1;
      const g = groups.codes[row] as number;
      if (g < 0 || (spelled[g] as string).trim() === '') continue;
      const at = v * groups.keys.length + g;
      pairs[at] = (pairs[at] as number) + 1;
    }
    const out = new Map<string, string>();
    let agreeing = 0;
    let total = 0;
    values.keys.forEach((key, v) => {
      if ((ownSpelled[v] as string).trim() === '') return;
      total += totals[v] as number;
      let best = -1;
      let bestCount = 0;
      for (let g = 0; g < groups.keys.length; g++) {
        const count = pairs[v * groups.keys.length + g] as number;
        if (count > bestCount) {
          best = g;
          bestCount = count;
        }
      }
      if (best < 0) return;
      agreeing += bestCount;
      out.set(key, spelled[best] as string);
    });
    return { groups: out, agreement: total > 0 ? agreeing / total : 0 };
  }
}
