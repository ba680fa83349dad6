/** The `lookalike` command-line program. */
import { Command } from 'commander';
import { isImageError } from '../../images/errors.js';
import { registerClassify } from './commands/classify.js';
import { registerEmbed } from './commands/embed.js';
import { registerEval } from './commands/eval.js';
import { registerHnsw } from './commands/hnsw.js';
import { registerIndex } from './commands/index.js';
import { registerLearn } from './commands/learn.js';
import { registerRecommend } from './commands/recommend.js';
import { registerServe } from './commands/serve.js';
import { registerSetup } from './commands/setup.js';
import { EXIT_FAILURE } from './exit.js';

export function buildProgram(): Command {
  const program = new Command('lookalike')
    .description('Visual fashion recommender: a photo in, the most similar catalogue products out.')
    .showHelpAfterError('(run with --help for usage)');
  registerSetup(program);
  registerEmbed(program);
  registerClassify(program);
  registerIndex(program);
  registerLearn(program);
  registerHnsw(program);
  registerRecommend(program);
  registerEval(program);
  registerServe(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    const message = isImageError(err) || err instanceof Error ? err.message : String(err);
    process.stderr.write(`lookalike: ${message}\n`);
    process.exitCode = EXIT_FAILURE;
  }
}
