/**
 * Separate items in a photo (a shirt and trousers laid side by side, two bags): the foreground
 * (foreground.ts: what differs from the border's colours) split into connected regions on a
 * coarse grid, small specks dropped, and regions that look like one item's parts (a pair of shoes:
 * alike in size and colour, side by side) merged. A heuristic from pixels alone: it tells items
 * apart where background shows between them, not items that overlap.
 */
import sharp from 'sharp';
import { smallRgb } from './colour.js';
import { findForeground, type RgbImage } from './foreground.js';

/** A box in fractions (0..1) of the photo's width and height as displayed (after EXIF orientation). */
export interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

export interface Garment {
  box: Box;
  /** The item's share of the photo's foreground, 0..1. */
  score: number;
  /** What kind of product it seems to be, where known. */
  kind?: string;
}

/** Side of the square the photo is reduced to. */
const SIZE = 96;
/** A region holding less of the foreground than this is a speck, not an item. */
const MIN_FOREGROUND_SHARE = 0.06;
/** ... or less of the photo than this. */
const MIN_PHOTO_SHARE = 0.01;
/** A region with more skin than this share is a person's, not an item. */
const MAX_SKIN_SHARE = 0.5;
/** Most items suggested. */
const MAX_ITEMS = 4;

interface Region {
  pixels: number;
  left: number;
  top: number;
  right: number;
  bottom: number;
  /** Summed r, g, b of its pixels. */
  rgb: [number, number, number];
  /** Its pixels of skin colour. */
  skin: number;
}

export interface PhotoLayout {
  /** The separate items, at most a few, most salient first. */
  garments: Garment[];
  /** On a plain light background, as catalogue photos are (else a shopper's own photo). */
  studio: boolean;
}

/** Finds the separate items of a photo (its bytes); at most a few, most salient first. */
export async function findGarments(photo: Buffer): Promise<Garment[]> {
  return (await photoLayout(photo)).garments;
}

/** The separate items of a photo, and whether it is a studio photo. @throws ImageError for a photo that cannot be read. */
export async function photoLayout(photo: Buffer): Promise<PhotoLayout> {
  return layoutOf(await smallRgb(photo, SIZE));
}

/**
 * A found item cut out of its photo (upright, as displayed), with a margin around its box (a
 * share of the photo's sides), as JPEG: to search it, or to tell its kind.
 */
export async function cropGarment(photo: Buffer, box: Box, margin = 0.04): Promise<Buffer> {
  const { width, height } = await sharp(photo)
    .rotate()
    .toBuffer({ resolveWithObject: true })
    .then((r) => r.info);
  const left = Math.max(0, Math.floor((box.left - margin) * width));
  const top = Math.max(0, Math.floor((box.top - margin) * height));
  const right = Math.min(width, Math.ceil((box.left + box.width + margin) * width));
  const bottom = Math.min(height, Math.ceil((box.top + box.height + margin) * height));
  return sharp(photo)
    .rotate()
    .extract({ left, top, width: Math.max(1, right - left), height: Math.max(1, bottom - top) })
    .jpeg({ quality: 92 })
    .toBuffer();
}

/** The separate items of a small RGB image. */
export function garmentsIn(img: RgbImage): Garment[] {
  return layoutOf(img).garments;
}

function layoutOf(img: RgbImage): PhotoLayout {
  const { width, height, data } = img;
  const fg = findForeground(img);
  if (!fg.found) return { garments: [], studio: fg.studio };
  // Closing (dilate then erode) joins an item's parts split by a thin seam or a highlight.
  const closed = erode(dilate(fg.mask, width, height, 2), width, height, 2);
  const labels = new Int32Array(width * height).fill(-1);
  const regions: Region[] = [];
  for (let start = 0; start < width * height; start++) {
    if (!closed[start] || labels[start] !== -1) continue;
    const region: Region = {
      pixels: 0,
      left: width,
      top: height,
      right: -1,
      bottom: -1,
      rgb: [0, 0, 0],
      skin: 0,
    };
    const id = regions.length;
    regions.push(region);
    const stack = [start];
    labels[start] = id;
    while (stack.length > 0) {
      const at = stack.pop() as number;
      const x = at % width;
      const y = (at - x) / width;
      if (fg.mask[at]) {
        region.pixels += 1;
        region.rgb[0] += data[at * 3] as number;
        region.rgb[1] += data[at * 3 + 1] as number;
        region.rgb[2] += data[at * 3 + 2] as number;
        if (isSkin(data[at * 3] as number, data[at * 3 + 1] as number, data[at * 3 + 2] as number)) {
          region.skin += 1;
        }
        region.left = Math.min(region.left, x);
        region.right = Math.max(region.right, x);
        region.top = Math.min(region.top, y);
        region.bottom = Math.max(region.bottom, y);
      }
      for (const [dx, dy] of NEIGHBOURS) {
        const nx = x + dx;
        const ny = y + dy;
        if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
        const next = ny * width + nx;
        if (closed[next] && labels[next] === -1) {
          labels[next] = id;
          stack.push(next);
        }
      }
    }
  }
  const foreground = regions.reduce((sum, r) => sum + r.pixels, 0);
  // A region mostly of skin is a model's head or arms (around a garment the colour of the background).
  let items = regions.filter(
    (r) =>
      r.pixels >= foreground * MIN_FOREGROUND_SHARE &&
      r.pixels >= width * height * MIN_PHOTO_SHARE &&
      r.skin < r.pixels * MAX_SKIN_SHARE,
  );
  items = mergeParts(items);
  const kept = items.reduce((sum, r) => sum + r.pixels, 0) || 1;
  const garments = items
    .sort((a, b) => b.pixels - a.pixels)
    .slice(0, MAX_ITEMS)
    .map((r) => ({
      box: {
        left: r.left / width,
        top: r.top / height,
        width: (r.right - r.left + 1) / width,
        height: (r.bottom - r.top + 1) / height,
      },
      score: r.pixels / kept,
    }));
  return { garments, studio: fg.studio };
}

