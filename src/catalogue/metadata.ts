/**
 * A catalogue's metadata file: CSV (with a header row) or JSON Lines (one object a line), read
 * as rows of string cells. Which column means what is the schema's business (schema.ts).
 *
 * Only a regular file is read (never a FIFO or a device), up to MAX_METADATA_BYTES. Cells keep
 * every character but NUL, which no store can hold (PostgreSQL refuses it in text and JSON):
 * the row's line and column are reported in `nulCells`, and the catalogue decides what to do.
 */
import { extname } from 'node:path';
import { parse } from 'csv-parse/sync';
import { InputFileError, readInputFile } from '../io/input-file.js';

export type Metadata = Record<string, string>;

export interface MetadataTable {
  /** Column names in file order (JSON Lines: in order of first appearance). */
  columns: string[];
  /** Rows with every non-empty cell as a trimmed string. */
  rows: Metadata[];
  /** The line of the file where each row is (its last line, for a CSV record over several lines). */
  lines: number[];
  /** Cells and column names that held NUL characters (removed from the values in `rows`). */
  nulCells: { line: number; column: string }[];
}

export class MetadataError extends Error {}

/** Largest metadata file read (about the longest string a JavaScript engine holds). */
export const MAX_METADATA_BYTES = 512 * 1024 * 1024;

const isJsonLines = (path: string) => ['.jsonl', '.ndjson'].includes(extname(path).toLowerCase());

/** Reads a CSV or JSON Lines metadata file (by its extension: .jsonl/.ndjson, else CSV). */
export async function readMetadataTable(path: string): Promise<MetadataTable> {
  let text: string;
  try {
    text = (await readInputFile(path, { maxBytes: MAX_METADATA_BYTES, what: 'the metadata' })).toString(
      'utf8',
    );
  } catch (err) {
    if (err instanceof InputFileError) throw new MetadataError(err.message);
    throw err;
  }
  return isJsonLines(path) ? parseJsonLines(path, text) : parseCsv(path, text);
}

/** Lone UTF-16 surrogates (from a JSON escape such as \ud800), which no store can encode. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function cell(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  const text = (typeof value === 'object' ? JSON.stringify(value) : String(value))
    .trim()
    .replace(LONE_SURROGATE, '\uFFFD');
  return text === '' ? undefined : text;
}

/** Builds rows (own properties only, whatever the column names: `__proto__` and `toString` too). */
class RowBuilder {
  readonly columns: string[] = [];
  private readonly known = new Set<string>();
  readonly rows: Metadata[] = [];
  readonly lines: number[] = [];
  readonly nulCells: { line: number; column: string }[] = [];

  /** A column name, without NUL characters. */
  column(name: string, line: number): string {
    const clean = name.includes('\0') ? name.replaceAll('\0', '') : name;
    if (clean !== name) this.nulCells.push({ line, column: clean });
    if (!this.known.has(clean)) {
      this.known.add(clean);
      this.columns.push(clean);
    }
    return clean;
  }

  add(entries: Iterable<[string, unknown]>, line: number): void {
    const cells: [string, string][] = [];
    for (const [column, value] of entries) {
      let text = cell(value);
      if (text?.includes('\0')) {
        this.nulCells.push({ line, column });
        text = cell(text.replaceAll('\0', ''));
      }
      if (text !== undefined) cells.push([column, text]);
    }
    this.rows.push(Object.fromEntries(cells));
    this.lines.push(line);
  }

  table(): MetadataTable {
    return { columns: this.columns, rows: this.rows, lines: this.lines, nulCells: this.nulCells };
  }
}

function parseCsv(path: string, text: string): MetadataTable {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, {
      info: true,
      skip_empty_lines: true,
      relax_column_count: true,
      trim: true,
      bom: true,
    }) as unknown as { record: string[]; info: { lines: number } }[];
  } catch (err) {
    throw new MetadataError(`${path} is not a readable CSV: ${(err as Error).message}`);
  }
  const builder = new RowBuilder();
  const [header, ...body] = records;
  if (!header) return builder.table();
  const columns = header.record.map((h) => builder.column(h.trim(), header.info.lines));
  for (const { record, info } of body) {
    builder.add(
      columns.map((column, i): [string, unknown] => [column, record[i]]),
      info.lines,
    );
  }
  return builder.table();
}

function parseJsonLines(path: string, text: string): MetadataTable {
  const builder = new RowBuilder();
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new MetadataError(`${path} line ${i + 1} is not JSON: ${(err as Error).message}`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new MetadataError(`${path} line ${i + 1} is not a JSON object`);
    }
    builder.add(
      Object.entries(value).map(([key, v]): [string, unknown] => [builder.column(key, i + 1), v]),
      i + 1,
    );
  });
  return builder.table();
}
