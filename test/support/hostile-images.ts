/**
 * Hostile image files for tests and benches, built from bytes: a progressive JPEG "scan bomb"
 * (valid, small, and very costly to decode), and a seeded mutator of real image bytes (fuzzing).
 */
import { readFile } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';

// ---------------------------------------------------------------------------------------------------------------
// The scan bomb

/** Writes an entropy-coded segment: bits MSB first, 0xFF bytes stuffed, padded with 1 bits. */
class BitWriter {
  private readonly bytes: number[] = [];
  private acc = 0;
  private n = 0;

  write(value: number, length: number): void {
    for (let i = length - 1; i >= 0; i--) {
      this.acc = (this.acc << 1) | ((value >> i) & 1);
      this.n += 1;
      if (this.n === 8) this.flushByte();
    }
  }

  /** Writes `count` zero bits quickly (whole zero bytes where aligned). */
  zeros(count: number): void {
    while (count > 0 && this.n !== 0) {
      this.write(0, 1);
      count -= 1;
    }
    for (; count >= 8; count -= 8) this.bytes.push(0);
    this.write(0, count);
  }

  private flushByte(): void {
    this.bytes.push(this.acc);
    if (this.acc === 0xff) this.bytes.push(0x00);
    this.acc = 0;
    this.n = 0;
  }

  finish(): Buffer {
    if (this.n > 0) this.write((1 << (8 - this.n)) - 1, 8 - this.n);
    return Buffer.from(this.bytes);
  }
}

function segment(marker: number, body: number[] | Buffer): Buffer {
  const length = body.length + 2;
  return Buffer.concat([Buffer.from([0xff, marker, length >> 8, length & 0xff]), Buffer.from(body)]);
}

/** AC table: the 15 end-of-band-run symbols (0x00, 0x10, ..., 0xE0), each a 4-bit code 0..14. */
const EOB_RUN_CODE = (k: number) => k;

/** Codes an end-of-band run of `run` blocks (1..32767): the EOBk symbol and k extra bits. */
function writeEobRun(w: BitWriter, run: number): void {
  const k = Math.floor(Math.log2(run));
  w.write(EOB_RUN_CODE(k), 4);
  if (k > 0) w.write(run - (1 << k), k);
}

export interface ScanBombOptions {
  width?: number;
  height?: number;
  /** Successive-approximation depth of each AC coefficient: 1 + `al` scans each (0..13). */
  al?: number;
  /** AC coefficients given scans of their own (1..63); the rest stay zero without any scan. */
  coefficients?: number;
}

/**
 * A valid greyscale progressive JPEG (mid grey) whose every AC coefficient has a scan of its own,
 * refined bit by bit: 1 DC scan + coefficients x (al + 1) AC scans (883 with the defaults, 10000x10000,
 * 352 KB). Every scan obeys the progression rules, so the decoder never even warns, but each one
 * walks all 1.56 million blocks: decoding it costs tens of seconds of CPU.
 */
