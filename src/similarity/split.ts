/**
 * The fixed product split that keeps evaluation honest: what is learned from the catalogue is
 * learned from the training side only, and scored on the held-out side. The side is decided by the
 * photo's content hash, so identical photos (listed under several ids) always fall on one side,
 * and a product keeps its side when the catalogue grows.
 */

/** One product in five is held out. */
export const HELD_OUT_SHARE = 0.2;
export const SPLIT_NAME = 'held-out = first 32 bits of the photo sha256 mod 5 == 0 (20%)';

/** True when the product whose photo has this sha256 (hex) is held out from learning. */
export function isHeldOut(photoHash: string): boolean {
  return Number.parseInt(photoHash.slice(0, 8), 16) % 5 === 0;
}

/** Street photos are split in two by their file name: one half to tune on, the other to report. */
export type StreetPart = 'tune' | 'report';

export function streetPart(name: string): StreetPart {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % 2 === 0 ? 'tune' : 'report';
}
