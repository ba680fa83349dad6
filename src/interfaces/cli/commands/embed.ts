/** `lookalike embed <image...>`: print the embedding of each photo. */
import type { Command } from 'commander';
import { Embedder } from '../../../embeddings/embedder.js';
import { isImageError } from '../../../images/errors.js';
import { log } from '../../../log.js';
import { EXIT_PARTIAL } from '../exit.js';
import { addEmbeddingOptions, type EmbeddingFlags, embedderOptions } from '../options.js';

interface Flags extends EmbeddingFlags {
  json?: boolean;
}

function preview(v: Float32Array): string {
  return `${v.length}-d  [${Array.from(v.subarray(0, 6), (x) => x.toFixed(4)).join(' ')} ...]`;
}

export function registerEmbed(program: Command): void {
  addEmbeddingOptions(
    program
      .command('embed')
      .description('print the L2-normalised ResNet-50 embedding of each photo')
      .argument('<image...>', 'photo files (JPEG, PNG, WebP, GIF, AVIF, TIFF)')
      .option('--json', 'one JSON object per line: {"path": ..., "vector": [2048 numbers]}'),
  ).action(async (images: string[], flags: Flags) => {
    const embedder = await Embedder.create(embedderOptions(flags));
    let index = 0;
    let failed = 0;
    for await (const batch of embedder.embedBatches(images)) {
      for (const result of batch) {
        const path = images[index++] as string;
        if (isImageError(result)) {
          failed += 1;
          log.error({ path, code: result.code }, result.message);
          if (flags.json) {
            const error = { code: result.code, message: result.message };
            process.stdout.write(`${JSON.stringify({ path, error })}\n`);
          }
        } else if (flags.json) {
          process.stdout.write(`${JSON.stringify({ path, vector: Array.from(result) })}\n`);
        } else {
          process.stdout.write(`${path}  ${preview(result)}\n`);
        }
      }
    }
    await embedder.close();
    if (failed > 0) {
      log.error(`${failed} of ${images.length} images could not be embedded`);
      process.exitCode = EXIT_PARTIAL;
    }
  });
}