export function scanBombJpeg({
  width = 10000,
  height = 10000,
  al = 13,
  coefficients = 63,
}: ScanBombOptions = {}): Buffer {
  const blocks = Math.ceil(width / 8) * Math.ceil(height / 8);
  const parts: Buffer[] = [Buffer.from([0xff, 0xd8])];
  // Quantisation table 0: all ones.
  parts.push(segment(0xdb, [0x00, ...new Array<number>(64).fill(1)]));
  // SOF2 (progressive, Huffman): 8-bit, one component, 1x1 sampling, table 0.
  parts.push(segment(0xc2, [8, height >> 8, height & 0xff, width >> 8, width & 0xff, 1, 1, 0x11, 0]));
  // DC table 0: one symbol (category 0: no difference), code '0'.
  parts.push(segment(0xc4, [0x00, 1, ...new Array<number>(15).fill(0), 0x00]));
  // AC table 0: 15 symbols of 4 bits, EOB0..EOB14.
  const acCounts = new Array<number>(16).fill(0);
  acCounts[3] = 15;
  parts.push(segment(0xc4, [0x10, ...acCounts, ...Array.from({ length: 15 }, (_, k) => k << 4)]));
  const sos = (ss: number, se: number, ah: number, alBits: number) =>
    segment(0xda, [1, 1, 0x00, ss, se, (ah << 4) | alBits]);

  // The DC scan: every block's difference is 0 (one '0' bit each).
  parts.push(sos(0, 0, 0, 0));
  const dc = new BitWriter();
  dc.zeros(blocks);
  parts.push(dc.finish());

  // All AC scans code nothing but end-of-band runs over every block: the same bits each time.
  const eob = new BitWriter();
  for (let left = blocks; left > 0; left -= Math.min(left, 32767)) writeEobRun(eob, Math.min(left, 32767));
  const eobData = eob.finish();
  for (let k = 1; k <= coefficients; k++) {
    parts.push(sos(k, k, 0, al), eobData);
    for (let ah = al; ah >= 1; ah--) parts.push(sos(k, k, ah, ah - 1), eobData);
  }
  parts.push(Buffer.from([0xff, 0xd9]));
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------------------------------
// Many frames, many pages, a JPEG inside a TIFF

/** A GIF of `frames` 1x1 frames on a `width` x `height` canvas (23 bytes a frame). */
export function manyFrameGif(frames: number, width = 1, height = 1): Buffer {
  const head = Buffer.from([
    ...Buffer.from('GIF89a', 'latin1'),
    width & 255,
    width >> 8,
    height & 255,
    height >> 8,
    0x80, // a global colour table of 2 entries
    0,
    0,
    ...[0, 0, 0, 255, 255, 255],
  ]);
  // A graphic control extension, then a 1x1 image: LZW code size 2, one sub-block.
  const frame = Buffer.from([
    0x21, 0xf9, 4, 0, 0, 0, 0, 0, 0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 0x01, 0,
  ]);
  return Buffer.concat([head, ...new Array<Buffer>(frames).fill(frame), Buffer.from([0x3b])]);
}

export interface RiffChunk {
  id: string;
  /** The whole chunk: header, data and padding. */
  bytes: Buffer;
}

export function riffChunks(b: Buffer): RiffChunk[] {
  const out: RiffChunk[] = [];
  for (let pos = 12; pos + 8 <= b.length; ) {
    const size = b.readUInt32LE(pos + 4);
    const end = Math.min(b.length, pos + 8 + size + (size & 1));
    out.push({ id: b.toString('latin1', pos, pos + 4), bytes: b.subarray(pos, end) });
    pos = end;
  }
  return out;
}

/** A WebP file around these chunks (the RIFF size made right). */
export function riffFile(chunks: Buffer[]): Buffer {
  const body = Buffer.concat(chunks);
  const head = Buffer.alloc(12);
  head.write('RIFF', 0, 'latin1');
  head.writeUInt32LE(body.length + 4, 4);
  head.write('WEBP', 8, 'latin1');
  return Buffer.concat([head, body]);
}

/** An animated WebP with its frames repeated `times` times. */
export function repeatWebpFrames(animated: Buffer, times: number): Buffer {
  const chunks = riffChunks(animated);
  const frames = chunks.filter((c) => c.id === 'ANMF').map((c) => c.bytes);
  const others = chunks.filter((c) => c.id !== 'ANMF').map((c) => c.bytes);
  return riffFile([...others, ...new Array<Buffer[]>(times).fill(frames).flat()]);
}

type TiffTag = [tag: number, type: 3 | 4, value: number];

/** A little-endian TIFF of IFDs with these tags (offsets of strips are the caller's). */
function tiffFile(ifds: TiffTag[][], data: Buffer, dataAt: 'before' | 'after'): Buffer {
  const ifdSize = (tags: TiffTag[]) => 2 + tags.length * 12 + 4;
  const ifdBytes = ifds.reduce((s, t) => s + ifdSize(t), 0);
  const firstIfd = dataAt === 'before' ? 8 + data.length : 8;
  const out = Buffer.alloc(8 + data.length + ifdBytes);
  out.write('II*\0', 0, 'latin1');
  out.writeUInt32LE(firstIfd, 4);
  data.copy(out, dataAt === 'before' ? 8 : 8 + ifdBytes);
  let at = firstIfd;
  ifds.forEach((tags, i) => {
    out.writeUInt16LE(tags.length, at);
    tags.forEach(([tag, type, value], j) => {
      const e = at + 2 + j * 12;
      out.writeUInt16LE(tag, e);
      out.writeUInt16LE(type, e + 2);
      out.writeUInt32LE(1, e + 4);
      if (type === 3) out.writeUInt16LE(value, e + 8);
      else out.writeUInt32LE(value, e + 8);
    });
    const next = at + ifdSize(tags);
    out.writeUInt32LE(i + 1 < ifds.length ? next : 0, at + 2 + tags.length * 12);
    at = next;
  });
  return out;
}

/** A greyscale TIFF of `pages` 1x1 pages, all sharing one uncompressed strip. */
export function manyPageTiff(pages: number): Buffer {
  const tags: TiffTag[] = [
    [256, 4, 1],
    [257, 4, 1],
    [258, 3, 8],
    [259, 3, 1],
    [262, 3, 1],
    [273, 4, 8],
    [277, 3, 1],
    [278, 4, 1],
    [279, 4, 1],
  ];
  return tiffFile(new Array<TiffTag[]>(pages).fill(tags), Buffer.from([128]), 'before');
}

/** A greyscale TIFF whose one strip is this whole JPEG stream (compression 7, "new-style" JPEG). */
export function jpegInTiff(jpeg: Buffer, width: number, height: number): Buffer {
  const tags: TiffTag[] = [
    [256, 4, width],
    [257, 4, height],
    [258, 3, 8],
    [259, 3, 7],
    [262, 3, 1],
    [273, 4, 8],
    [277, 3, 1],
    [278, 4, height],
    [279, 4, jpeg.length],
  ];
  return tiffFile([tags], jpeg, 'before');
}

// ---------------------------------------------------------------------------------------------------------------
// Fuzzing

/** A tiny seeded PRNG (mulberry32): the same seed gives the same cases on every machine. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A part of a file that mutations treat as a unit: a JPEG marker segment, a PNG chunk, a RIFF chunk. */
interface Part {
  start: number;
  end: number;
  /** Where its fields start (after the marker and length, the PNG length and type, the RIFF header). */
  fields: number;
  kind: 'jpeg' | 'png' | 'riff';
}

function jpegParts(b: Buffer): Part[] {
  const parts: Part[] = [];
  let pos = 2;
  while (pos + 4 <= b.length && b[pos] === 0xff) {
    const marker = b[pos + 1] as number;
    if (marker === 0xd9) break;
    let end = pos + 2 + b.readUInt16BE(pos + 2);
    if (marker === 0xda) {
      // The scan's entropy-coded data belongs to it.
      let i = end;
      while (i + 1 < b.length && !(b[i] === 0xff && b[i + 1] !== 0 && ((b[i + 1] as number) & 0xf8) !== 0xd0))
        i++;
      end = i;
    }
    if (end > b.length || end <= pos) break;
    parts.push({ start: pos, end, fields: pos + 4, kind: 'jpeg' });
    pos = end;
  }
  return parts;
}

function pngParts(b: Buffer): Part[] {
  const parts: Part[] = [];
  for (let pos = 8; pos + 12 <= b.length; ) {
    const end = pos + 12 + b.readUInt32BE(pos);
    if (end > b.length) break;
    parts.push({ start: pos, end, fields: pos + 8, kind: 'png' });
    pos = end;
  }
  return parts;
}

function partsOf(b: Buffer): Part[] {
  if (b[0] === 0xff && b[1] === 0xd8) return jpegParts(b);
  if (b.toString('latin1', 1, 4) === 'PNG') return pngParts(b);
  if (b.toString('latin1', 0, 4) === 'RIFF') {
    let at = 12;
    return riffChunks(b).map((c) => {
      const part: Part = { start: at, end: at + c.bytes.length, fields: at + 8, kind: 'riff' };
      at += c.bytes.length;
      return part;
    });
  }
  return [];
}

/** A PNG chunk's CRC made right again, so that the decoder reads what was changed in it. */
function fixPngCrc(b: Buffer, part: Part): void {
  if (part.kind !== 'png' || part.end > b.length) return;
  b.writeUInt32BE(crc32(b.subarray(part.start + 4, part.end - 4)), part.end - 4);
}

/** Sizes in the RIFF header made right again after chunks changed (WebP checks it). */
function fixRiffSize(b: Buffer): void {
  if (b.length >= 12 && b.toString('latin1', 0, 4) === 'RIFF') b.writeUInt32LE(b.length - 8, 4);
}

const INTERESTING = [
  0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0xffffffff,
];

export interface Mutant {
  /** The mutations applied, e.g. "bit-flip x3 + truncate". */
  name: string;
  bytes: Buffer;
}

/**
 * One mutant of a real image file: 1 to 3 of bit flips, truncation, byte insertion or deletion, a header
 * field set to an edge value (PNG CRCs kept valid), a chunk or segment duplicated, dropped or swapped.
 */
export function mutate(source: Buffer, rand: () => number): Mutant {
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;
  let b = Buffer.from(source);
  const names: string[] = [];
  const steps = 1 + int(3);
  for (let s = 0; s < steps && b.length > 0; s++) {
    const parts = partsOf(b);
    const kind = pick([
      'bit-flip',
      'bit-flip',
      'truncate',
      'insert',
      'delete',
      'field',
      'field',
      'duplicate',
      'drop',
      'swap',
    ] as const);
    // Half of the positions fall in the first 1 KB, where the headers are.
    const position = () => (rand() < 0.5 ? int(Math.min(b.length, 1024)) : int(b.length));
    if (kind === 'bit-flip') {
      const n = 1 + int(8);
      for (let i = 0; i < n; i++) {
        const at = position();
        b[at] = (b[at] as number) ^ (1 << int(8));
      }
      names.push(`bit-flip x${n}`);
    } else if (kind === 'truncate') {
      b = b.subarray(0, int(b.length));
      names.push('truncate');
    } else if (kind === 'insert') {
      const at = position();
      const bytes = Buffer.from(Array.from({ length: 1 + int(64) }, () => int(256)));
      b = Buffer.concat([b.subarray(0, at), bytes, b.subarray(at)]);
      names.push('insert');
    } else if (kind === 'delete') {
      const at = position();
      b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + int(64)))]);
      names.push('delete');
    } else if (kind === 'field') {
      // An edge value in a 1-, 2- or 4-byte field of a header part, or of the first bytes.
      const part = parts.length > 0 && rand() < 0.8 ? pick(parts) : undefined;
      const lengthField = part && rand() < 0.25;
      const start = part ? (lengthField ? part.start + (part.kind === 'jpeg' ? 2 : 0) : part.fields) : 0;
      const end = part ? Math.min(part.end, part.fields + 32) : Math.min(b.length, 64);
      const width = lengthField ? (part?.kind === 'jpeg' ? 2 : 4) : pick([1, 2, 4]);
      const at = lengthField ? start : start + int(Math.max(1, end - start));
      const value = rand() < 0.7 ? pick(INTERESTING) : int(2 ** (8 * width));
      if (at + width <= b.length) {
        const v = value % 2 ** (8 * width);
        if (part?.kind === 'riff' && lengthField) b.writeUInt32LE(v, at);
        else b.writeUIntBE(v, at, width);
        if (part) fixPngCrc(b, part);
      }
      names.push(`field${part ? ` (${part.kind}${lengthField ? ' length' : ''})` : ''}`);
    } else if (parts.length > 0) {
      const part = pick(parts);
      const chunk = b.subarray(part.start, part.end);
      if (kind === 'duplicate') {
        const copies = rand() < 0.2 ? 2 + int(100) : 1;
        b = Buffer.concat([
          b.subarray(0, part.end),
          ...new Array<Buffer>(copies).fill(chunk),
          b.subarray(part.end),
        ]);
        names.push(`duplicate x${copies}`);
      } else if (kind === 'drop') {
        b = Buffer.concat([b.subarray(0, part.start), b.subarray(part.end)]);
        names.push('drop');
      } else {
        const other = pick(parts);
        const [first, second] = part.start < other.start ? [part, other] : [other, part];
        b =
          first === second
            ? b
            : Buffer.concat([
                b.subarray(0, first.start),
                b.subarray(second.start, second.end),
                b.subarray(first.end, second.start),
                b.subarray(first.start, first.end),
                b.subarray(second.end),
              ]);
        names.push('swap');
      }
      if (rand() < 0.8) fixRiffSize(b);
    } else {
      b = b.subarray(0, Math.max(0, b.length - 1 - int(16)));
      names.push('truncate');
    }
  }
  return { name: names.join(' + '), bytes: b };
}

