/**
 * Builds the web page into dist/web: src/interfaces/web/app.ts bundled (with cropperjs) by
 * esbuild, the styles (with cropperjs's) bundled, both with content hashes in their names, and
 * index.html pointing at them.
 *
 *   npm run build:web [-- --dev]      (--dev: no minification)
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { projectRoot } from '../src/config.js';

export const webSourceDir = join(projectRoot, 'src', 'interfaces', 'web');
export const webOutDir = join(projectRoot, 'dist', 'web');

/**
 * What the page must not bundle: zod and the server's modules. It shares the API's contract
 * (src/interfaces/http/api/contract.ts, types and constants) and imports the rest for types only.
 */
const SERVER_ONLY =
  /(^|\/)node_modules\/(zod|fastify[^/]*|@fastify\/[^/]+)\/|src\/interfaces\/http\/(?!api\/contract\.ts$)/;

export interface BuildWebOptions {
  outDir?: string;
  minify?: boolean;
}

/** Builds the page; returns the files written (names relative to outDir). */
export async function buildWeb(options: BuildWebOptions = {}): Promise<string[]> {
  const outDir = options.outDir ?? webOutDir;
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const result = await build({
    entryPoints: { app: join(webSourceDir, 'app.ts'), styles: join(webSourceDir, 'styles.css') },
    outdir: outDir,
    entryNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
    minify: options.minify ?? true,
    sourcemap: true,
    legalComments: 'linked',
    metafile: true,
    logLevel: 'warning',
  });
  const leaked = Object.keys(result.metafile.inputs).filter((path) => SERVER_ONLY.test(path));
  if (leaked.length > 0) {
    throw new Error(
      `the page bundles server-only modules (import them with \`import type\`): ${leaked.join(', ')}`,
    );
  }
  const outputs = Object.entries(result.metafile.outputs);
  const entry = (name: string) => {
    const found = outputs.find(([, o]) => o.entryPoint?.endsWith(name));
    if (!found) throw new Error(`esbuild wrote no output for ${name}`);
    return basename(found[0]);
  };
  const html = (await readFile(join(webSourceDir, 'index.html'), 'utf8'))
    .replace('href="/styles.css"', `href="/${entry('styles.css')}"`)
    .replace('src="/app.js"', `src="/${entry('app.ts')}"`);
  await writeFile(join(outDir, 'index.html'), html);
  return ['index.html', ...outputs.map(([path]) => basename(path))];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { dev: { type: 'boolean', default: false } } });
  const files = await buildWeb({ minify: !values.dev });
  process.stderr.write(`web page built in ${webOutDir}: ${files.join(', ')}\n`);
}
