/**
 * Resumable indexing: while a run embeds, every few hundred photos it writes a checkpoint chunk
 * (content hashes + their vectors) into <index>/.work/. A run that is killed leaves its chunks;
 * the next run with the same embedding spec reads them back and embeds only what is missing.
 * Each chunk appears by an atomic rename, so a chunk is either whole or absent.
 */
import { existsSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type EmbeddingSpec, sameSpec } from '../embeddings/embedder.js';

export const workDir = (indexDir: string) => join(indexDir, '.work');

export class Checkpoint {
  private constructor(
    readonly dir: string,
    private next: number,
  ) {}

  /** Opens the work folder of an index, discarding it if it was made with another spec. */
  static async open(indexDir: string, spec: EmbeddingSpec): Promise<Checkpoint> {
    const dir = workDir(indexDir);
    const specPath = join(dir, 'spec.json');
    if (existsSync(specPath)) {
      const previous = JSON.parse(await readFile(specPath, 'utf8')) as EmbeddingSpec;
      if (!sameSpec(previous, spec)) await rm(dir, { recursive: true, force: true });
    }
    await mkdir(dir, { recursive: true });
    if (!existsSync(specPath)) await writeFile(specPath, JSON.stringify(spec));
    const chunks = (await readdir(dir)).filter((f) => /^chunk-\d+\.bin$/.test(f));
    return new Checkpoint(dir, chunks.length + 1);
  }

  /** Vectors saved by earlier, interrupted runs, by content hash. */
  async load(dim: number): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    for (const name of (await readdir(this.dir)).filter((f) => /^chunk-\d+\.bin$/.test(f)).sort()) {
      const buf = await readFile(join(this.dir, name));
      const headerLength = buf.readUInt32LE(0);
      const hashes = JSON.parse(buf.subarray(4, 4 + headerLength).toString('utf8')) as string[];
      const body = buf.subarray(4 + headerLength);
      if (body.length !== hashes.length * dim * 4) continue; // not ours, or another dimension
      const all = new Float32Array(hashes.length * dim);
      new Uint8Array(all.buffer).set(body);
      hashes.forEach((h, i) => {
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
    const tmp = `${path}.tmp`;
    const handle = await open(tmp, 'w');
    try {
      await handle.writeFile(Buffer.concat([length, header, body]));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  }

  /** Called once the index that holds these vectors is committed. */
  async discard(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