// ---------------------------------------------------------------------------------------------------------------
// Real photos to fuzz

export interface FuzzSource {
  name: string;
  bytes: Buffer;
}

/** Real catalogue photos (224x224 JPEGs) that the fuzz sources are made from. */
export const FUZZ_PHOTO_IDS = [10410, 10595, 11262, 14787, 19510];

/**
 * Fuzz sources: real JPEG photos as they are, and made from them with sharp a progressive JPEG, PNGs (plain,
 * and interlaced with transparency), WebPs (lossy, lossless with transparency, animated), an animated GIF
 * and a TIFF.
 */
export async function fuzzSources(photoPath: (id: number) => string): Promise<FuzzSource[]> {
  const sources: FuzzSource[] = [];
  for (const id of FUZZ_PHOTO_IDS) {
    sources.push({ name: `${id}.jpg`, bytes: await readFile(photoPath(id)) });
  }
  const photo = photoPath(FUZZ_PHOTO_IDS[0] as number);
  const second = photoPath(FUZZ_PHOTO_IDS[1] as number);
  // Two frames: the first photo, then the second (same size).
  const frames = Buffer.concat([
    await sharp(photo).ensureAlpha().raw().toBuffer(),
    await sharp(second).resize(224, 224).ensureAlpha().raw().toBuffer(),
  ]);
  const animation = () => sharp(frames, { raw: { width: 224, height: 448, channels: 4, pageHeight: 224 } });
  const alpha = sharp(photo).ensureAlpha(0.6);
  const made: [string, Promise<Buffer>][] = [
    ['progressive.jpg', sharp(photo).jpeg({ progressive: true, quality: 85 }).toBuffer()],
    ['plain.png', sharp(photo).png().toBuffer()],
    ['interlaced-alpha.png', alpha.clone().png({ progressive: true }).toBuffer()],
    ['lossy.webp', sharp(second).webp({ quality: 80 }).toBuffer()],
    ['lossless-alpha.webp', alpha.clone().webp({ lossless: true }).toBuffer()],
    ['animated.webp', animation().webp({ effort: 0 }).toBuffer()],
    ['animated.gif', animation().gif().toBuffer()],
    ['lzw.tiff', sharp(second).tiff({ compression: 'lzw' }).toBuffer()],
  ];
  for (const [name, bytes] of made) sources.push({ name, bytes: await bytes });
  return sources;
}