/** Skin colour: a classic RGB rule (Kovac et al., uniform daylight) within the usual Cb/Cr range. */
function isSkin(r: number, g: number, b: number): boolean {
  if (!(r > 95 && g > 40 && b > 20 && r - Math.min(g, b) > 15 && r - g > 15 && r > b)) return false;
  const cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b;
  const cr = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b;
  return cb >= 85 && cb <= 125 && cr >= 138 && cr <= 168;
}

const NEIGHBOURS: readonly [number, number][] = [
  [1, 0],
  [-1, 0],
  [0, 1],
  [0, -1],
];

/** Regions taken for one item: boxes mostly inside one another, or a pair (alike in size and colour, side by side). */
function mergeParts(regions: Region[]): Region[] {
  const out = [...regions];
  for (let merged = true; merged; ) {
    merged = false;
    for (let i = 0; i < out.length && !merged; i++) {
      for (let j = i + 1; j < out.length && !merged; j++) {
        const a = out[i] as Region;
        const b = out[j] as Region;
        if (nested(a, b) || pair(a, b)) {
          out.splice(j, 1);
          out[i] = union(a, b);
          merged = true;
        }
      }
    }
  }
  return out;
}

const area = (r: Region) => (r.right - r.left + 1) * (r.bottom - r.top + 1);

function overlap(a: Region, b: Region): number {
  const w = Math.min(a.right, b.right) - Math.max(a.left, b.left) + 1;
  const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) + 1;
  return w > 0 && h > 0 ? w * h : 0;
}

/** Half or more of the smaller box lies in the larger one. */
const nested = (a: Region, b: Region) => overlap(a, b) >= 0.5 * Math.min(area(a), area(b));

/** Two parts of one product, as a pair of shoes or earrings is: alike in size and colour, close together. */
function pair(a: Region, b: Region): boolean {
  const sizes = Math.max(a.pixels, b.pixels) / Math.min(a.pixels, b.pixels);
  if (sizes > 1.6) return false;
  const mean = (r: Region) => r.rgb.map((c) => c / r.pixels);
  const [ar, ag, ab] = mean(a) as [number, number, number];
  const [br, bg, bb] = mean(b) as [number, number, number];
  const colour = Math.hypot(ar - br, ag - bg, ab - bb);
  if (colour > 40) return false;
  // Close: the gap between the boxes is small next to their size.
  const gapX = Math.max(0, Math.max(a.left, b.left) - Math.min(a.right, b.right));
  const gapY = Math.max(0, Math.max(a.top, b.top) - Math.min(a.bottom, b.bottom));
  const scale = Math.sqrt(Math.min(area(a), area(b)));
  return Math.max(gapX, gapY) <= 0.35 * scale;
}

function union(a: Region, b: Region): Region {
  return {
    pixels: a.pixels + b.pixels,
    left: Math.min(a.left, b.left),
    top: Math.min(a.top, b.top),
    right: Math.max(a.right, b.right),
    bottom: Math.max(a.bottom, b.bottom),
    rgb: [a.rgb[0] + b.rgb[0], a.rgb[1] + b.rgb[1], a.rgb[2] + b.rgb[2]],
    skin: a.skin + b.skin,
  };
}

/** A mask grown by `r` pixels (square neighbourhood), done as separable row and column passes. */
function dilate(mask: Uint8Array, width: number, height: number, r: number): Uint8Array {
  return morph(mask, width, height, r, 1);
}

function erode(mask: Uint8Array, width: number, height: number, r: number): Uint8Array {
  return morph(mask, width, height, r, 0);
}

/** Max (grow) or min (shrink) over a (2r+1) square; outside the image counts as background for growing only. */
function morph(mask: Uint8Array, width: number, height: number, r: number, grow: 0 | 1): Uint8Array {
  const pass = (src: Uint8Array, horizontal: boolean): Uint8Array => {
    const out = new Uint8Array(src.length);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let v = grow ? 0 : 1;
        for (let d = -r; d <= r; d++) {
          const nx = horizontal ? x + d : x;
          const ny = horizontal ? y : y + d;
          if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
          const m = src[ny * width + nx] as number;
          if (grow ? m === 1 : m === 0) {
            v = grow;
            break;
          }
        }
        out[y * width + x] = v;
      }
    }
    return out;
  };
  return pass(pass(mask, true), false);
}
