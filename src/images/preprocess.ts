/**
 * Photo → pixels: decode any accepted image format to 224x224 sRGB pixels (the tensor is made from them in
 * src/embeddings/input-tensor.ts). Every failure is reported as an ImageError.
 */
import { readFile, stat } from 'node:fs/promises';
import sharp, { type FailOnOptions, type Metadata, type OutputInfo, type Sharp } from 'sharp';
import { checkBufferedDecode, checkStructure, MAX_JPEG_SCANS } from './decode-limits.js';
import { ImageError, type ImageErrorCode } from './errors.js';
import type { RgbImage } from './foreground.js';
import { INPUT_SIZE, type ResizePolicy } from './geometry.js';

/** Larger images (width x height) are refused before decoding: 100 megapixels. */
export const MAX_INPUT_PIXELS = 100_000_000;

/** Files bigger than this are refused without being read (a 100-megapixel 16-bit RGBA TIFF is 800 MB). */
const MAX_FILE_BYTES = 1024 * 1024 * 1024;

// libtiff refuses a JPEG-compressed strip or tile whose scan number reaches this (its default is 100): the
// same limit as for JPEG files. libtiff reads it whenever it opens such a TIFF; an operator's setting is kept.
process.env.LIBTIFF_JPEG_MAX_ALLOWED_SCAN_NUMBER ??= String(MAX_JPEG_SCANS + 1);

/** Bytes in one decoded image. */

/**
 * When sharp aborts on damaged pixel data. Without it (failOn 'none') a truncated JPEG decodes "successfully"
 * with the missing part grey (128) and a truncated PNG with it black. 'error' catches truncation in every
 * format. libjpeg reports corrupt scan data (bad Huffman codes, premature end of a data segment) only as
 * warnings, so JPEG gets 'warning'; other formats get 'error', because libtiff also warns about harmless
 * metadata oddities (e.g. a tag of an unexpected type) that should not make a photo unusable.
 */
function failOnFor(format: string | undefined): FailOnOptions {
  return format === 'jpeg' ? 'warning' : 'error';
}

const WHITE = { r: 255, g: 255, b: 255, alpha: 1 };

/** sharp's `metadata().format` values we accept, with the names used in messages. */
const ACCEPTED_FORMATS: Readonly<Record<string, string>> = {
  jpeg: 'JPEG',
  png: 'PNG',
  webp: 'WebP',
  gif: 'GIF',
  heif: 'AVIF',
  tiff: 'TIFF',
};
const ACCEPTED_LIST = 'JPEG, PNG, WebP, GIF, AVIF, TIFF';
const unsupported = (format: string) => `${format} images are not supported (accepted: ${ACCEPTED_LIST})`;

/** A photo's bytes whose header has been read and checked: what every decode starts from. */
export interface CheckedImage {
  bytes: Buffer;
  meta: Metadata;
  /** How errors name the photo. */
  name: string;
}

/**
 * Everything short of decoding pixels: reads the file (for a path), refuses an empty one, one whose
 * structure means too much decoding work (see decode-limits.ts), an unaccepted format, and one over the pixel
 * or memory limits. Every decoder of untrusted photos starts here.
 *
 * @param label how errors name the input; defaults to the path, or '<buffer>' for a Buffer.
 * @throws ImageError; nothing else.
 */
