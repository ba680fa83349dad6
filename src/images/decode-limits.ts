/**
 * How much work decoding a photo will take, read from its structure before any pixel is decoded,
 * so that a small file that would cost seconds of CPU or gigabytes of memory is refused at once.
 *
 * Pixels and bytes alone do not bound the work:
 * - a progressive JPEG's scans each walk the whole image: a 352 KB grey 10000x10000 JPEG with 883
 *   valid scans (real encoders write about 10) costs libjpeg tens of seconds, and nothing can stop
 *   it part-way (sharp's `timeout` is only checked between tiles, after the scans are read);
 * - a GIF, WebP or TIFF with a huge number of frames or pages costs seconds (WebP: more than
 *   linearly) even when only the first is decoded, because the decoders walk them all first;
 * - some layouts are decoded whole, at full size, before anything is resized: progressive JPEG
 *   (its coefficients), interlaced PNG, GIF, lossless or animated WebP, AVIF, TIFF in one strip.
 *
 * The walks below read only the container's structure (markers, blocks, chunks, directories); no
 * library does this for these formats, and each is a few lines.
 */
import type { Metadata } from 'sharp';
import { ImageError } from './errors.js';

/** More scans than this in one JPEG are refused (libjpeg writes 10 for colour, 6 for grey). */
export const MAX_JPEG_SCANS = 64;
/**
 * At most this many 8x8 blocks visited by all of a JPEG's scans together: 32 passes over the
 * largest image accepted (100 megapixels = 1,562,500 blocks), 1 to 2 s of decoding here. A
 * libjpeg progressive photo of 100 megapixels needs about 8 passes (4:2:0) or 14 (4:4:4).
 */
export const MAX_JPEG_BLOCK_VISITS = 32 * 1_562_500;
/** Animations and TIFFs with more frames or pages than this are refused (only the first is used). */
export const MAX_FRAMES = 1000;
/** Memory one decode may hold when the format makes the decoder keep the whole image. */
export const MAX_BUFFERED_BYTES = 256 * 1024 * 1024;
/** AVIF (AV1) decodes at about 120 ns a pixel here: at most this many pixels, about 2 s. */
export const MAX_AVIF_PIXELS = 16_000_000;

// ---------------------------------------------------------------------------------------------------------------
// JPEG

export interface JpegStructure {
  /** Start-of-scan segments before the end-of-image marker (or the end of the data). */
  scans: number;
  /** 8x8 blocks of all components together (0 when no frame header comes before the scans). */
  blocks: number;
  /** Blocks visited by all scans together: each scan walks every block of its components. */
  blockVisits: number;
}

interface JpegComponent {
  id: number;
  h: number;
  v: number;
  blocks: number;
}

/** SOF0..SOF15, except DHT (C4), JPG (C8) and DAC (CC). */
const isStartOfFrame = (m: number) => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
/** Markers without a length: TEM, RST0..RST7, SOI (and stuffed zero outside a scan: garbage). */
const isStandalone = (m: number) => m === 0x00 || m === 0x01 || (m >= 0xd0 && m <= 0xd8);

/**
 * The scans of a JPEG and the blocks they visit, from its markers; undefined if it is not a JPEG.
 * Stops counting after `stopAfter` scans. Damaged data is walked as far as it goes: the decoder
 * reports the damage itself.
 */
export function jpegStructure(b: Buffer, stopAfter = Number.POSITIVE_INFINITY): JpegStructure | undefined {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return undefined;
  let components: JpegComponent[] | undefined;
  let mcus = 0;
  let scans = 0;
  let blockVisits = 0;
  let pos = 2;
  while (pos < b.length && scans < stopAfter) {
    // Like libjpeg: skip anything up to the next 0xFF, then fill bytes.
    if (b[pos] !== 0xff) {
      pos = b.indexOf(0xff, pos);
      if (pos < 0) break;
    }
    while (pos < b.length && b[pos] === 0xff) pos++;
    if (pos >= b.length) break;
    const marker = b[pos++] as number;
    if (marker === 0xd9) break; // EOI
    if (isStandalone(marker)) continue;
    if (pos + 2 > b.length) break;
    const length = b.readUInt16BE(pos);
    if (length < 2) break;
    const body = pos + 2;
    const end = pos + length;
    if (isStartOfFrame(marker) && !components && end <= b.length && length >= 8) {
      ({ components, mcus } = jpegFrame(b, body));
    } else if (marker === 0xda) {
      scans += 1;
      blockVisits += scanBlocks(b, body, end, components, mcus);
      pos = afterEntropyData(b, end);
      continue;
    }
    pos = end;
  }
  const blocks = (components ?? []).reduce((sum, c) => sum + c.blocks, 0);
  return { scans, blocks, blockVisits };
}

