/**
 * Photos are scaled down in the browser before upload: a 12 MP phone photo becomes a JPEG of at
 * most 1024 px on its long side (a few hundred KB), upright as the camera's EXIF orientation says.
 * Photos already that small are sent as they are (so a catalogue photo is still recognised by its
 * bytes), and so are those the browser cannot decode (the server reads more formats).
 */

/** Longest side sent to the server: plenty for a 224x224 model input and for cropping. */
export const MAX_UPLOAD_SIDE = 1024;

export interface Prepared {
  photo: Blob;
  /** Whether `photo` is a scaled-down copy. */
  scaled: boolean;
}

function toJpeg(canvas: HTMLCanvasElement): Promise<Blob> {
  return new Promise((resolve, reject) =>
    canvas.toBlob(
      (blob) => (blob ? resolve(blob) : reject(new Error('the photo could not be encoded'))),
      'image/jpeg',
      0.88,
    ),
  );
}

export async function prepareUpload(file: Blob): Promise<Prepared> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
  } catch {
    return { photo: file, scaled: false };
  }
  try {
    const long = Math.max(bitmap.width, bitmap.height);
    if (long <= MAX_UPLOAD_SIDE) return { photo: file, scaled: false };
    const scale = MAX_UPLOAD_SIDE / long;
    const canvas = document.createElement('canvas');
    canvas.width = Math.max(1, Math.round(bitmap.width * scale));
    canvas.height = Math.max(1, Math.round(bitmap.height * scale));
    const context = canvas.getContext('2d');
    if (!context) return { photo: file, scaled: false };
    context.fillStyle = '#fff'; // transparent areas become white, as the server treats them
    context.fillRect(0, 0, canvas.width, canvas.height);
    context.imageSmoothingQuality = 'high';
    context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    return { photo: await toJpeg(canvas), scaled: true };
  } finally {
    bitmap.close();
  }
}

/** A part of a shown image (box in fractions of it), as a JPEG of at most MAX_UPLOAD_SIDE. */
export function cutOut(
  image: HTMLImageElement,
  box: { left: number; top: number; width: number; height: number },
): Promise<Blob> {
  const w = image.naturalWidth;
  const h = image.naturalHeight;
  const sx = Math.round(box.left * w);
  const sy = Math.round(box.top * h);
  const sw = Math.max(1, Math.round(box.width * w));
  const sh = Math.max(1, Math.round(box.height * h));
  const scale = Math.min(1, MAX_UPLOAD_SIDE / Math.max(sw, sh));
  const canvas = document.createElement('canvas');
  canvas.width = Math.max(1, Math.round(sw * scale));
  canvas.height = Math.max(1, Math.round(sh * scale));
  const context = canvas.getContext('2d');
  if (!context) return Promise.reject(new Error('no canvas'));
  context.fillStyle = '#fff';
  context.fillRect(0, 0, canvas.width, canvas.height);
  context.drawImage(image, sx, sy, sw, sh, 0, 0, canvas.width, canvas.height);
  return toJpeg(canvas);
}
