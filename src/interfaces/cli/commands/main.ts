/** The `lookalike` command-line program. */
import { Command } from 'commander';
import { isImageError } from '../../../images/errors.js';
import { EXIT_FAILURE } from '../exit.js';
import { registerClassify } from './classify.js';
import { registerEmbed } from './embed.js';
import { registerEval } from './eval.js';
import { registerHistory } from './history.js';
import { registerHnsw } from './hnsw.js';
import { registerIndex } from './index.js';
import { registerKeys } from './keys.js';
import { registerLearn } from './learn.js';
import { registerRecommend } from './recommend.js';
import { registerServe } from './serve.js';
import { registerSetup } from './setup.js';

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
  registerKeys(program);
  registerHistory(program);
  return program;
}

/**
 * Runs the program. A command that fails prints one line and the process exits at once with
 * status 1: whatever work was still pending (a timer, a worker thread, a connection) is not left
 * to keep a failed command alive (every command also stops its own on the way out).
 */
export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    const message = isImageError(err) || err instanceof Error ? err.message : String(err);
    process.stderr.write(`lookalike: ${message}\n`);
    process.exit(EXIT_FAILURE);
  }
}