function jpegFrame(b: Buffer, body: number): { components: JpegComponent[]; mcus: number } {
  const height = b.readUInt16BE(body + 1);
  const width = b.readUInt16BE(body + 3);
  const count = b[body + 5] as number;
  const raw: { id: number; h: number; v: number }[] = [];
  for (let i = 0; i < count && body + 6 + i * 3 + 2 < b.length; i++) {
    const at = body + 6 + i * 3;
    const hv = b[at + 1] as number;
    raw.push({ id: b[at] as number, h: Math.max(1, hv >> 4), v: Math.max(1, hv & 15) });
  }
  const hMax = Math.max(1, ...raw.map((c) => c.h));
  const vMax = Math.max(1, ...raw.map((c) => c.v));
  const components = raw.map((c) => ({
    ...c,
    blocks: Math.ceil(Math.ceil((width * c.h) / hMax) / 8) * Math.ceil(Math.ceil((height * c.v) / vMax) / 8),
  }));
  const mcus = Math.ceil(width / (8 * hMax)) * Math.ceil(height / (8 * vMax));
  return { components, mcus };
}

/** Blocks one scan visits: all of its one component's, or every MCU's blocks of its components. */
function scanBlocks(
  b: Buffer,
  body: number,
  end: number,
  components: JpegComponent[] | undefined,
  mcus: number,
): number {
  if (!components || body >= b.length) return 0;
  const count = b[body] as number;
  const inScan: JpegComponent[] = [];
  for (let i = 0; i < count && body + 1 + i * 2 < Math.min(end, b.length); i++) {
    const c = components.find((x) => x.id === b[body + 1 + i * 2]);
    if (c) inScan.push(c);
  }
  if (inScan.length === 1) return (inScan[0] as JpegComponent).blocks;
  return mcus * inScan.reduce((sum, c) => sum + c.h * c.v, 0);
}

