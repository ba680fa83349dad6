/**
 * Integrity of index data files: CRC-32 checksums (as zlib and most tools compute them) and the
 * soundness of vectors (finite, of unit length). Checking a large vectors file runs in a worker
 * thread that reads the file on its own, so that it overlaps the loading instead of adding to it.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import zlib from 'node:zlib';

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** CRC-32 of bytes, continuing from `value` (zlib's, in Node 20.15 and later; else a table). */
export function crc32(data: Uint8Array, value = 0): number {
  if (typeof zlib.crc32 === 'function') return zlib.crc32(data, value);
  let c = ~value >>> 0;
  for (let i = 0; i < data.length; i++)
    c = (CRC_TABLE[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}

/** `crc32:<8 hex digits>`, as a manifest records it. */
export const checksumText = (crc: number) => `crc32:${crc.toString(16).padStart(8, '0')}`;

/** The checksum of a data file's bytes, as the manifest records it. */
export const checksumOf = (data: Uint8Array): string => checksumText(crc32(data));

/** Squared norms within this of 1 are unit vectors (float32 rounding over 2048 terms is far smaller). */
const NORM_TOLERANCE = 1e-3;

/** Sum of squares of v[start, start + dim): NaN or Infinity when a value is not finite. */
function squaredNorm(v: Float32Array, start: number, dim: number): number {
  const end = start + dim;
  const quads = start + (dim - (dim % 4));
  let a = 0;
  let b = 0;
  let c = 0;
  let d = 0;
  let i = start;
  for (; i < quads; i += 4) {
    const w = v[i] as number;
    const x = v[i + 1] as number;
    const y = v[i + 2] as number;
    const z = v[i + 3] as number;
    a += w * w;
    b += x * x;
    c += y * y;
    d += z * z;
  }
  for (; i < end; i++) a += (v[i] as number) ** 2;
  return a + b + c + d;
}

export interface BadVector {
  row: number;
  reason: string;
}

/**
 * The first row of count x dim vectors (numbered from `firstRow`) that is not finite or not of
 * unit length (zero vectors are allowed: the embedding of a featureless photo); undefined when
 * every row is sound.
 */
export function findBadVector(vectors: Float32Array, dim: number, firstRow = 0): BadVector | undefined {
  const rows = Math.floor(vectors.length / dim);
  for (let r = 0; r < rows; r++) {
    const s = squaredNorm(vectors, r * dim, dim);
    if (Math.abs(s - 1) <= NORM_TOLERANCE || s === 0) continue;
    const row = firstRow + r;
    if (!Number.isFinite(s)) return { row, reason: `row ${row} holds values that are not finite numbers` };
    return { row, reason: `row ${row} is not a unit vector (length ${Math.sqrt(s).toPrecision(6)})` };
  }
  return undefined;
}

export interface FileCheck {
  /** Dimension of the rows (the file is count x dim float32). */
  dim: number;
  /** Also check every vector (finite, unit length). */
  checkVectors: boolean;
}

export interface FileCheckResult {
  /** The file's checksum (checksumText). */
  checksum: string;
  /** The first unsound vector, when checkVectors. */
  bad?: BadVector;
}

/** Reads a vectors file through, in this thread: its checksum, and its first unsound vector. */
export function checkVectorsFile(path: string, { dim, checkVectors }: FileCheck): FileCheckResult {
  const rowBytes = dim * 4;
  const chunk = new Float32Array(Math.max(1, Math.floor((16 * 1024 * 1024) / rowBytes)) * dim);
  const bytes = new Uint8Array(chunk.buffer);
  const fd = openSync(path, 'r');
  try {
    let crc = 0;
    let row = 0;
    let bad: BadVector | undefined;
    for (let position = 0; ; ) {
      let length = 0;
      while (length < bytes.length) {
        const n = readSync(fd, bytes, length, bytes.length - length, position + length);
        if (n === 0) break;
        length += n;
      }
      if (length === 0) break;
      crc = crc32(bytes.subarray(0, length), crc);
      if (checkVectors && !bad) bad = findBadVector(chunk.subarray(0, Math.floor(length / 4)), dim, row);
      row += Math.floor(length / rowBytes);
      position += length;
      if (length < bytes.length) break;
    }
    return { checksum: checksumText(crc), ...(bad ? { bad } : {}) };
  } finally {
    closeSync(fd);
  }
}

const fromSource = import.meta.url.endsWith('.ts');
const workerUrl = new URL(`./integrity-worker.${fromSource ? 'ts' : 'js'}`, import.meta.url);

/** From dist/ the worker is plain JavaScript; from src/ (tests run through tsx) it registers tsx first. */
function startWorker(data: { path: string } & FileCheck): Worker {
  if (!fromSource) return new Worker(workerUrl, { workerData: data });
  const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(workerUrl.href)}); });`;
  return new Worker(bootstrap, { eval: true, workerData: data });
}

/**
 * checkVectorsFile in a worker thread (in this one, should a worker not start). Rejects with the
 * error of reading the file.
 */
export function checkVectorsFileAside(path: string, check: FileCheck): Promise<FileCheckResult> {
  return new Promise((resolve, reject) => {
    let worker: Worker;
    try {
      worker = startWorker({ path, ...check });
    } catch {
      resolve(checkVectorsFile(path, check));
      return;
    }
    let settled = false;
    worker.once('message', (message: { result?: FileCheckResult; error?: string }) => {
      settled = true;
      if (message.result) resolve(message.result);
      else reject(new Error(message.error ?? 'the check failed'));
    });
    worker.once('error', (err) => {
      if (!settled) reject(err);
      settled = true;
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`the check of ${path} stopped (exit ${code})`));
    });
  });
}
