/** `lookalike classify <image...>`: ImageNet top-5 of each photo, a sanity check of the weights. */
import type { Command } from 'commander';
import { Embedder } from '../../../embeddings/embedder.js';
import { positiveInt } from '../options.js';

export function registerClassify(program: Command): void {
  program
    .command('classify')
    .description('ImageNet top-k classes of each photo from the original classifier head (a sanity check)')
    .argument('<image...>', 'photo files')
    .option('-k <n>', 'classes per photo', positiveInt('-k', 1000), 5)
    .option('--json', 'one JSON object per line')
    .action(async (images: string[], flags: { k: number; json?: boolean }) => {
      const embedder = await Embedder.create({ head: true });
      const results = await embedder.classify(images, flags.k);
      results.forEach((top, i) => {
        const path = images[i] as string;
        if (flags.json) process.stdout.write(`${JSON.stringify({ path, classes: top })}\n`);
        else
          process.stdout.write(
            `${path}\n${top.map((c) => `  ${(c.probability * 100).toFixed(1).padStart(5)}%  ${c.label}`).join('\n')}\n`,
          );
      });
      await embedder.close();
    });
}
