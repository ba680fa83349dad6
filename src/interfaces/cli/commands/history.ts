/** `lookalike history <id>`: the changes made to a product through the admin API (its audit trail). */
import type { Command } from 'commander';
import { defaultIndexDir } from '../../../config.js';
import { LOCATION_HELP } from '../options.js';
import { table, withAccess } from './keys.js';

export function registerHistory(program: Command): void {
  program
    .command('history <id>')
    .description(
      'the changes made to a product through the admin API, oldest first (time, key id, action, result)',
    )
    .option('--index <location>', `the index: ${LOCATION_HELP}`, defaultIndexDir)
    .option('--json', 'one JSON object per change, as the audit trail holds it')
    .action(async (id: string, flags: { index: string; json?: boolean }) => {
      await withAccess(flags.index, async ({ audit }) => {
        const entries = await audit.history(id);
        if (flags.json) {
          process.stdout.write(entries.map((e) => `${JSON.stringify(e)}\n`).join(''));
          return;
        }
        if (entries.length === 0) {
          process.stdout.write(`No changes to ${JSON.stringify(id)} through the admin API.\n`);
          return;
        }
        const rows = [
          ['time', 'key', 'action', 'result', 'status', 'sequence'],
          ...entries.map((e) => [
            e.time,
            e.keyId,
            e.batch ? `${e.action} (batch)` : e.action,
            e.result,
            String(e.status),
            e.sequence === undefined ? '' : String(e.sequence),
          ]),
        ];
        process.stdout.write(`${table(rows)}\n`);
      });
    });
}