/** Where the entropy-coded data after a scan header ends: at the first marker other than RSTn. */
function afterEntropyData(b: Buffer, from: number): number {
  let i = from;
  for (;;) {
    i = b.indexOf(0xff, i);
    if (i < 0 || i + 1 >= b.length) return b.length;
    const next = b[i + 1] as number;
    if (next === 0x00 || (next >= 0xd0 && next <= 0xd7)) i += 2;
    else if (next === 0xff) i += 1;
    else return i;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Frames and pages

/** Image descriptors in a GIF (its frames), counting up to `stopAt`. */
export function gifFrames(b: Buffer, stopAt = Number.POSITIVE_INFINITY): number {
  if (b.length < 13 || b.toString('latin1', 0, 4) !== 'GIF8') return 0;
  const colourTable = (flags: number) => (flags & 0x80 ? 3 * (1 << ((flags & 7) + 1)) : 0);
  const skipSubBlocks = (at: number): number => {
    while (at < b.length) {
      const n = b[at] as number;
      at += 1 + n;
      if (n === 0) break;
    }
    return at;
  };
  let pos = 13 + colourTable(b[10] as number);
  let frames = 0;
  while (pos < b.length && frames < stopAt) {
    const block = b[pos++];
    if (block === 0x21) {
      pos = skipSubBlocks(pos + 1); // label, then data sub-blocks
    } else if (block === 0x2c) {
      frames += 1;
      if (pos + 9 >= b.length) break;
      pos += 9 + colourTable(b[pos + 8] as number) + 1; // descriptor, local colours, LZW code size
      pos = skipSubBlocks(pos);
    } else {
      break; // the trailer (0x3B), or data the decoder stops at too
    }
  }
  return frames;
}

/** Animation frames (ANMF chunks) in a WebP, counting up to `stopAt`. */
export function webpFrames(b: Buffer, stopAt = Number.POSITIVE_INFINITY): number {
  let frames = 0;
  for (const chunk of riffChunks(b)) {
    if (chunk.id === 'ANMF' && ++frames >= stopAt) break;
  }
  return frames;
}

/** The kind of the first image chunk of a WebP: 'VP8 ' (lossy), 'VP8L' (lossless) or 'VP8X' (extended). */
export function webpKind(b: Buffer): string | undefined {
  return riffChunks(b).next().value?.id;
}

function* riffChunks(b: Buffer): Generator<{ id: string; at: number; size: number }> {
  if (b.length < 12 || b.toString('latin1', 0, 4) !== 'RIFF' || b.toString('latin1', 8, 12) !== 'WEBP')
    return;
  for (let pos = 12; pos + 8 <= b.length; ) {
    const size = b.readUInt32LE(pos + 4);
    yield { id: b.toString('latin1', pos, pos + 4), at: pos + 8, size };
    pos += 8 + size + (size & 1);
  }
}

export interface TiffStructure {
  /** Image file directories (pages), counting up to the caller's limit. */
  pages: number;
  /** Bytes of one strip or tile of the first page, decoded: the decoder holds one at a time. */
  chunkBytes: number;
}

/** The pages of a TIFF (classic or BigTIFF), and the decoded size of the first page's strips or tiles. */
export function tiffStructure(b: Buffer, stopAt = Number.POSITIVE_INFINITY): TiffStructure | undefined {
  if (b.length < 8) return undefined;
  const order = b.toString('latin1', 0, 2);
  if (order !== 'II' && order !== 'MM') return undefined;
  const le = order === 'II';
  const u16 = (at: number) => (le ? b.readUInt16LE(at) : b.readUInt16BE(at));
  const u32 = (at: number) => (le ? b.readUInt32LE(at) : b.readUInt32BE(at));
  const u64 = (at: number) => Number(le ? b.readBigUInt64LE(at) : b.readBigUInt64BE(at));
  const magic = u16(2);
  if (magic !== 42 && magic !== 43) return undefined;
  const big = magic === 43;
  if (big && b.length < 16) return undefined;
  const entrySize = big ? 20 : 12;
  const tags = new Map<number, number>();
  /** The first value of a tag of type BYTE, SHORT, LONG or LONG8, inline or at its offset. */
  const firstValue = (entry: number): number | undefined => {
    const type = u16(entry + 2);
    const count = big ? u64(entry + 4) : u32(entry + 4);
    const size = type === 1 ? 1 : type === 3 ? 2 : type === 4 ? 4 : type === 16 ? 8 : 0;
    if (size === 0 || count < 1) return undefined;
    const field = entry + (big ? 12 : 8);
    const at = size * count <= (big ? 8 : 4) ? field : big ? u64(field) : u32(field);
    if (at + size > b.length) return undefined;
    return size === 1 ? b[at] : size === 2 ? u16(at) : size === 4 ? u32(at) : u64(at);
  };
  let pages = 0;
  let ifd = big ? u64(8) : u32(4);
  const seen = new Set<number>();
  while (ifd > 0 && ifd + (big ? 8 : 2) <= b.length && !seen.has(ifd) && pages < stopAt) {
    seen.add(ifd);
    pages += 1;
    const count = big ? u64(ifd) : u16(ifd);
    const first = ifd + (big ? 8 : 2);
    const next = first + count * entrySize;
    if (pages === 1) {
      for (let e = first; e + entrySize <= Math.min(next, b.length); e += entrySize) {
        const value = firstValue(e);
        if (value !== undefined) tags.set(u16(e), value);
      }
    }
    if (next + (big ? 8 : 4) > b.length) break;
    ifd = big ? u64(next) : u32(next);
  }
  const width = tags.get(256) ?? 0;
  const height = tags.get(257) ?? 0;
  const samples = tags.get(277) ?? 1;
  const bytesPerSample = Math.ceil((tags.get(258) ?? 1) / 8);
  const tileWidth = tags.get(322);
  const tileHeight = tags.get(323);
  const rows = Math.min(height, tags.get(278) ?? height);
  const chunkPixels = tileWidth && tileHeight ? tileWidth * tileHeight : width * rows;
  return { pages, chunkBytes: chunkPixels * samples * bytesPerSample };
}

// ---------------------------------------------------------------------------------------------------------------
// The checks

const megabytes = (bytes: number) => `${Math.ceil(bytes / 1024 / 1024)} MB`;

/**
 * Refuses, before even the header is read, a photo whose structure means too much work: a JPEG with too
 * many scans or scans that visit too many blocks, an animation or TIFF with too many frames or pages.
 * @throws ImageError 'too-complex'
 */
export function checkStructure(b: Buffer, name: string): void {
  const jpeg = jpegStructure(b, MAX_JPEG_SCANS + 1);
  if (jpeg) {
    if (jpeg.scans > MAX_JPEG_SCANS) {
      throw new ImageError(
        name,
        'too-complex',
        `JPEG has more than ${MAX_JPEG_SCANS} scans (an ordinary photo has about 10): decoding it would take too long`,
      );
    }
    if (jpeg.blockVisits > MAX_JPEG_BLOCK_VISITS) {
      throw new ImageError(
        name,
        'too-complex',
        `JPEG's ${jpeg.scans} scans would walk its ${jpeg.blocks} blocks ${(jpeg.blockVisits / jpeg.blocks).toFixed(1)} times ` +
          `(${jpeg.blockVisits} block visits, over the limit of ${MAX_JPEG_BLOCK_VISITS}): decoding it would take too long`,
      );
    }
    return;
  }
  const frames: [string, number][] = [
    ['animated GIF', gifFrames(b, MAX_FRAMES + 1)],
    ['animated WebP', webpFrames(b, MAX_FRAMES + 1)],
    ['TIFF', tiffStructure(b, MAX_FRAMES + 1)?.pages ?? 0],
  ];
  for (const [what, count] of frames) {
    if (count > MAX_FRAMES) {
      throw new ImageError(
        name,
        'too-complex',
        `${what} has more than ${MAX_FRAMES} ${what === 'TIFF' ? 'pages' : 'frames'} (only the first is used, ` +
          'but reading it means walking them all)',
      );
    }
  }
}

/**
 * Refuses, once the header is read, a photo that the decoder would have to hold whole (at full size) in more
 * than MAX_BUFFERED_BYTES, and an AVIF over MAX_AVIF_PIXELS. Formats decoded a few rows at a time (baseline
 * JPEG, non-interlaced PNG, lossy WebP, TIFF in strips) are bound by the pixel limit alone.
 * @throws ImageError 'too-large'
 */
export function checkBufferedDecode(b: Buffer, meta: Metadata, name: string): void {
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  const pixels = width * height;
  const size = `${width}x${height}`;
  let what: string | undefined;
  let bytes = 0;
  switch (meta.format) {
    case 'jpeg': {
      const jpeg = jpegStructure(b, MAX_JPEG_SCANS + 1);
      if (jpeg && jpeg.scans > 1) {
        // Every scan adds to every block's coefficients: 64 of 2 bytes each, kept until the last scan.
        what = `${meta.isProgressive ? 'progressive' : 'multi-scan'} JPEG of ${size} (its coefficients)`;
        bytes = jpeg.blocks * 128;
      }
      break;
    }
    case 'png':
      if (meta.isProgressive) {
        what = `interlaced PNG of ${size}, ${meta.channels ?? 4} channels`;
        bytes = pixels * (meta.channels ?? 4) * (meta.depth === 'ushort' ? 2 : 1);
      }
      break;
    case 'gif':
      what = `GIF of ${size}`;
      bytes = pixels * 4;
      break;
    case 'webp':
      if (webpKind(b) !== 'VP8 ') {
        what = `lossless, transparent or animated WebP of ${size}`;
        bytes = pixels * 4;
      }
      break;
    case 'heif':
      if (pixels > MAX_AVIF_PIXELS) {
        throw new ImageError(
          name,
          'too-large',
          `AVIF image is ${size} = ${pixels} pixels, over the limit of ${MAX_AVIF_PIXELS} pixels for AVIF (slow to decode)`,
        );
      }
      break;
    case 'tiff': {
      const tiff = tiffStructure(b, 1);
      what = `TIFF of ${size} (one strip or tile)`;
      bytes = tiff?.chunkBytes ?? 0;
      break;
    }
  }
  if (what && bytes > MAX_BUFFERED_BYTES) {
    throw new ImageError(
      name,
      'too-large',
      `${what} is decoded whole and needs ${megabytes(bytes)} for it, over the limit of ${megabytes(MAX_BUFFERED_BYTES)}`,
    );
  }
}
