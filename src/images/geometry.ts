/**
 * The square every photo is decoded to, and how it gets there. Dependency-free: the embedding spec
 * (src/embeddings/spec.ts) re-exports these, so that images/ never imports embeddings/.
 */

/** Side of the square that photos are decoded to (ResNet-50's input). */
export const INPUT_SIZE = 224;

/** How a photo becomes square: `stretch` ignores aspect ratio (as the original), `pad` pads to square with white. */
export const RESIZE_POLICIES = ['stretch', 'pad'] as const;
export type ResizePolicy = (typeof RESIZE_POLICIES)[number];
