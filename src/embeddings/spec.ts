/** Global pooling applied to the last 7x7x2048 feature map. */
export const POOLINGS = ['max', 'avg', 'gem'] as const;
export type Pooling = (typeof POOLINGS)[number];

/** How a photo becomes 224x224: `stretch` ignores aspect ratio (as the original), `pad` pads to square with white. */
export const RESIZE_POLICIES = ['stretch', 'pad'] as const;
export type ResizePolicy = (typeof RESIZE_POLICIES)[number];

export interface PreprocessOptions {
  resize: ResizePolicy;
  /** Reproduce the original system's mistake: R,G,B order minus the B,G,R means. For comparison only. */
  seedCompat: boolean;
}

export const INPUT_SIZE = 224;
/** Keras "caffe" means, in B,G,R order. */
export const CAFFE_MEANS_BGR = [103.939, 116.779, 123.68] as const;
