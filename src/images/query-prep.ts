/**
 * Makes a shopper's photo look like a catalogue photo before it is described: find the garment and
 * crop to it, put it on a white background, and bring it to the catalogue's own resolution (its
 * photos are small thumbnails, so a sharp phone photo is otherwise compared with blurred ones).
 * Photo in, photo out (a lossless PNG, or its pixels for the embedder to resize as it resizes any
 * photo), so the usual pre-processing follows unchanged.
 */
import sharp, { type Sharp } from 'sharp';
import { findForeground, type RgbImage } from './foreground.js';
import { type CheckedImage, checkImage, decodeChecked, openChecked } from './preprocess.js';

/**
 * Crop and whiten apply to photos that are not already studio-like (a plain light background, as
 * catalogue photos have): those are left as they are, but for the resolution.
 */
export interface QueryPrep {
  /** Crop to the product found in the photo (with a margin). */
  crop?: boolean;
  /** Paint what is not the product white, as on catalogue photos. */
  whiten?: boolean;
  /** Resize to the catalogue's typical photo size first (e.g. 60x80). */
  match?: { width: number; height: number };
  /** Describe the photo and its mirror image, and average the two (test-time flip). */
  flip?: boolean;
}

export const NO_PREP: QueryPrep = {};

export function hasPrep(prep: QueryPrep | undefined): boolean {
  return !!prep && (!!prep.crop || !!prep.whiten || !!prep.match || !!prep.flip);
}

/** Side of the working image the product is looked for on. */
const FIND_SIZE = 64;
/** Margin around the found product, as a share of its size. */
const MARGIN = 0.06;

/**
 * The photo as a PNG, prepared as asked. The photo is checked as decodeToRgb checks it (structure, format,
 * pixel and memory limits).
 * @throws ImageError for any photo that cannot be used (naming it '<buffer>': the caller may hand the
 * original to the decoder, which names the fault with its own label).
 */
export async function prepareQuery(bytes: Buffer, prep: QueryPrep): Promise<Buffer> {
  const { data, width, height } = await prepareQueryPixels(bytes, prep);
  return sharp(data, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}

/**
 * prepareQuery's photo as sRGB pixels, for the embedder to take as they are (no PNG to write and
 * decode again: see Embedder's `pixels` input).
 */
export async function prepareQueryPixels(bytes: Buffer, prep: QueryPrep): Promise<RgbImage> {
  const checked = await checkImage(bytes);
  return decodeChecked(checked, () => prepareChecked(checked, prep));
}

async function prepareChecked(checked: CheckedImage, prep: QueryPrep): Promise<RgbImage> {
  let image = openChecked(checked, 'warning').flatten({ background: '#ffffff' });
  let studio = false;
  if (prep.crop || prep.whiten) {
    const { data, info } = await image
      .clone()
      .resize(FIND_SIZE, FIND_SIZE, { fit: 'fill' })
      .toColourspace('srgb')
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    const fg = findForeground({ data, width: info.width, height: info.height });
    studio = fg.studio;
    if (prep.crop && !studio) image = await cropTo(image, fg, checked);
  }
  if (prep.match) image = image.resize(prep.match.width, prep.match.height, { fit: 'fill' });
  if (!prep.whiten || studio) return rgbOf(image);
  // The network sees 224x224 anyway: find the background on at most 256 px.
  if (!prep.match) image = image.resize(256, 256, { fit: 'inside', withoutEnlargement: true });
  const { data, info } = await image
    .toColourspace('srgb')
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const fg = findForeground({ data, width: info.width, height: info.height });
  if (fg.found) {
    for (let i = 0; i < fg.mask.length; i++) {
      if (fg.mask[i]) continue;
      data[i * 3] = 255;
      data[i * 3 + 1] = 255;
      data[i * 3 + 2] = 255;
    }
  }
  return { data, width: info.width, height: info.height };
}

async function rgbOf(image: Sharp): Promise<RgbImage> {
  const { data, info } = await image
    .toColourspace('srgb')
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** The photo cropped to the found product's box (with a margin), or as it was when none was found. */
async function cropTo(
  image: Sharp,
  fg: ReturnType<typeof findForeground>,
  checked: CheckedImage,
): Promise<Sharp> {
  const { meta } = checked;
  const fullW = meta.autoOrient?.width ?? meta.width ?? 0;
  const fullH = meta.autoOrient?.height ?? meta.height ?? 0;
  if (fg.found && fullW > 0 && fullH > 0) {
    const sx = fullW / FIND_SIZE;
    const sy = fullH / FIND_SIZE;
    const mx = fg.box.width * MARGIN;
    const my = fg.box.height * MARGIN;
    const left = Math.max(0, Math.floor((fg.box.left - mx) * sx));
    const top = Math.max(0, Math.floor((fg.box.top - my) * sy));
    const right = Math.min(fullW, Math.ceil((fg.box.left + fg.box.width + mx) * sx));
    const bottom = Math.min(fullH, Math.ceil((fg.box.top + fg.box.height + my) * sy));
    if (right - left >= 8 && bottom - top >= 8) {
      const cropped = await image
        .extract({ left, top, width: right - left, height: bottom - top })
        .png()
        .toBuffer();
      return sharp(cropped);
    }
  }
  return image;
}
