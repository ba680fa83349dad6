#!/usr/bin/env node
// Entry point of the `lookalike` command. The TypeScript sources are compiled to dist/ by `npm run build`.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/interfaces/cli/commands/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('lookalike: not built yet; run `npm run build` (or `npm run setup`) first\n');
  process.exit(1);
}
const { main } = await import(entry.href);
await main(process.argv);
