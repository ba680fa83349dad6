/** `lookalike setup`: fetch the weights and convert the model(s) ahead of first use. */
import type { Command } from 'commander';
import { ensureModel } from '../../../embeddings/model-cache.js';
import { DEFAULT_INPUT_SIZE, DEFAULT_PRECISION, POOLINGS, type Pooling } from '../../../embeddings/spec.js';
import { ensureWeights } from '../../../embeddings/weights.js';

export function registerSetup(program: Command): void {
  program
    .command('setup')
    .description('fetch the ImageNet weights and convert ResNet-50 to ONNX (cached; later runs reuse it)')
    .option('--all', 'convert every pooling (max, avg, gem), not only max')
    .action(async (flags: { all?: boolean }) => {
      const weights = await ensureWeights();
      process.stdout.write(`weights: ${weights.modelDir}\n`);
      const poolings: readonly Pooling[] = flags.all ? POOLINGS : ['max'];
      for (const pooling of poolings) {
        // The model new indexes use: the default precision and input size.
        const model = await ensureModel({
          pooling,
          head: false,
          precision: DEFAULT_PRECISION,
          inputSize: DEFAULT_INPUT_SIZE,
        });
        process.stdout.write(`model:   ${model.path} (${model.converted ? 'converted' : 'cached'})\n`);
      }
    });
}
