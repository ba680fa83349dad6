/**
 * The write-ahead log of an index folder: changes made through the product-management API
 * (src/manage), one per line, appended and fsynced before the change is acknowledged.
 *
 *   <dir>/changes.wal     `<crc32 hex> <json>\n` per change, in order
 *   <dir>/photos/         photos uploaded through the API, by content hash (`<sha256>.<ext>`)
 *
 * A change is self-contained: a put carries the product as stored (photo, metadata) and its
 * visual vector and colour descriptor, so that every reader (a server, `lookalike recommend`, the
 * evaluation) replays it over whatever generation the manifest points to, composing the search
 * vector with its own similarity. The log is never folded into the generation files: products
 * written through the API belong to the API, and a `lookalike index` run over the folder keeps
 * them (its generation is the base the log is replayed over).
 *
 * A line cut short by a crash (no newline, or a checksum that does not match at the very end) is
 * ignored and overwritten by the next append; a damaged line before the end is an IndexError.
 */
import { mkdir, open, readFile, rename, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { syncDir, writeDurably } from '../io/durable.js';
import { checksumOf } from './integrity.js';
import { indexItemZ } from './item-schema.js';
import type { StoredChange } from './port.js';
import { IndexError } from './store.js';

export const WAL_FILE = 'changes.wal';
export const PHOTOS_DIR = 'photos';

export const walPath = (dir: string) => join(dir, WAL_FILE);
export const photosDir = (dir: string) => join(dir, PHOTOS_DIR);

const itemZ = indexItemZ.extend({ origin: z.literal('api').optional() });

const recordZ = z.discriminatedUnion('op', [
  z.object({
    seq: z.number().int().positive(),
    at: z.string(),
    op: z.literal('put'),
    id: z.string(),
    item: itemZ,
    /** The visual (stored) vector, float32 little-endian, base64. */
    visual: z.string(),
    /** The colour descriptor (learned similarity), float32 little-endian, base64. */
    colour: z.string().optional(),
  }),
  z.object({
    seq: z.number().int().positive(),
    at: z.string(),
    op: z.literal('delete'),
    id: z.string(),
  }),
]);

/** A change as the log records it. */
export type WalRecord = z.infer<typeof recordZ>;

export const encodeVector = (v: Float32Array) =>
  Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');

export function decodeVector(text: string): Float32Array {
  const bytes = Buffer.from(text, 'base64');
  const out = new Float32Array(bytes.length / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

export function decodeRecord(r: WalRecord): StoredChange {
  if (r.op === 'delete') return { seq: r.seq, op: 'delete', id: r.id };
  return {
    seq: r.seq,
    op: 'put',
    id: r.id,
    item: r.item,
    visual: decodeVector(r.visual),
    ...(r.colour ? { colour: decodeVector(r.colour) } : {}),
  };
}

export interface WalRead {
  changes: StoredChange[];
  /** Bytes of complete, valid lines read (where the next read or append starts). */
  end: number;
}

/** The changes of a folder's log from byte `from` on (none when there is no log). */
export async function readWal(dir: string, from = 0): Promise<WalRead> {
  const path = walPath(dir);
  let data: Buffer;
  try {
    const handle = await open(path, 'r');
    try {
      const { size } = await handle.stat();
      data = Buffer.alloc(Math.max(0, size - from));
      let at = 0;
      while (at < data.length) {
        const { bytesRead } = await handle.read(data, at, data.length - at, from + at);
        if (bytesRead === 0) break;
        at += bytesRead;
      }
      data = data.subarray(0, at);
    } finally {
      await handle.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { changes: [], end: from };
    throw new IndexError(`cannot read ${path}: ${(err as Error).message}`);
  }
  const changes: StoredChange[] = [];
  let at = 0;
  for (;;) {
    const nl = data.indexOf(10, at);
    if (nl < 0) break; // (a line being written, or cut short by a crash)
    const line = data.subarray(at, nl).toString('utf8');
    const parsed = parseLine(line);
    if (!parsed) {
      // Only the last line may be damaged (a torn write); anything after it means the log is.
      if (data.indexOf(10, nl + 1) >= 0 || nl + 1 < data.length) {
        throw new IndexError(
          `${path} is damaged at byte ${from + at} (a change does not match its checksum); ` +
            'move it aside to serve the index without the API changes',
        );
      }
      break;
    }
    changes.push(decodeRecord(parsed));
    at = nl + 1;
  }
  return { changes, end: from + at };
}

function parseLine(line: string): WalRecord | undefined {
  const space = line.indexOf(' ');
  if (space !== 8) return undefined;
  const json = line.slice(space + 1);
  if (`crc32:${line.slice(0, 8)}` !== checksumOf(Buffer.from(json, 'utf8'))) return undefined;
  try {
    const r = recordZ.safeParse(JSON.parse(json));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

export function formatRecord(record: WalRecord): string {
  const json = JSON.stringify(record);
  return `${checksumOf(Buffer.from(json, 'utf8')).slice('crc32:'.length)} ${json}\n`;
}

/**
 * Appends a line to the log and fsyncs it. `end` is where this writer's reading stopped: a torn
 * line after it (a crash in the middle of an append) is cut off first. Appends are single writes
 * in append mode, so writers in several processes do not overwrite each other.
 */
export async function appendWal(dir: string, end: number, record: WalRecord): Promise<void> {
  const path = walPath(dir);
  const text = Buffer.from(formatRecord(record), 'utf8');
  const size = await stat(path).then(
    (s) => s.size,
    () => undefined,
  );
  if (size !== undefined && size > end) {
    // Only a torn line can be there: what another writer appended was read before this call.
    const after = await readWal(dir, end);
    if (after.changes.length === 0) await truncate(path, end);
  }
  const handle = await open(path, 'a');
  try {
    await handle.write(text);
    await handle.datasync();
  } finally {
    await handle.close();
  }
  if (size === undefined) await syncDir(dir);
}

/** Stores a photo durably as `<folder>/<name>` (unless the same bytes are there already). */
export async function storePhoto(folder: string, name: string, bytes: Buffer): Promise<void> {
  await mkdir(folder, { recursive: true });
  const path = join(folder, name);
  const same = await readFile(path).then(
    (b) => b.equals(bytes),
    () => false,
  );
  if (!same) await writeDurably(path, bytes);
}

/** A cheap token of the log's state (size and change time), for watchers. */
export async function walToken(dir: string): Promise<string> {
  return stat(walPath(dir)).then(
    (s) => `${s.size}/${s.mtimeMs}`,
    () => '-',
  );
}

/**
 * Sets the log aside (a --rebuild starts from scratch, API changes included): renamed to
 * `changes-<generation>.wal.discarded`, never read again, kept for whoever wants it back.
 */
export async function discardWal(dir: string, generation: number): Promise<boolean> {
  const to = join(dir, `changes-${String(generation).padStart(6, '0')}.wal.discarded`);
  try {
    await rename(walPath(dir), to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  await syncDir(dir);
  return true;
}
