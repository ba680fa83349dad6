/** `--shopper-photos <dir>` of the commands that learn a similarity: embedded when a model is learned. */
import type { EmbedderOptions } from '../../embeddings/embedder.js';
import { log } from '../../log.js';
import type { ShopperExamples } from '../../similarity/shopper-head.js';
import { embedShopperPhotos } from '../../similarity/shopper-photos.js';

export const SHOPPER_PHOTOS_HELP =
  "labelled shoppers' photos (images/, labels.csv, label-to-kinds.json, as street-dev): when a similarity is learned, also learn from their tune half which kind a shopper's photo shows";

export function shopperExamples(
  dir: string | undefined,
  embedder: EmbedderOptions,
): (() => Promise<ShopperExamples>) | undefined {
  if (!dir) return undefined;
  return async () => {
    const started = performance.now();
    const examples = await embedShopperPhotos(dir, embedder);
    log.info(
      `embedded ${examples.labels.length} shoppers' photos (the tune half of ${examples.source}) in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
    return examples;
  };
}
