/**
 * On-disk JSON read through a schema: a file that is missing, not JSON or not of the expected
 * shape gives an error that names the file and what is wrong, never a bare `as`.
 */
import type { z } from 'zod';
import { InputFileError, readInputFile } from './input-file.js';

/** Largest JSON file read (about the longest string a JavaScript engine holds). */
export const MAX_JSON_BYTES = 512 * 1024 * 1024;

export class FileFormatError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

/** Parses JSON text with a schema; `path` names the file in errors. */
export function parseJson<S extends z.ZodType>(path: string, text: string, schema: S): z.output<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new FileFormatError(path, `${path} is not valid JSON (${(err as Error).message})`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? ` at ${issue.path.join('.')}` : '';
    throw new FileFormatError(
      path,
      `${path} is not what was expected${where}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return parsed.data;
}

/** Reads and validates a JSON file; undefined when it does not exist (when `optional`). */
export async function readJsonFile<S extends z.ZodType>(path: string, schema: S): Promise<z.output<S>>;
export async function readJsonFile<S extends z.ZodType>(
  path: string,
  schema: S,
  options: { optional: true },
): Promise<z.output<S> | undefined>;
export async function readJsonFile<S extends z.ZodType>(
  path: string,
  schema: S,
  options: { optional?: boolean } = {},
): Promise<z.output<S> | undefined> {
  let text: string;
  try {
    text = (await readInputFile(path, { maxBytes: MAX_JSON_BYTES })).toString('utf8');
  } catch (err) {
    if (!(err instanceof InputFileError)) throw err;
    if (options.optional && err.code === 'missing') return undefined;
    throw new FileFormatError(path, err.message);
  }
  return parseJson(path, text, schema);
}
