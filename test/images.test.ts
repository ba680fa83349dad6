/**
 * Image decoding and tensor conversion, on real catalogue photos and files derived from them with sharp.
 * Run: node --import tsx --test test/images.test.ts
 */
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp, { type Sharp } from 'sharp';
import { datasetsDir } from '../src/config.js';
import { preprocess, rgbToTensor } from '../src/embeddings/input-tensor.js';
import { CAFFE_MEANS_BGR, INPUT_SIZE } from '../src/embeddings/spec.js';
import { jpegStructure } from '../src/images/decode-limits.js';
import { type ImageErrorCode, isImageError } from '../src/images/errors.js';
import { decodeToRgb, MAX_INPUT_PIXELS } from '../src/images/preprocess.js';
import {
  claimSize,
  jpegInTiff,
  manyFrameGif,
  manyPageTiff,
  repeatWebpFrames,
  scanBombJpeg,
} from './support/hostile-images.js';

const IMAGES = join(datasetsDir, 'fashion-small', 'images');
/** A 60x80 colour product photo with plenty of non-white content. */
const PHOTO = join(IMAGES, '10001.jpg');
/** A greyscale (1-channel) photo; found by scanning if the dataset changes. */
const GREY_CANDIDATE = '10705.jpg';

const S = INPUT_SIZE;
const PLANE = S * S;
const RGB_BYTES = PLANE * 3;

let dir: string;
let ref: Buffer; // decodeToRgb(PHOTO, 'stretch')

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lookalike-images-'));
  ref = await decodeToRgb(PHOTO, 'stretch');
});

after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  assert.equal(a.length, b.length);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs((a[i] as number) - (b[i] as number));
  return sum / a.length;
}

function pixel(rgb: Uint8Array, x: number, y: number): [number, number, number] {
  const i = (y * S + x) * 3;
  return [rgb[i] as number, rgb[i + 1] as number, rgb[i + 2] as number];
}

/** Every pixel in columns [x0, x1) and rows [y0, y1) is pure white. */
function allWhite(rgb: Uint8Array, x0: number, x1: number, y0: number, y1: number): boolean {
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const [r, g, b] = pixel(rgb, x, y);
      if (r !== 255 || g !== 255 || b !== 255) return false;
    }
  }
  return true;
}

function meanOf(rgb: Uint8Array, x0: number, x1: number, y0: number, y1: number): number {
  let sum = 0;
  for (let y = y0; y < y1; y++)
    for (let x = x0; x < x1; x++) sum += pixel(rgb, x, y).reduce((s, v) => s + v, 0);
  return sum / ((x1 - x0) * (y1 - y0) * 3);
}

function negate(rgb: Uint8Array): Buffer {
  return Buffer.from(rgb.map((v) => 255 - v));
}