export async function checkImage(input: string | Buffer, label?: string): Promise<CheckedImage> {
  const name = label ?? (typeof input === 'string' ? input : '<buffer>');
  const bytes = typeof input === 'string' ? await readImageFile(input, name) : input;
  if (bytes.length === 0) {
    throw new ImageError(
      name,
      'empty',
      `${typeof input === 'string' ? 'file' : 'buffer'} is empty (0 bytes)`,
    );
  }
  // A format we do not accept is refused before any library parses it: reading an SVG's header means
  // parsing all of its XML (seconds for 16 MB of it). HEIF goes on, for the decoder to tell AVIF from HEIC.
  const sniffed = sniffFormat(bytes);
  if (sniffed && !sniffed.accepted && sniffed.name !== HEIF_NAME) {
    throw new ImageError(name, 'unsupported-format', unsupported(sniffed.name));
  }
  // Before the header is read: reading it walks every frame of an animation or page of a TIFF.
  checkStructure(bytes, name);
  // Header only: no pixels are decoded here, so it is safe (and lets us name the pixel count) without a limit.
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { failOn: 'error', limitInputPixels: false }).metadata();
  } catch (e) {
    throw classifyFailure(e, bytes, name);
  }
  checkFormat(meta, name);
  const { width, height } = meta;
  if (!width || !height) {
    throw new ImageError(name, 'truncated', `${formatName(meta)} header gives no image size`);
  }
  const pixels = width * height;
  if (pixels > MAX_INPUT_PIXELS) {
    throw new ImageError(
      name,
      'too-large',
      `image is ${width}x${height} = ${pixels} pixels, over the limit of ${MAX_INPUT_PIXELS} pixels`,
    );
  }
  checkBufferedDecode(bytes, meta, name);
  return { bytes, meta, name };
}

/**
 * A sharp pipeline over the first frame (page) of a checked photo, EXIF orientation applied, with the pixel
 * limit. `failOn` defaults to what decodeToRgb uses for the format. (No time limit: sharp's `timeout` is
 * checked between tiles only, so it cannot stop a decoder's one long step, e.g. libjpeg reading all of a
 * progressive JPEG's scans; the structural limits of decode-limits.ts bound the work instead.)
 */
export function openChecked(
  image: CheckedImage,
  failOn: FailOnOptions = failOnFor(image.meta.format),
): Sharp {
  return sharp(image.bytes, {
    failOn,
    limitInputPixels: MAX_INPUT_PIXELS,
    autoOrient: true,
    page: 0,
    pages: 1,
  });
}

/** Runs a decode of a checked photo; any failure becomes the ImageError that explains it. */
export async function decodeChecked<T>(image: CheckedImage, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    throw classifyFailure(e, image.bytes, image.name);
  }
}

/**
 * Decodes a photo (a file path or the file's bytes) to size x size x 3 bytes (default INPUT_SIZE) of interleaved
 * R,G,B sRGB, rows top to bottom. The format is sniffed from the content, never from the file name; the EXIF
 * orientation is applied, transparency is flattened onto white, grey and CMYK become sRGB, and only the first
 * frame of an animation (first page of a TIFF) is used.
 *
 * @param label how errors name the input; defaults to the path, or '<buffer>' for a Buffer.
 * @throws ImageError for any input that cannot be used; nothing else.
 */
export async function decodeToRgb(
  input: string | Buffer,
  resize: ResizePolicy,
  label?: string,
  size: number = INPUT_SIZE,
): Promise<Buffer> {
  const image = await checkImage(input, label);
  const { meta } = image;
  const { data, info }: { data: Buffer; info: OutputInfo } = await decodeChecked(image, () =>
    openChecked(image)
      .resize(size, size, {
        // `stretch` ignores the aspect ratio, as the original system did; `pad` letterboxes with white.
        fit: resize === 'pad' ? 'contain' : 'fill',
        background: WHITE,
      })
      .flatten({ background: WHITE })
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true }),
  );
  if (info.width !== size || info.height !== size || info.channels !== 3 || data.length !== size * size * 3) {
    throw new ImageError(
      image.name,
      'unsupported-format',
      `${formatName(meta)} decoded to an unexpected layout (${info.width}x${info.height}x${info.channels}, ${data.length} bytes)`,
    );
  }
  return data;
}

/**
 * Brings pixels that this process decoded itself (a prepared query photo: see query-prep.ts) to the
 * network's input, exactly as decodeToRgb brings a photo: resized to size x size the same way,
 * R,G,B. Saves encoding them to a file and decoding them again.
 */
export async function resizeRgb(
  image: RgbImage,
  resize: ResizePolicy,
  size: number = INPUT_SIZE,
): Promise<Buffer> {
  const { data } = await sharp(image.data, {
    raw: { width: image.width, height: image.height, channels: 3 },
  })
    .resize(size, size, { fit: resize === 'pad' ? 'contain' : 'fill', background: WHITE })
    .flatten({ background: WHITE })
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  return data;
}

