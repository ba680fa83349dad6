/** The real server for tests: built in this process and listening, or `lookalike serve` in a child. */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';

/** Listens on a free local port; the base URL without a trailing slash. */
export async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (!address || typeof address !== 'object') throw new Error('the server has no address');
  return `http://127.0.0.1:${address.port}`;
}

/** `lookalike <args>` from the TypeScript sources in a child process (JSON logs on stderr). */
export function spawnCli(args: string[]): ChildProcessWithoutNullStreams {
  const main = join(import.meta.dirname, '..', '..', 'src', 'interfaces', 'cli', 'commands', 'main.ts');
  return spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      `const { main } = await import(${JSON.stringify(main)}); await main(process.argv.slice(0, 1).concat(['lookalike', ...process.argv.slice(1)]));`,
      ...args,
    ],
    { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LOOKALIKE_LOG_FORMAT: 'json' } },
  );
}
