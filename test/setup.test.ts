/**
 * What the tests need, checked first with clear messages: Chromium for the browser tests, and, when
 * LOOKALIKE_REQUIRE_POSTGRES=1 (scripts/test-all.sh and CI set it), a reachable PostgreSQL with
 * pgvector, so that the PostgreSQL tests cannot silently skip. Also how scripts/install-pgvector.sh
 * finds the machine's Debian mirror in its apt sources.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { constants, existsSync, readdirSync, readFileSync } from 'node:fs';
import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);
const CHROMIUM = process.env.LOOKALIKE_CHROMIUM ?? '/usr/bin/chromium';
const POSTGRES = process.env.LOOKALIKE_TEST_POSTGRES;
const REQUIRE_POSTGRES = process.env.LOOKALIKE_REQUIRE_POSTGRES === '1';
const INSTALL_PGVECTOR = join(import.meta.dirname, '..', 'scripts', 'install-pgvector.sh');
const KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';
const FULL_RUN = 'npm run test:all installs and starts what is missing';

describe('what the tests need', { timeout: 60_000 }, () => {
  test('Chromium for the browser tests', async () => {
    await access(CHROMIUM, constants.X_OK).catch(() => {
      assert.fail(
        `no Chromium at ${CHROMIUM}: apt-get install chromium, or set LOOKALIKE_CHROMIUM (${FULL_RUN})`,
      );
    });
  });

  test('PostgreSQL with pgvector for the store tests (required by LOOKALIKE_REQUIRE_POSTGRES=1)', {
    skip:
      POSTGRES || REQUIRE_POSTGRES
        ? false
        : 'LOOKALIKE_TEST_POSTGRES is not set: the PostgreSQL tests skip (LOOKALIKE_REQUIRE_POSTGRES=1 makes that a failure)',
  }, async () => {
    assert.ok(
      POSTGRES,
      `LOOKALIKE_REQUIRE_POSTGRES=1 but LOOKALIKE_TEST_POSTGRES is not set (${FULL_RUN}; or export LOOKALIKE_TEST_POSTGRES=$(scripts/start-postgres.sh))`,
    );
    const client = new pg.Client({ connectionString: POSTGRES, connectionTimeoutMillis: 10_000 });
    try {
      await client.connect().catch((err: Error) => {
        assert.fail(`cannot connect to LOOKALIKE_TEST_POSTGRES (${POSTGRES}): ${err.message}`);
      });
      const vector = await client.query(
        "SELECT default_version FROM pg_available_extensions WHERE name = 'vector'",
      );
      assert.equal(vector.rowCount, 1, 'the extension "vector" is available (scripts/install-pgvector.sh)');
    } finally {
      await client.end().catch(() => undefined);
    }
  });
});

/** The sources file install-pgvector.sh would write for these apt sources: its path, its text, its messages. */
async function sourceFor(
  files: Record<string, string>,
  codename = 'bookworm',
): Promise<{ file: string; text: string; stderr: string }> {
  const etc = await mkdtemp(join(tmpdir(), 'lookalike-apt-'));
  try {
    await mkdir(join(etc, 'sources.list.d'));
    for (const [name, text] of Object.entries(files)) await writeFile(join(etc, name), text);
    const osRelease = join(etc, 'os-release');
    await writeFile(osRelease, `PRETTY_NAME="Debian"\nID=debian\nVERSION_CODENAME=${codename}\n`);
    const { stdout, stderr } = await run('bash', [INSTALL_PGVECTOR, '--print-source'], {
      env: { ...process.env, LOOKALIKE_APT_ETC: etc, LOOKALIKE_OS_RELEASE: osRelease },
    });
    const [first, ...rest] = stdout.split('\n');
    return { file: (first ?? '').replace(/^# /, '').replace(etc, '/etc/apt'), text: rest.join('\n'), stderr };
  } finally {
    await rm(etc, { recursive: true, force: true });
  }
}

/** Debian's archive keyring where this machine has it (the entry names it then), else nothing. */
const keyLine = existsSync(KEYRING) ? `Signed-By: ${KEYRING}\n` : '';
const keyOption = existsSync(KEYRING) ? ` [signed-by=${KEYRING}]` : '';

describe("install-pgvector.sh takes the Debian mirror from the machine's apt sources", {
  timeout: 60_000,
}, () => {
  test("this machine's own sources", { skip: !existsSync('/etc/apt') && 'no /etc/apt here' }, async (t) => {
    const { stdout } = await run('bash', [INSTALL_PGVECTOR, '--print-source']);
    t.diagnostic(stdout.trim().replaceAll('\n', ' | '));
    const uri =
      /^URIs: (\S+)$/m.exec(stdout)?.[1] ?? /^deb-src (?:\[[^\]]*\] )?(\S+) trixie main$/m.exec(stdout)?.[1];
    assert.ok(uri, stdout);
    // The URI is one that the machine's own sources name (other than the entry this script writes).
    const named = new Set<string>();
    const dir = '/etc/apt/sources.list.d';
    const files = [
      '/etc/apt/sources.list',
      ...(existsSync(dir) ? readdirSync(dir).map((f) => join(dir, f)) : []),
    ].filter((f) => /\.(list|sources)$/.test(f) && !/trixie-src\./.test(f) && existsSync(f));
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(/^\s*URIs:\s*(.+)$/gim))
        for (const u of m[1]?.split(/\s+/) ?? []) named.add(u);
      for (const m of text.matchAll(/^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)/gm)) named.add(m[1] as string);
    }
    if (named.size > 0) assert.ok(named.has(uri), `${uri} is not among ${[...named].join(', ')}`);
  });

  test('a classic sources.list on a country mirror, with security, comments and deb-src lines', async () => {
    const got = await sourceFor({
      'sources.list': [
        '# deb http://deb.debian.org/debian bookworm main',
        'deb http://security.debian.org/debian-security bookworm-security main contrib',
        'deb-src http://ftp.de.debian.org/debian/ bookworm main',
        'deb http://ftp.de.debian.org/debian/ bookworm main contrib non-free-firmware  # the mirror',
        'deb http://ftp.de.debian.org/debian/ bookworm-updates main',
        '',
      ].join('\n'),
    });
    assert.equal(got.file, '/etc/apt/sources.list.d/trixie-src.list');
    assert.equal(got.text, `deb-src${keyOption} http://ftp.de.debian.org/debian/ trixie main\n`);
  });

  test('one-line entries with options: the signed-by of the mirror entry is kept', async () => {
    const got = await sourceFor({
      'sources.list': '',
      'sources.list.d/mirror.list':
        'deb [arch=amd64 signed-by=/etc/apt/keyrings/mirror.gpg] https://mirror.example.org/debian bookworm main\n',
      'sources.list.d/other.list': 'deb [ arch=amd64 ] https://apt.example.com/repo stable extra\n',
    });
    assert.equal(
      got.text,
      'deb-src [signed-by=/etc/apt/keyrings/mirror.gpg] https://mirror.example.org/debian trixie main\n',
    );
  });

  test('deb822 .sources: disabled stanzas, several URIs, an inline key, a third-party repository', async () => {
    const got = await sourceFor({
      'sources.list.d/nodesource.sources': [
        'Types: deb',
        'URIs: https://deb.nodesource.com/node_20.x',
        'Suites: nodistro',
        'Components: main',
        '',
      ].join('\n'),
      'sources.list.d/debian.sources': [
        '# the old mirror',
        'Types: deb',
        'URIs: http://old.example.org/debian',
        'Suites: bookworm',
        'Components: main',
        'Enabled: no',
        '',
        'Types: deb deb-src',
        '# http://snapshot.debian.org/archive/debian/20250520T000000Z',
        'URIs: http://mirror.example.net/debian http://deb.debian.org/debian',
        'Suites: bookworm bookworm-updates',
        'Components: main contrib',
        'Signed-By:',
        ' -----BEGIN PGP PUBLIC KEY BLOCK-----',
        ' .',
        ' mQINBGPL0BUBEADmW5NGMoHQBv',
        ' -----END PGP PUBLIC KEY BLOCK-----',
        '',
        'Types: deb',
        'URIs: http://security.example.net/debian-security',
        'Suites: bookworm-security',
        'Components: main',
        'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg',
      ].join('\n'),
    });
    assert.equal(got.file, '/etc/apt/sources.list.d/trixie-src.sources');
    assert.equal(
      got.text,
      `Types: deb-src\nURIs: http://mirror.example.net/debian\nSuites: trixie\nComponents: main\n${keyLine}`,
    );
  });

  test('the Signed-By file of a deb822 entry is kept', async () => {
    const got = await sourceFor({
      'sources.list.d/debian.sources':
        'Types: deb\nURIs: mirror+file:/etc/apt/mirrors/debian.list\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /etc/apt/keyrings/debian.pgp\n',
    });
    assert.equal(
      got.text,
      'Types: deb-src\nURIs: mirror+file:/etc/apt/mirrors/debian.list\nSuites: trixie\nComponents: main\nSigned-By: /etc/apt/keyrings/debian.pgp\n',
    );
  });

  test('no entry for this release: deb.debian.org, and a message that says so', async () => {
    const got = await sourceFor({
      'sources.list': 'deb http://archive.ubuntu.com/ubuntu noble main\n',
    });
    assert.equal(got.text, `deb-src${keyOption} http://deb.debian.org/debian trixie main\n`);
    assert.match(got.stderr, /no Debian entry for bookworm/);
  });
});
