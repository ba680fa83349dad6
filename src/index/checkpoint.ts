/**
 * Resumable indexing: while a run embeds, every few hundred photos it writes a checkpoint chunk
 * (content hashes + their vectors) into <index>/.work/. A run that is killed leaves its chunks;
 * the next run with the same embedding spec reads them back and embeds only what is missing.
 * Each chunk is written durably (src/io/durable.ts), so a chunk is either whole or absent; a
 * chunk whose vectors are not sound (not finite, not of unit length) is ignored. Only the work
 * folder's own files are ever removed (its journals are journal.ts's).
 */
import { mkdir, readdir, readFile, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { type EmbeddingSpec, sameSpec } from '../embeddings/spec.js';
import { EmbeddingSpecSchema } from '../embeddings/spec-schema.js';
import { writeDurably, writeJsonDurably } from '../io/durable.js';
import { FileFormatError, parseJson, readJsonFile } from '../io/json-file.js';
import { findBadVector } from './integrity.js';
import { removeOwn, workDir } from './journal.js';
import { IndexError } from './store.js';

export { workDir } from './journal.js';

const CHUNK = /^chunk-\d+\.bin$/;
const HashesSchema = z.array(z.string());

/** The spec recorded in the work folder; undefined when absent or unreadable (the folder is then discarded). */
async function readSpec(path: string): Promise<EmbeddingSpec | undefined> {
  try {
    return await readJsonFile(path, EmbeddingSpecSchema, { optional: true });
  } catch (err) {
    if (err instanceof FileFormatError) return undefined;
    throw err;
  }
}

/** A chunk's hashes and vectors, or undefined when it is not a chunk of this dimension. */
function readChunk(path: string, buf: Buffer, dim: number): { hashes: string[]; body: Buffer } | undefined {
  if (buf.length < 4) return undefined;
  const headerLength = buf.readUInt32LE(0);
  if (4 + headerLength > buf.length) return undefined;
  let hashes: string[];
  try {
    hashes = parseJson(path, buf.subarray(4, 4 + headerLength).toString('utf8'), HashesSchema);
  } catch (err) {
    if (err instanceof FileFormatError) return undefined;
    throw err;
  }
  const body = buf.subarray(4 + headerLength);
  return body.length === hashes.length * dim * 4 ? { hashes, body } : undefined;
}

/** Removes the checkpoints of an index folder (its chunks and their spec). */
export async function clearCheckpoints(indexDir: string): Promise<void> {
  const dir = workDir(indexDir);
  const names = await readdir(dir).catch(() => undefined);
  if (!names) return;
  // (Chunks being written when a run was killed are among the temporary files of their names.)
  const own = names.filter((f) => CHUNK.test(f) || CHUNK.test(f.replace(/\.[0-9a-f]{8}\.tmp$/, '')));
  await removeOwn(dir, [...own, 'spec.json'], ['spec.json']);
  // The folder goes when nothing else (a journal) is left in it.
  await rmdir(dir).catch(() => undefined);
}

export class Checkpoint {
  private constructor(
    private readonly indexDir: string,
    readonly dir: string,
    private next: number,
  ) {}

  /** Opens the work folder of an index, discarding it if it was made with another spec. */
  static async open(indexDir: string, spec: EmbeddingSpec): Promise<Checkpoint> {
    const dir = workDir(indexDir);
    const specPath = join(dir, 'spec.json');
    let previous = await readSpec(specPath);
    if (previous && !sameSpec(previous, spec)) previous = undefined;
    if (!previous) {
      await clearCheckpoints(indexDir);
      await mkdir(dir, { recursive: true });
      await writeJsonDurably(specPath, spec);
    }
    const numbers = (await readdir(dir)).filter((f) => CHUNK.test(f)).map((f) => Number(f.slice(6, -4)));
    return new Checkpoint(indexDir, dir, Math.max(0, ...numbers) + 1);
  }

  /** Vectors saved by earlier, interrupted runs, by content hash. */
  async load(dim: number): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    for (const name of (await readdir(this.dir)).filter((f) => CHUNK.test(f)).sort()) {
      const path = join(this.dir, name);
      const chunk = readChunk(path, await readFile(path), dim);
      if (!chunk) continue; // not ours, or another dimension
      const all = new Float32Array(chunk.hashes.length * dim);
      new Uint8Array(all.buffer).set(chunk.body);
      if (findBadVector(all, dim)) continue; // damaged: embedded again
      chunk.hashes.forEach((h, i) => {
        out.set(h, all.subarray(i * dim, (i + 1) * dim));
      });
    }
    return out;
  }

  /** Saves a batch of finished vectors durably. */
  async save(entries: [string, Float32Array][]): Promise<void> {
    if (entries.length === 0) return;
    const header = Buffer.from(JSON.stringify(entries.map(([h]) => h)), 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32LE(header.length, 0);
    const body = Buffer.concat(entries.map(([, v]) => Buffer.from(v.buffer, v.byteOffset, v.byteLength)));
    const path = join(this.dir, `chunk-${String(this.next).padStart(6, '0')}.bin`);
    this.next += 1;
    try {
      await writeDurably(path, Buffer.concat([length, header, body]));
    } catch (err) {
      throw new IndexError(`cannot write a checkpoint in ${this.dir}: ${(err as Error).message}`);
    }
  }

  /** Called once the index that holds these vectors is committed. */
  async discard(): Promise<void> {
    await clearCheckpoints(this.indexDir);
  }
}