// ---------------------------------------------------------------------------------------------------------------

async function readImageFile(path: string, name: string): Promise<Buffer> {
  let size: number;
  try {
    const st = await stat(path);
    if (st.isDirectory()) throw new ImageError(name, 'unreadable', 'is a directory, not an image file');
    if (!st.isFile()) throw new ImageError(name, 'unreadable', 'is not a regular file');
    size = st.size;
  } catch (e) {
    throw fsFailure(e, name);
  }
  if (size === 0) throw new ImageError(name, 'empty', 'file is empty (0 bytes)');
  if (size > MAX_FILE_BYTES) {
    throw new ImageError(
      name,
      'too-large',
      `file is ${size} bytes, over the limit of ${MAX_FILE_BYTES} bytes`,
    );
  }
  try {
    return await readFile(path);
  } catch (e) {
    throw fsFailure(e, name);
  }
}

function fsFailure(e: unknown, name: string): ImageError {
  if (e instanceof ImageError) return e;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const [kind, reason]: [ImageErrorCode, string] =
    code === 'ENOENT' || code === 'ENOTDIR'
      ? ['not-found', 'file not found']
      : code === 'EACCES' || code === 'EPERM'
        ? ['unreadable', 'permission denied: the file cannot be read']
        : code === 'EISDIR'
          ? ['unreadable', 'is a directory, not an image file']
          : code === 'ELOOP'
            ? ['unreadable', 'too many levels of symbolic links']
            : [
                'unreadable',
                `cannot read the file (${code ?? (e instanceof Error ? e.message : String(e))})`,
              ];
  return new ImageError(name, kind, reason, { cause: e });
}

function formatName(meta: Metadata): string {
  return ACCEPTED_FORMATS[meta.format ?? ''] ?? meta.format ?? 'image';
}

function checkFormat(meta: Metadata, name: string): void {
  const format = meta.format as string | undefined;
  if (format === 'heif' && meta.compression !== 'av1') {
    // sharp's prebuilt libvips reads AVIF only, not HEVC-coded HEIC.
    throw new ImageError(
      name,
      'unsupported-format',
      `${meta.compression === 'hevc' ? 'HEIC' : `HEIF (${meta.compression ?? 'unknown codec'})`} images are not supported (accepted: ${ACCEPTED_LIST})`,
    );
  }
  if (format === undefined || !(format in ACCEPTED_FORMATS)) {
    throw new ImageError(
      name,
      'unsupported-format',
      `${(format ?? 'unknown').toUpperCase()} images are not supported (accepted: ${ACCEPTED_LIST})`,
    );
  }
}

/** Maps a sharp (libvips) failure to an ImageError, using the content's signature to tell the cases apart. */
function classifyFailure(e: unknown, bytes: Buffer, name: string): ImageError {
  if (e instanceof ImageError) return e;
  const message = e instanceof Error ? e.message : String(e);
  if (/exceeds maximum scans/i.test(message)) {
    return new ImageError(
      name,
      'too-complex',
      `a JPEG-compressed strip of the TIFF has more than ${MAX_JPEG_SCANS} scans (an ordinary photo has about 10): decoding it would take too long`,
      { cause: e },
    );
  }
  if (/pixel limit/i.test(message)) {
    return new ImageError(name, 'too-large', `image exceeds the limit of ${MAX_INPUT_PIXELS} pixels`, {
      cause: e,
    });
  }
  const sniffed = sniffFormat(bytes);
  if (sniffed?.accepted) {
    return new ImageError(
      name,
      'truncated',
      `${sniffed.name} data is truncated or corrupt (${decoderDetail(message)})`,
      {
        cause: e,
      },
    );
  }
  if (sniffed) return new ImageError(name, 'unsupported-format', unsupported(sniffed.name), { cause: e });
  if (/unsupported image format/i.test(message)) {
    return new ImageError(
      name,
      'not-an-image',
      `not an image: the content is not in any known image format`,
      {
        cause: e,
      },
    );
  }
  return new ImageError(name, 'not-an-image', `not a readable image (${decoderDetail(message)})`, {
    cause: e,
  });
}