// ---------------------------------------------------------------------------------------------------------------
// Headers that claim another size

/**
 * The photo with its header claiming `width` x `height` (the pixel data stays as it was): the JPEG frame
 * header, the PNG IHDR (its CRC made right), a GIF's screen and first frame, the lossless WebP (VP8L)
 * header, or the AVIF 'ispe' box.
 */
export function claimSize(b: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(b);
  if (out[0] === 0xff && out[1] === 0xd8) {
    const sof = jpegParts(out).find((p) => {
      const m = out[p.start + 1] as number;
      return m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
    });
    if (!sof) throw new Error('no JPEG frame header');
    out.writeUInt16BE(height, sof.fields + 1);
    out.writeUInt16BE(width, sof.fields + 3);
  } else if (out.toString('latin1', 1, 4) === 'PNG') {
    out.writeUInt32BE(width, 16);
    out.writeUInt32BE(height, 20);
    out.writeUInt32BE(crc32(out.subarray(12, 29)), 29);
  } else if (out.toString('latin1', 0, 4) === 'GIF8') {
    // The logical screen, and the first frame (the decoder takes the frame's size when it is alone).
    out.writeUInt16LE(width, 6);
    out.writeUInt16LE(height, 8);
    const flags = out[10] as number;
    let pos = 13 + (flags & 0x80 ? 3 * (1 << ((flags & 7) + 1)) : 0);
    while (out[pos] === 0x21) {
      pos += 2; // extension introducer and label, then its sub-blocks
      while ((out[pos] ?? 0) !== 0) pos += 1 + (out[pos] as number);
      pos += 1;
    }
    if (out[pos] !== 0x2c) throw new Error('no GIF frame');
    out.writeUInt16LE(width, pos + 5);
    out.writeUInt16LE(height, pos + 7);
  } else if (out.toString('latin1', 12, 16) === 'VP8L') {
    const bits = out.readUInt32LE(21);
    out.writeUInt32LE(((bits & 0xf0000000) | ((height - 1) << 14) | (width - 1)) >>> 0, 21);
  } else {
    const ispe = out.indexOf('ispe', 0, 'latin1');
    if (ispe < 0) throw new Error('no size to change');
    out.writeUInt32BE(width, ispe + 8);
    out.writeUInt32BE(height, ispe + 12);
  }
  return out;
}
