/**
 * A catalogue's metadata file: CSV (with a header row) or JSON Lines (one object a line), read
 * as rows of string cells. Which column means what is the schema's business (schema.ts).
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse } from 'csv-parse/sync';

export type Metadata = Record<string, string>;

export interface MetadataTable {
  /** Column names in file order (JSON Lines: in order of first appearance). */
  columns: string[];
  /** Rows with every non-empty cell as a trimmed string. */
  rows: Metadata[];
}

export class MetadataError extends Error {}

const isJsonLines = (path: string) => ['.jsonl', '.ndjson'].includes(extname(path).toLowerCase());

/** Reads a CSV or JSON Lines metadata file (by its extension: .jsonl/.ndjson, else CSV). */
export async function readMetadataTable(path: string): Promise<MetadataTable> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new MetadataError(`cannot read the metadata ${path}: ${(err as Error).message}`);
  }
  return isJsonLines(path) ? parseJsonLines(path, text) : parseCsv(path, text);
}

function cell(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  const text = (typeof value === 'object' ? JSON.stringify(value) : String(value)).trim();
  return text === '' ? undefined : text;
}

function parseCsv(path: string, text: string): MetadataTable {
  let columns: string[] = [];
  let records: Record<string, unknown>[];
  try {
    records = parse(text, {
      columns: (header: string[]) => {
        columns = header.map((h) => h.trim());
        return columns;
      },
      skip_empty_lines: true,
      relax_column_count: true,
      trim: true,
      bom: true,
    }) as Record<string, unknown>[];
  } catch (err) {
    throw new MetadataError(`${path} is not a readable CSV: ${(err as Error).message}`);
  }
  return { columns, rows: records.map(toRow) };
}

function parseJsonLines(path: string, text: string): MetadataTable {
  const columns = new Set<string>();
  const rows: Metadata[] = [];
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
    for (const key of Object.keys(value)) columns.add(key);
    rows.push(toRow(value as Record<string, unknown>));
  });
  return { columns: [...columns], rows };
}

function toRow(record: Record<string, unknown>): Metadata {
  const row: Metadata = {};
  for (const [key, value] of Object.entries(record)) {
    const text = cell(value);
    if (text !== undefined) row[key] = text;
  }
  return row;
}