/** libvips messages repeat lines and carry seek noise: keep the distinct, meaningful lines, briefly. */
function decoderDetail(message: string): string {
  const lines = [
    ...new Set(
      message
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '' && !/^source: bad seek/.test(l)),
    ),
  ];
  const text = lines.join('; ') || 'decoder error';
  return text.length > 240 ? `${text.slice(0, 237)}...` : text;
}

interface Sniffed {
  name: string;
  accepted: boolean;
}

const HEIF_NAME = 'HEIC/HEIF';
const HEIF_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1']);

/** Recognises an image format by its leading bytes (only used to explain why decoding failed). */
function sniffFormat(b: Buffer): Sniffed | undefined {
  const ascii = (start: number, end: number): string => b.toString('latin1', start, Math.min(end, b.length));
  const startsWith = (...bytes: number[]): boolean => bytes.every((x, i) => b[i] === x);

  if (startsWith(0xff, 0xd8, 0xff)) return { name: 'JPEG', accepted: true };
  if (startsWith(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return { name: 'PNG', accepted: true };
  if (ascii(0, 4) === 'GIF8') return { name: 'GIF', accepted: true };
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return { name: 'WebP', accepted: true };
  const tiffMagic = ascii(0, 4);
  if (tiffMagic === 'II*\0' || tiffMagic === 'MM\0*' || tiffMagic === 'II+\0' || tiffMagic === 'MM\0+') {
    return { name: 'TIFF', accepted: true };
  }
  if (ascii(4, 8) === 'ftyp' && b.length >= 12) {
    // ISO base media file: the major brand, then compatible brands, up to the end of the ftyp box.
    const boxEnd = Math.min(b.readUInt32BE(0) || b.length, b.length, 256);
    const brands = [ascii(8, 12)];
    for (let p = 16; p + 4 <= boxEnd; p += 4) brands.push(ascii(p, p + 4));
    if (brands.includes('avif') || brands.includes('avis')) return { name: 'AVIF', accepted: true };
    if (brands.some((x) => HEIF_BRANDS.has(x))) return { name: HEIF_NAME, accepted: false };
    return undefined; // video and other MP4-family containers
  }
  if (ascii(0, 5) === '%PDF-') return { name: 'PDF', accepted: false };
  if (ascii(0, 4) === '%!PS' || startsWith(0xc5, 0xd0, 0xd3, 0xc6))
    return { name: 'PostScript', accepted: false };
  if (ascii(0, 2) === 'BM' && b.length >= 26) return { name: 'BMP', accepted: false };
  if (ascii(0, 4) === '8BPS') return { name: 'Photoshop (PSD)', accepted: false };
  if (startsWith(0x00, 0x00, 0x01, 0x00) && b.length >= 22) return { name: 'ICO', accepted: false };
  if (startsWith(0x00, 0x00, 0x00, 0x0c, 0x6a, 0x50, 0x20, 0x20) || startsWith(0xff, 0x4f, 0xff, 0x51)) {
    return { name: 'JPEG 2000', accepted: false };
  }
  if (startsWith(0xff, 0x0a) || startsWith(0x00, 0x00, 0x00, 0x0c, 0x4a, 0x58, 0x4c, 0x20)) {
    return { name: 'JPEG XL', accepted: false };
  }
  if (startsWith(0x76, 0x2f, 0x31, 0x01)) return { name: 'OpenEXR', accepted: false };
  if (ascii(0, 4) === 'qoif') return { name: 'QOI', accepted: false };
  if (/^P[1-7]\s/.test(ascii(0, 3))) return { name: 'PNM', accepted: false };
  if (ascii(0, 10) === '#?RADIANCE' || ascii(0, 6) === '#?RGBE')
    return { name: 'Radiance HDR', accepted: false };
  if (ascii(0, 9) === 'SIMPLE  =') return { name: 'FITS', accepted: false };
  const head = ascii(0, 4096)
    .replace(/^\uFEFF|^\xEF\xBB\xBF/, '')
    .trimStart();
  // As wide as libvips' own test (markup with "<svg" near its start), so that no SVG reaches librsvg.
  if (head.startsWith('<') && /<svg\b/i.test(head)) return { name: 'SVG', accepted: false };
  return undefined;
}
