/**
 * Where the product is in a photo, from its pixels alone: the background is estimated from the
 * photo's border (a few colour prototypes), and the pixels far from every prototype are the
 * product. Catalogue photos have plain light backgrounds; a shopper's photo has a bed, a floor or
 * a table, which is usually still more uniform along the border than the garment in the middle.
 *
 * Written by hand: no library segments a garment without a trained model, and the only weights
 * this project can have are ResNet-50's.
 */

/** Interleaved R,G,B bytes of a small image (rows top to bottom). */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export interface Foreground {
  /** 1 where the pixel is taken for the product, else 0 (width x height). */
  mask: Uint8Array;
  /** Share of the pixels in the mask. */
  share: number;
  /** Bounding box of the product (robust to stray pixels), in pixels. */
  box: { left: number; top: number; width: number; height: number };
  /** False when no product could be told from the background (the mask is then the whole photo). */
  found: boolean;
  /** The border is mostly one light, plain colour: a studio (catalogue-like) photo. */
  studio: boolean;
}

/** Below this share of the pixels the mask is not trusted (e.g. a white shirt on a white background). */
const MIN_SHARE = 0.03;
const PROTOTYPES = 4;

/** The border ring's pixels, as r,g,b triples in one array. */
function borderPixels(img: RgbImage): Float64Array {
  const { data, width, height } = img;
  const ring = Math.max(1, Math.round(Math.min(width, height) * 0.06));
  const out: number[] = [];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (x >= ring && x < width - ring && y >= ring && y < height - ring) continue;
      const i = (y * width + x) * 3;
      out.push(data[i] as number, data[i + 1] as number, data[i + 2] as number);
    }
  }
  return Float64Array.from(out);
}

/** Squared distance between colour c of `centres` and (r, g, b). */
function dist2(centres: Float64Array, c: number, r: number, g: number, b: number): number {
  return (
    ((centres[c * 3] as number) - r) ** 2 +
    ((centres[c * 3 + 1] as number) - g) ** 2 +
    ((centres[c * 3 + 2] as number) - b) ** 2
  );
}

/** Index of the nearest centre and its squared distance. */
function nearest(centres: Float64Array, r: number, g: number, b: number): [number, number] {
  let best = 0;
  let bestD = Number.POSITIVE_INFINITY;
  for (let c = 0; c < centres.length / 3; c++) {
    const d = dist2(centres, c, r, g, b);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return [best, bestD];
}

interface Prototypes {
  /** r,g,b of each prototype. */
  centres: Float64Array;
  /** Share of the border pixels nearest to each. */
  shares: number[];
}

/** A few k-means prototypes of the border colours (deterministic start: spread over brightness). */
function prototypes(pixels: Float64Array): Prototypes {
  const n = pixels.length / 3;
  const brightness = (i: number) =>
    (pixels[i * 3] as number) + (pixels[i * 3 + 1] as number) + (pixels[i * 3 + 2] as number);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => brightness(a) - brightness(b));
  let centres = new Float64Array(PROTOTYPES * 3);
  for (let c = 0; c < PROTOTYPES; c++) {
    const p = order[Math.floor(((c + 0.5) / PROTOTYPES) * n)] as number;
    centres.set(pixels.subarray(p * 3, p * 3 + 3), c * 3);
  }
  const counts = new Float64Array(PROTOTYPES);
  for (let iter = 0; iter <= 8; iter++) {
    const sums = new Float64Array(PROTOTYPES * 3);
    counts.fill(0);
    for (let i = 0; i < n; i++) {
      const r = pixels[i * 3] as number;
      const g = pixels[i * 3 + 1] as number;
      const b = pixels[i * 3 + 2] as number;
      const [c] = nearest(centres, r, g, b);
      sums[c * 3] = (sums[c * 3] as number) + r;
      sums[c * 3 + 1] = (sums[c * 3 + 1] as number) + g;
      sums[c * 3 + 2] = (sums[c * 3 + 2] as number) + b;
      counts[c] = (counts[c] as number) + 1;
    }
    if (iter === 8) break;
    const next = new Float64Array(centres);
    for (let c = 0; c < PROTOTYPES; c++) {
      const k = counts[c] as number;
      if (k > 0) for (let j = 0; j < 3; j++) next[c * 3 + j] = (sums[c * 3 + j] as number) / k;
    }
    centres = next;
  }
  // Prototypes that explain very few border pixels are more likely the product touching the border.
  const keep = Array.from({ length: PROTOTYPES }, (_, c) => c).filter(
    (c) => (counts[c] as number) >= n * 0.1,
  );
  const kept = new Float64Array(keep.length * 3);
  keep.forEach((c, j) => {
    kept.set(centres.subarray(c * 3, c * 3 + 3), j * 3);
  });
  return { centres: kept, shares: keep.map((c) => (counts[c] as number) / n) };
}

/** Finds the product in a small RGB image. */
export function findForeground(img: RgbImage): Foreground {
  const { data, width, height } = img;
  const n = width * height;
  const border = borderPixels(img);
  const { centres, shares } = prototypes(border);
  const studio = shares.some(
    (share, c) =>
      share >= 0.8 &&
      Math.min(centres[c * 3] as number, centres[c * 3 + 1] as number, centres[c * 3 + 2] as number) >= 225,
  );
  // How far border pixels lie from their prototype: textured backgrounds get a wider tolerance.
  const spread: number[] = [];
  for (let i = 0; i < border.length / 3; i++) {
    spread.push(
      nearest(centres, border[i * 3] as number, border[i * 3 + 1] as number, border[i * 3 + 2] as number)[1],
    );
  }
  spread.sort((a, b) => a - b);
  const typical = Math.sqrt(spread[Math.floor(spread.length * 0.9)] ?? 0);
  const threshold = Math.max(28, Math.min(90, 1.5 * typical + 12)) ** 2;
  const mask = new Uint8Array(n);
  let count = 0;
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    const [, d] = nearest(centres, data[j] as number, data[j + 1] as number, data[j + 2] as number);
    if (d >= threshold) {
      mask[i] = 1;
      count += 1;
    }
  }
  const share = count / n;
  if (share < MIN_SHARE) {
    mask.fill(1);
    return { mask, share: 1, box: { left: 0, top: 0, width, height }, found: false, studio };
  }
  return { mask, share, box: robustBox(mask, width, height, count), found: true, studio };
}

/** The box holding the central 96% of the mask's pixels along each axis. */
function robustBox(mask: Uint8Array, width: number, height: number, count: number) {
  const cols = new Float64Array(width);
  const rows = new Float64Array(height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (mask[y * width + x]) {
        cols[x] = (cols[x] as number) + 1;
        rows[y] = (rows[y] as number) + 1;
      }
    }
  }
  const span = (hist: Float64Array): [number, number] => {
    const lo = count * 0.02;
    const hi = count * 0.98;
    let acc = 0;
    let start = 0;
    let end = hist.length - 1;
    let startSet = false;
    for (let i = 0; i < hist.length; i++) {
      acc += hist[i] as number;
      if (!startSet && acc > lo) {
        start = i;
        startSet = true;
      }
      if (acc >= hi) {
        end = i;
        break;
      }
    }
    return [start, end];
  };
  const [left, right] = span(cols);
  const [top, bottom] = span(rows);
  return { left, top, width: right - left + 1, height: bottom - top + 1 };
}
