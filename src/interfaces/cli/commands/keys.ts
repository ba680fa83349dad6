/**
 * `lookalike keys create|list|revoke`: the API keys that may change the catalogue through the
 * HTTP admin API (and read it, on a server started with --private). A key is printed once, on
 * stdout; only its SHA-256 is kept, beside the index (access-keys.json) or in the PostgreSQL store.
 */
import type { Command } from 'commander';
import { KeyError } from '../../../access/key-store.js';
import { isKeyId, newKey } from '../../../access/keys.js';
import { type Access, openAccess } from '../../../access/open.js';
import { defaultIndexDir } from '../../../config.js';
import { describeLocation, readStoreSpec } from '../../../index/location/open.js';
import { log } from '../../../log.js';
import { LOCATION_HELP } from '../options.js';

interface LocationFlags {
  index: string;
}

/** Opens the keys of an index that exists (a key for no index would be a surprise later). */
export async function withAccess<T>(location: string, run: (access: Access) => Promise<T>): Promise<T> {
  if (!(await readStoreSpec(location))) {
    throw new KeyError(`no index at ${describeLocation(location)}: build it first (lookalike index)`);
  }
  const access = openAccess(location);
  try {
    return await run(access);
  } finally {
    await access.close();
  }
}

export function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function registerKeys(program: Command): void {
  const keys = program
    .command('keys')
    .description('API keys for the HTTP admin API (and for reading, on a server started with --private)');

  keys
    .command('create')
    .description('make a new key and print it once on stdout (only its hash is kept)')
    .option('--index <location>', `the index the key is for: ${LOCATION_HELP}`, defaultIndexDir)
    .option('--label <text>', 'what the key is for, shown in lists (e.g. "shop sync")')
    .action(async (flags: LocationFlags & { label?: string }) => {
      const label = flags.label?.trim();
      if (label !== undefined && (label.length === 0 || label.length > 200 || /\p{Cc}/u.test(label))) {
        throw new KeyError('--label must be 1 to 200 printable characters');
      }
      await withAccess(flags.index, async ({ keys }) => {
        const { key, record } = newKey(label);
        await keys.add(record);
        log.info(`key ${record.id} created in ${keys.where}: it is shown only this once, keep it secret`);
        process.stdout.write(`${key}\n`);
      });
    });

  keys
    .command('list')
    .description('the keys of an index: id, label, when made, and whether revoked')
    .option('--index <location>', `the index: ${LOCATION_HELP}`, defaultIndexDir)
    .option('--json', 'one JSON object per key (never the key, nor its hash)')
    .action(async (flags: LocationFlags & { json?: boolean }) => {
      await withAccess(flags.index, async ({ keys }) => {
        const records = [...(await keys.records()).values()];
        const shown = records.map(({ id, label, createdAt, revokedAt }) => ({
          id,
          label,
          createdAt,
          revokedAt,
        }));
        if (flags.json) {
          process.stdout.write(shown.map((r) => `${JSON.stringify(r)}\n`).join(''));
        } else if (shown.length === 0) {
          process.stdout.write('No keys: the admin API is off. Make one with: lookalike keys create\n');
        } else {
          const rows = [
            ['id', 'label', 'created', 'state'],
            ...shown.map((r) => [
              r.id,
              r.label ?? '',
              r.createdAt,
              r.revokedAt ? `revoked ${r.revokedAt}` : 'active',
            ]),
          ];
          process.stdout.write(`${table(rows)}\n`);
        }
      });
    });

  keys
    .command('revoke <id>')
    .description('revoke a key by its id: it stops working at once, on every server')
    .option('--index <location>', `the index: ${LOCATION_HELP}`, defaultIndexDir)
    .action(async (id: string, flags: LocationFlags) => {
      // A whole key given by mistake: its id is its first part.
      const keyId = /^lk_([0-9a-f]{10})_/.exec(id)?.[1] ?? id;
      if (!isKeyId(keyId))
        throw new KeyError(`${JSON.stringify(id.slice(0, 40))} is not a key id (10 hex digits)`);
      await withAccess(flags.index, async ({ keys }) => {
        const record = await keys.revoke(keyId);
        process.stdout.write(`Revoked key ${record.id} (${record.revokedAt})\n`);
      });
    });
}
