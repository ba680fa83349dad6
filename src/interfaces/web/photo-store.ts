/**
 * The shopper's uploaded photos by query id, kept in this tab's session storage so that reload and
 * back/forward show the photo again (a shared link shows the results without it). A few only: the
 * oldest go first, and a photo that does not fit is simply not kept.
 */
const PREFIX = 'lookalike-photo:';
const KEEP = 4;

export interface StoredPhoto {
  dataUrl: string;
  name: string;
  at: number;
  /** The search was of a part of this photo (a crop or a suggested garment). */
  selection?: boolean;
}

function read(key: string): StoredPhoto | undefined {
  try {
    const raw = sessionStorage.getItem(key);
    return raw ? (JSON.parse(raw) as StoredPhoto) : undefined;
  } catch {
    return undefined;
  }
}

function blobToDataUrl(blob: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

/** Keeps a photo (its bytes, or the data URL it was restored from) for a query id. */
export async function keepPhoto(
  queryId: string,
  photo: Blob | string,
  name: string,
  selection = false,
): Promise<void> {
  if (typeof photo !== 'string' && photo.size > 1.5 * 1024 * 1024) return;
  try {
    const dataUrl = typeof photo === 'string' ? photo : await blobToDataUrl(photo);
    const stored: StoredPhoto = { dataUrl, name, at: Date.now(), ...(selection ? { selection } : {}) };
    const keys = Object.keys(sessionStorage).filter((k) => k.startsWith(PREFIX));
    const byAge = keys
      .map((k) => ({ k, at: read(k)?.at ?? 0 }))
      .sort((a, b) => a.at - b.at)
      .map((e) => e.k);
    for (const old of byAge.slice(0, Math.max(0, byAge.length - (KEEP - 1)))) sessionStorage.removeItem(old);
    sessionStorage.setItem(PREFIX + queryId, JSON.stringify(stored));
  } catch {
    // Storage full or unavailable: the results still come back by their id, without the photo.
  }
}

export function storedPhoto(queryId: string): StoredPhoto | undefined {
  return read(PREFIX + queryId);
}
