/**
 * A colour description of the product in a photo, not of its background: a soft histogram of the
 * product's pixels over perceptual colour bins (12 hues x 3 lightness levels x 2 saturation levels
 * for chromatic pixels, 5 grey levels for the rest), centre-weighted, square-rooted and
 * L2-normalised. The dot product of two descriptors is then the Bhattacharyya coefficient of the
 * two colour distributions: 1 for the same colours, 0 for none in common.
 *
 * Written by hand: it is a few dozen lines of arithmetic over pixels that sharp has decoded.
 */
import sharp from 'sharp';
import { findForeground, type RgbImage } from './foreground.js';
import { checkImage, decodeChecked, openChecked } from './preprocess.js';

const HUES = 12;
const LIGHTS = 3;
const SATS = 2;
const GREYS = 5;
export const COLOUR_DIM = HUES * LIGHTS * SATS + GREYS;
/** Changes whenever the descriptor's definition does (stored with every index that uses it). */
export const COLOUR_DESCRIPTOR = 'fg-hsl-77-v1';
/** Side of the small image the descriptor is computed on. */
export const COLOUR_SIZE = 48;

/** Chroma below which a pixel counts as grey (black, grey, white). */
const GREY_CHROMA = 0.1;

/** Adds one pixel (weight w) to the histogram, hue softly shared between its two nearest bins. */
function addPixel(hist: Float64Array, r: number, g: number, b: number, w: number): void {
  const max = Math.max(r, g, b);
  const min = Math.min(r, g, b);
  const chroma = max - min;
  const light = (max + min) / 2;
  if (chroma < GREY_CHROMA) {
    const bin = Math.min(GREYS - 1, Math.floor(light * GREYS));
    const at = HUES * LIGHTS * SATS + bin;
    hist[at] = (hist[at] as number) + w;
    return;
  }
  let hue: number;
  if (max === r) hue = ((g - b) / chroma + 6) % 6;
  else if (max === g) hue = (b - r) / chroma + 2;
  else hue = (r - g) / chroma + 4;
  const h = (hue / 6) * HUES - 0.5;
  const h0 = Math.floor(h);
  const frac = h - h0;
  const sat = chroma / (1 - Math.abs(2 * light - 1) + 1e-6);
  const l = Math.min(LIGHTS - 1, Math.floor(light * LIGHTS));
  const s = sat < 0.5 ? 0 : 1;
  const base = (l * SATS + s) * HUES;
  const lo = base + ((h0 + HUES) % HUES);
  const hi = base + ((h0 + 1) % HUES);
  hist[lo] = (hist[lo] as number) + w * (1 - frac);
  hist[hi] = (hist[hi] as number) + w * frac;
}

/** The descriptor of a small RGB image's foreground (see findForeground). */
export function colourOf(img: RgbImage): Float32Array {
  const { data, width, height } = img;
  const { mask } = findForeground(img);
  const hist = new Float64Array(COLOUR_DIM);
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (!mask[i]) continue;
      // Centre-weighted: the product's middle matters more than its edges and stray pixels.
      const dx = (x - cx) / width;
      const dy = (y - cy) / height;
      const w = Math.exp(-(dx * dx + dy * dy) / (2 * 0.3 * 0.3));
      const j = i * 3;
      addPixel(
        hist,
        (data[j] as number) / 255,
        (data[j + 1] as number) / 255,
        (data[j + 2] as number) / 255,
        w,
      );
    }
  }
  const out = new Float32Array(COLOUR_DIM);
  let norm = 0;
  for (let i = 0; i < COLOUR_DIM; i++) {
    const v = Math.sqrt(hist[i] as number);
    out[i] = v;
    norm += v * v;
  }
  norm = Math.sqrt(norm);
  if (norm > 0) for (let i = 0; i < COLOUR_DIM; i++) out[i] = (out[i] as number) / norm;
  return out;
}

/**
 * Decodes a photo to the small image the descriptor uses (or resizes pixels already decoded). The photo
 * is checked as decodeToRgb checks it (structure, format, pixel and memory limits).
 * @throws ImageError for any photo that cannot be used.
 */
export async function smallRgb(input: string | Buffer | RgbImage, size = COLOUR_SIZE): Promise<RgbImage> {
  if (typeof input !== 'string' && !Buffer.isBuffer(input)) {
    // Pixels this process decoded itself (a prepared query photo).
    const { data, info } = await sharp(input.data, {
      raw: { width: input.width, height: input.height, channels: 3 },
    })
      .resize(size, size, { fit: 'fill' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height };
  }
  const image = await checkImage(input);
  const { data, info } = await decodeChecked(image, () =>
    openChecked(image, 'warning')
      .resize(size, size, { fit: 'fill' })
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true }),
  );
  return { data, width: info.width, height: info.height };
}

/** Names a descriptor's dominant colours, for explaining a match ("red", "navy"...). */
export function dominantColourName(descriptor: Float32Array): string {
  let best = 0;
  for (let i = 1; i < COLOUR_DIM; i++) if ((descriptor[i] as number) > (descriptor[best] as number)) best = i;
  if (best >= HUES * LIGHTS * SATS) {
    return ['black', 'dark grey', 'grey', 'light grey', 'white'][best - HUES * LIGHTS * SATS] as string;
  }
  const hue = best % HUES;
  const l = Math.floor(best / (HUES * SATS));
  const names = [
    'red',
    'orange',
    'yellow',
    'yellow-green',
    'green',
    'green',
    'teal',
    'blue',
    'blue',
    'purple',
    'magenta',
    'pink',
  ];
  const prefix = l === 0 ? 'dark ' : l === 2 ? 'light ' : '';
  return `${prefix}${names[hue]}`;
}