async function expectImageError(
  promise: Promise<unknown>,
  code: ImageErrorCode,
  path: string,
  messageIncludes: string[] = [],
): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(isImageError(e), `expected an ImageError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.equal(e.path, path);
    assert.ok(e.message.startsWith(`${path}: `), e.message);
    assert.ok(e.message.length > path.length + 10, `reason too short: ${e.message}`);
    for (const s of messageIncludes) assert.ok(e.message.includes(s), `"${e.message}" lacks "${s}"`);
    return true;
  });
}

describe('decodeToRgb: accepted inputs', () => {
  test('a dataset JPEG decodes to 224x224x3 bytes, the same from a path and from a Buffer', async () => {
    assert.equal(ref.length, RGB_BYTES);
    const fromBuffer = await decodeToRgb(await readFile(PHOTO), 'stretch');
    assert.deepEqual(fromBuffer, ref);
    assert.ok(meanOf(ref, 0, S, 0, S) < 240, 'the photo has content');
  });

  test('PNG with transparency: transparent pixels become white', async () => {
    const { data, info } = await sharp(PHOTO).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    assert.equal(info.channels, 4);
    // Top-left 20x20 source pixels: transparent black (would come out black if alpha were just dropped).
    for (let y = 0; y < 20; y++) data.fill(0, y * info.width * 4, (y * info.width + 20) * 4);
    const file = join(dir, 'alpha.png');
    await sharp(data, { raw: { width: info.width, height: info.height, channels: 4 } })
      .png()
      .toFile(file);
    assert.equal((await sharp(file).metadata()).hasAlpha, true);

    const rgb = await decodeToRgb(file, 'stretch');
    // 20 source px -> 74.7 columns and 56 rows; stay clear of the resampling edge.
    assert.ok(allWhite(rgb, 0, 64, 0, 46), 'transparent area is white');
    assert.deepEqual(pixel(rgb, 10, 10), [255, 255, 255]);
    assert.ok(meanAbsDiff(rgb.subarray(100 * S * 3), ref.subarray(100 * S * 3)) < 1, 'opaque part unchanged');
  });

  test('WebP, TIFF and AVIF decode like the JPEG they were made from', async () => {
    const cases: [string, Sharp, number][] = [
      ['photo.webp', sharp(PHOTO).webp({ lossless: true }), 0.5],
      ['photo.tiff', sharp(PHOTO).tiff({ compression: 'lzw' }), 0.5],
      ['photo.avif', sharp(PHOTO).avif({ quality: 80, effort: 0 }), 4],
    ];
    for (const [name, pipeline, tolerance] of cases) {
      const file = join(dir, name);
      await pipeline.toFile(file);
      const rgb = await decodeToRgb(file, 'stretch');
      assert.equal(rgb.length, RGB_BYTES);
      const diff = meanAbsDiff(rgb, ref);
      assert.ok(diff <= tolerance, `${name}: mean abs diff ${diff.toFixed(2)} > ${tolerance}`);
    }
  });

  test('animated GIF: the first frame is used', async () => {
    const { data, info } = await sharp(PHOTO).raw().toBuffer({ resolveWithObject: true });
    assert.equal(info.channels, 3);
    const frames = Buffer.concat([data, negate(data)]); // frame 1: the photo; frame 2: its negative
    const file = join(dir, 'anim.gif');
    await sharp(frames, {
      raw: { width: info.width, height: info.height * 2, channels: 3, pageHeight: info.height },
    })
      .gif()
      .toFile(file);
    assert.equal((await sharp(file).metadata()).pages, 2);

    const rgb = await decodeToRgb(file, 'stretch');
    const toFirst = meanAbsDiff(rgb, ref);
    const toSecond = meanAbsDiff(rgb, negate(ref));
    assert.ok(toFirst < 4, `first frame: mean abs diff ${toFirst.toFixed(2)}`);
    assert.ok(toSecond > 50, `second frame: mean abs diff ${toSecond.toFixed(2)}`);
  });

  test('CMYK JPEG is converted to sRGB', async () => {
    const file = join(dir, 'cmyk.jpg');
    await sharp(PHOTO).toColourspace('cmyk').jpeg({ quality: 95 }).toFile(file);
    const meta = await sharp(file).metadata();
    assert.equal(meta.space, 'cmyk');
    assert.equal(meta.channels, 4);

    const rgb = await decodeToRgb(file, 'stretch');
    assert.equal(rgb.length, RGB_BYTES);
    const diff = meanAbsDiff(rgb, ref);
    assert.ok(diff < 5, `mean abs diff to the sRGB original ${diff.toFixed(2)}`);
  });

  test('a greyscale dataset photo gives three equal channels', async () => {
    let grey = join(IMAGES, GREY_CANDIDATE);
    if (
      (
        await sharp(grey)
          .metadata()
          .catch(() => undefined)
      )?.channels !== 1
    ) {
      const names = (await readdir(IMAGES)).sort();
      let found: string | undefined;
      for (const n of names.slice(0, 5000)) {
        if ((await sharp(join(IMAGES, n)).metadata()).channels === 1) {
          found = n;
          break;
        }
      }
      assert.ok(found, 'no greyscale photo in the dataset sample');
      grey = join(IMAGES, found);
    }
    const rgb = await decodeToRgb(grey, 'stretch');
    assert.equal(rgb.length, RGB_BYTES);
    for (let i = 0; i < RGB_BYTES; i += 3) {
      if (rgb[i] !== rgb[i + 1] || rgb[i] !== rgb[i + 2]) assert.fail(`pixel ${i / 3} is not grey`);
    }
    assert.ok(meanOf(rgb, 0, S, 0, S) < 250, 'not blank');
  });

  test('EXIF orientation is applied', async () => {
    // sharp resizes before it rotates, and libvips upsampling is not mirror-symmetric, so for a small photo
    // (60x80 -> 224, upsampled) the result differs slightly from resizing the rotated pixels; when
    // downsampling (a 480x640 source) the two agree almost exactly.
    const sources: [string, Buffer, number][] = [
      ['60x80', await readFile(PHOTO), 2.5],
      ['480x640', await sharp(PHOTO).resize(480, 640).png().toBuffer(), 0.5],
    ];
    for (const [size, source, tolerance] of sources) {
      const oriented = await sharp(source).withMetadata({ orientation: 6 }).jpeg({ quality: 95 }).toBuffer();
      const file = join(dir, `oriented-${size}.jpg`);
      await writeFile(file, oriented);
      assert.equal((await sharp(file).metadata()).orientation, 6);
      // The same stored pixels, physically rotated 90° clockwise (what orientation 6 asks for), losslessly.
      const rotated = await sharp(oriented, { autoOrient: false }).rotate(90).png().toBuffer();
      const asStored = await sharp(oriented, { autoOrient: false }).png().toBuffer();
      const [w, h] = size.split('x').map(Number);
      const rm = await sharp(rotated).metadata();
      assert.deepEqual([rm.width, rm.height], [h, w]);

      for (const policy of ['stretch', 'pad'] as const) {
        const got = await decodeToRgb(file, policy);
        const want = await decodeToRgb(rotated, policy);
        const ignored = await decodeToRgb(asStored, policy);
        const diff = meanAbsDiff(got, want);
        assert.ok(
          diff < tolerance,
          `${size} ${policy}: mean abs diff to the rotated image ${diff.toFixed(2)}`,
        );
        assert.ok(meanAbsDiff(got, ignored) > 10, `${size} ${policy}: orientation made no difference`);
      }
    }
  });

  test('pad letterboxes a portrait photo with white; stretch fills the square', async () => {
    // The photo's negative: a dark background, so white bars cannot come from the photo itself.
    const file = join(dir, 'negative.png');
    await sharp(PHOTO).negate().png().toFile(file);
    const padded = await decodeToRgb(file, 'pad');
    const stretched = await decodeToRgb(file, 'stretch');
    // 60x80 -> 168x224 centred: 28 white columns each side.
    assert.ok(allWhite(padded, 0, 26, 0, S), 'left bar white');
    assert.ok(allWhite(padded, S - 26, S, 0, S), 'right bar white');
    assert.deepEqual(pixel(padded, 0, 0), [255, 255, 255]);
    assert.ok(meanOf(padded, 30, S - 30, 0, S) < 80, 'content is the dark negative');
    assert.ok(meanOf(stretched, 0, 26, 0, S) < 80, 'stretch has no white bars');
    assert.ok(meanOf(stretched, S - 26, S, 0, S) < 80, 'stretch has no white bars');
  });
});

describe('decodeToRgb: bad inputs fail with ImageError', () => {
  test('a text file is not an image', async () => {
    const file = join(dir, 'notes.jpg'); // the name lies; the content decides
    await writeFile(file, 'This is a plain text file, not a photo.\n'.repeat(20));
    await expectImageError(decodeToRgb(file, 'stretch'), 'not-an-image', file);
  });

  test('random bytes in a Buffer, with and without a label', async () => {
    const bytes = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) & 255));
    await expectImageError(decodeToRgb(bytes, 'stretch'), 'not-an-image', '<buffer>');
    await expectImageError(decodeToRgb(bytes, 'pad', 'upload #7'), 'not-an-image', 'upload #7');
  });

  test('a truncated JPEG raises instead of decoding grey', async () => {
    const bytes = await readFile(PHOTO);
    const file = join(dir, 'truncated.jpg');
    await writeFile(file, bytes.subarray(0, bytes.length >> 1));
    await expectImageError(decodeToRgb(file, 'stretch'), 'truncated', file, ['JPEG']);
    await expectImageError(decodeToRgb(bytes.subarray(0, 100), 'stretch'), 'truncated', '<buffer>');
  });

  test('a JPEG with corrupt scan data raises', async () => {
    const bytes = Buffer.from(await readFile(PHOTO));
    const sos = bytes.indexOf(Buffer.from([0xff, 0xda])); // start of the entropy-coded scan
    assert.ok(sos > 0);
    const mid = sos + ((bytes.length - sos) >> 1);
    bytes.fill(0xff, mid, mid + 16); // libjpeg only warns ("premature end of data segment") about this
    await expectImageError(decodeToRgb(bytes, 'stretch', 'corrupt.jpg'), 'truncated', 'corrupt.jpg', [
      'corrupt',
    ]);
  });

  test('a truncated PNG raises', async () => {
    const png = await sharp(PHOTO).png().toBuffer();
    const file = join(dir, 'truncated.png');
    await writeFile(file, png.subarray(0, png.length >> 1));
    await expectImageError(decodeToRgb(file, 'stretch'), 'truncated', file, ['PNG']);
  });

  test('a zero-byte file and an empty Buffer are empty', async () => {
    const file = join(dir, 'empty.jpg');
    await writeFile(file, Buffer.alloc(0));
    await expectImageError(decodeToRgb(file, 'stretch'), 'empty', file);
    await expectImageError(decodeToRgb(Buffer.alloc(0), 'stretch'), 'empty', '<buffer>');
  });

  test('an image over 100 megapixels is refused, naming its size and the limit', async () => {
    const file = join(dir, 'huge.png');
    // One colour compresses to ~300 KB; 10001x10001 = 100,020,001 pixels.
    await sharp({ create: { width: 10001, height: 10001, channels: 3, background: '#808080' } })
      .png({ compressionLevel: 9 })
      .toFile(file);
    await expectImageError(decodeToRgb(file, 'stretch'), 'too-large', file, [
      '100020001',
      String(MAX_INPUT_PIXELS),
    ]);
  });

  test('SVG and PDF are recognised but not supported', async () => {
    const svg = join(dir, 'drawing.svg');
    await writeFile(
      svg,
      '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="60" height="80">' +
        '<rect width="60" height="80" fill="navy"/></svg>\n',
    );
    await expectImageError(decodeToRgb(svg, 'stretch'), 'unsupported-format', svg, ['SVG']);
    const pdf = join(dir, 'catalogue.jpg');
    await writeFile(
      pdf,
      '%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n',
    );
    await expectImageError(decodeToRgb(pdf, 'stretch'), 'unsupported-format', pdf, ['PDF']);
  });

  test('a missing file, a directory and an unreadable file', async (t) => {
    const missing = join(dir, 'no-such-photo.jpg');
    await expectImageError(decodeToRgb(missing, 'stretch'), 'not-found', missing);
    const sub = join(dir, 'a-folder.jpg');
    await mkdir(sub);
    await expectImageError(decodeToRgb(sub, 'stretch'), 'unreadable', sub);
    if (process.getuid?.() === 0) {
      t.diagnostic('running as root: file permissions are not enforced, permission case skipped');
      return;
    }
    const locked = join(dir, 'locked.jpg');
    await writeFile(locked, await readFile(PHOTO));
    await chmod(locked, 0o000);
    await expectImageError(decodeToRgb(locked, 'stretch'), 'unreadable', locked);
  });

  test('the process survives: a good photo still decodes afterwards', async () => {
    assert.deepEqual(await decodeToRgb(PHOTO, 'stretch'), ref);
  });
});

describe('decodeToRgb: photos that would cost too much to decode are refused before decoding', () => {
  /** Runs a decode that must be refused, and gives how long the refusal took. */
  async function refusedQuickly(
    bytes: Buffer,
    code: ImageErrorCode,
    label: string,
    messageIncludes: string[],
  ): Promise<number> {
    const started = performance.now();
    await expectImageError(decodeToRgb(bytes, 'stretch', label), code, label, messageIncludes);
    const ms = performance.now() - started;
    assert.ok(ms < 2000, `${label}: refused after ${ms.toFixed(0)} ms`);
    return ms;
  }

  test('a JPEG with 883 valid scans (a 352 KB "scan bomb") is too-complex, at once', {
    timeout: 120_000,
  }, async () => {
    // Decoding it would take libjpeg about 40 s of CPU, and nothing could stop it part-way.
    const bomb = scanBombJpeg();
    assert.equal(bomb.length, 351_581);
    assert.equal(jpegStructure(bomb)?.scans, 883);
    await refusedQuickly(bomb, 'too-complex', 'bomb.jpg', ['more than 64 scans']);
  });

  test('64 scans that walk a 100-megapixel JPEG 64 times are too-complex, at once', {
    timeout: 120_000,
  }, async () => {
    const bomb = scanBombJpeg({ al: 0 });
    assert.equal(jpegStructure(bomb)?.scans, 64);
    await refusedQuickly(bomb, 'too-complex', 'passes.jpg', ['64 scans', '1562500 blocks']);
    // The same structure on a small image is cheap, and decodes (mid grey).
    const small = await decodeToRgb(scanBombJpeg({ width: 300, height: 200, al: 0 }), 'stretch');
    assert.deepEqual(pixel(small, 100, 100), [128, 128, 128]);
  });

  test('a real progressive JPEG (10 scans) decodes like the baseline one', { timeout: 30_000 }, async () => {
    const progressive = await sharp(PHOTO).jpeg({ progressive: true, quality: 95 }).toBuffer();
    assert.equal(jpegStructure(progressive)?.scans, 10);
    const diff = meanAbsDiff(await decodeToRgb(progressive, 'stretch'), ref);
    assert.ok(diff < 3, `mean abs diff ${diff.toFixed(2)}`);
  });

  test('a JPEG-compressed TIFF strip with 81 scans is too-complex (libtiff alone allows 99)', {
    timeout: 60_000,
  }, async () => {
    const tiff = (scans: { al: number; coefficients: number }) =>
      jpegInTiff(scanBombJpeg({ width: 2000, height: 2000, ...scans }), 2000, 2000);
    await expectImageError(
      decodeToRgb(tiff({ al: 1, coefficients: 40 }), 'stretch', 'scans.tiff'),
      'too-complex',
      'scans.tiff',
      ['TIFF', 'scans'],
    );
    // 10 scans: an ordinary JPEG-compressed TIFF, decoded.
    assert.deepEqual(
      pixel(await decodeToRgb(tiff({ al: 0, coefficients: 9 }), 'stretch'), 5, 5),
      [128, 128, 128],
    );
  });

  test('animations and TIFFs with more than 1000 frames or pages are too-complex, at once', {
    timeout: 120_000,
  }, async () => {
    // Reading even the first frame walks them all: about 3 s (GIF), 11 s (WebP), 2 s (TIFF) for these.
    const { data, info } = await sharp(PHOTO).resize(16, 16).raw().toBuffer({ resolveWithObject: true });
    const frames = Buffer.concat([data, negate(data), data, negate(data)]);
    const animated = await sharp(frames, {
      raw: { width: info.width, height: info.height * 4, channels: 3, pageHeight: info.height },
    })
      .webp({ lossless: true })
      .toBuffer();
    assert.equal((await sharp(animated).metadata()).pages, 4);
    const cases: [string, Buffer, string][] = [
      ['frames.gif', manyFrameGif(900_000), 'animated GIF'],
      ['frames.webp', repeatWebpFrames(animated, 15_000), 'animated WebP'],
      ['pages.tiff', manyPageTiff(100_000), 'TIFF'],
    ];
    for (const [label, bytes, what] of cases) {
      await refusedQuickly(bytes, 'too-complex', label, [what, 'more than 1000']);
    }
    // 1000 are accepted, and the first is the one used.
    assert.equal((await decodeToRgb(manyFrameGif(1000, 8, 8), 'stretch')).length, RGB_BYTES);
    assert.deepEqual(
      await decodeToRgb(repeatWebpFrames(animated, 250), 'stretch'),
      await decodeToRgb(animated, 'stretch'),
    );
    assert.equal((await decodeToRgb(manyPageTiff(1000), 'stretch')).length, RGB_BYTES);
  });

  test('an SVG of 16 MB is refused as unsupported before its XML is parsed', {
    timeout: 60_000,
  }, async () => {
    // Reading its header with sharp (librsvg) takes about 10 s.
    const svg = Buffer.from(
      `<svg xmlns="http://www.w3.org/2000/svg" width="60" height="80">${'<rect width="1" height="1"/>'.repeat(600_000)}</svg>`,
    );
    await refusedQuickly(svg, 'unsupported-format', 'drawing.svg', ['SVG']);
  });

  test('layouts decoded whole are refused over 256 MB of decoder memory; AVIF over 16 megapixels', {
    timeout: 120_000,
  }, async () => {
    // Headers claiming a size (the data is a small photo's): refused from the header, before any decoding.
    const small = sharp(PHOTO).resize(64, 64);
    const cases: [string, Buffer, string[]][] = [
      // 6000x6000 x 4 channels x 2 bytes = 275 MB (decoding a 100-megapixel one took 5.7 s and 800 MB).
      [
        'interlaced.png',
        claimSize(
          await small.clone().ensureAlpha().toColourspace('rgb16').png({ progressive: true }).toBuffer(),
          6000,
          6000,
        ),
        ['interlaced PNG', '275 MB', '256 MB'],
      ],
      // 7000x7000, 3 full-size components: 294 MB of coefficients.
      [
        'progressive.jpg',
        claimSize(
          await small.clone().jpeg({ progressive: true, chromaSubsampling: '4:4:4' }).toBuffer(),
          7000,
          7000,
        ),
        ['progressive JPEG', '281 MB'],
      ],
      [
        'big.gif',
        claimSize(await small.clone().gif().toBuffer(), 8200, 8200),
        ['GIF of 8200x8200', '257 MB'],
      ],
      [
        'lossless.webp',
        claimSize(await small.clone().webp({ lossless: true }).toBuffer(), 8200, 8200),
        ['WebP', '257 MB'],
      ],
      [
        'big.avif',
        claimSize(await small.clone().avif({ effort: 0 }).toBuffer(), 4100, 4000),
        ['AVIF', '16400000'],
      ],
    ];
    for (const [label, bytes, words] of cases) await refusedQuickly(bytes, 'too-large', label, words);
  });
});

describe('rgbToTensor', () => {
  const special = 5 * S + 7; // pixel (x=7, y=5)
  const rgb = new Uint8Array(RGB_BYTES);
  rgb.set([10, 20, 30], 0);
  rgb.set([200, 100, 50], special * 3);
  const [mB, mG, mR] = CAFFE_MEANS_BGR;
  const f = Math.fround;

  test('caffe mode: B,G,R planes minus the B,G,R means', () => {
    const t = rgbToTensor(rgb, false);
    assert.equal(t.length, 3 * PLANE);
    assert.deepEqual([t[0], t[PLANE], t[2 * PLANE]], [f(30 - 103.939), f(20 - 116.779), f(10 - 123.68)]);
    assert.deepEqual(
      [t[special], t[PLANE + special], t[2 * PLANE + special]],
      [f(50 - mB), f(100 - mG), f(200 - mR)],
    );
    assert.deepEqual([t[1], t[PLANE + 1], t[2 * PLANE + 1]], [f(-mB), f(-mG), f(-mR)]);
  });

  test('seed-compat: R,G,B planes minus the B,G,R means (the original mistake)', () => {
    const t = rgbToTensor(rgb, true);
    assert.deepEqual([t[0], t[PLANE], t[2 * PLANE]], [f(10 - 103.939), f(20 - 116.779), f(30 - 123.68)]);
    assert.deepEqual(
      [t[special], t[PLANE + special], t[2 * PLANE + special]],
      [f(200 - mB), f(100 - mG), f(50 - mR)],
    );
  });

  test('writes one slot of a batch buffer and nothing else', () => {
    const batch = new Float32Array(3 * 3 * PLANE).fill(Number.NaN);
    const returned = rgbToTensor(rgb, false, batch, 3 * PLANE);
    assert.equal(returned, batch);
    assert.ok(batch.subarray(0, 3 * PLANE).every(Number.isNaN), 'slot 0 untouched');
    assert.ok(batch.subarray(6 * PLANE).every(Number.isNaN), 'slot 2 untouched');
    assert.deepEqual(batch.subarray(3 * PLANE, 6 * PLANE), rgbToTensor(rgb, false));
  });

  test('rejects a wrong-sized input or an offset that does not fit', () => {
    assert.throws(() => rgbToTensor(new Uint8Array(10), false), RangeError);
    assert.throws(() => rgbToTensor(rgb, false, new Float32Array(3 * PLANE), 1), RangeError);
  });
});

describe('preprocess', () => {
  test('= decodeToRgb + rgbToTensor, for paths and Buffers, both modes', async () => {
    const t = await preprocess(PHOTO, { resize: 'stretch', seedCompat: false });
    assert.deepEqual(t, rgbToTensor(ref, false));
    const seed = await preprocess(await readFile(PHOTO), { resize: 'stretch', seedCompat: true }, 'upload');
    assert.deepEqual(seed, rgbToTensor(ref, true));
    // Both hold the same red values: normal channel 2 and seed-compat channel 0.
    for (const i of [0, 1234, PLANE - 1]) {
      assert.ok(Math.abs((t[2 * PLANE + i] as number) + 123.68 - ((seed[i] as number) + 103.939)) < 1e-4);
    }
    const padded = await preprocess(PHOTO, { resize: 'pad', seedCompat: false });
    assert.equal(padded.length, 3 * PLANE);
    assert.notDeepEqual(padded, t);
  });

  test('bad input surfaces as ImageError with the label', async () => {
    await expectImageError(
      preprocess(Buffer.from('not an image'), { resize: 'pad', seedCompat: false }, 'query.jpg'),
      'not-an-image',
      'query.jpg',
    );
  });
});
