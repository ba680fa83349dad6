/**
 * The layout holds: no import cycle between folders of src/ (the pipeline's stages depend one
 * way), and no module but the catalogue schema names a fashion column. Checked on the source
 * text (a regular expression over import specifiers is enough for this code base's ES modules;
 * a dependency-graph tool would need its own configuration for folder-level rules).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';

const SRC = resolve(import.meta.dirname, '..', 'src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** folder -> folders it imports from (relative specifiers only). */
function folderGraph(): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  for (const file of sources(SRC)) {
    const from = relative(SRC, dirname(file)) || '.';
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:import|export)[^'"]*?from\s+['"](\.{1,2}\/[^'"]+)['"]/g)) {
      const to = relative(SRC, dirname(resolve(dirname(file), m[1] as string))) || '.';
      if (to === from) continue;
      const edges = graph.get(from) ?? new Map<string, string>();
      graph.set(from, edges);
      if (!edges.has(to)) edges.set(to, `${relative(SRC, file)} imports ${m[1]}`);
    }
  }
  return graph;
}

test('no import cycle between the folders of src/', () => {
  const graph = folderGraph();
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const cycles: string[] = [];
  const visit = (folder: string) => {
    state.set(folder, 'open');
    path.push(folder);
    for (const [next, why] of graph.get(folder) ?? []) {
      if (state.get(next) === 'open')
        cycles.push(`${[...path.slice(path.indexOf(next)), next].join(' -> ')} (${why})`);
      else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(folder, 'done');
  };
  for (const folder of graph.keys()) if (!state.has(folder)) visit(folder);
  assert.deepEqual(cycles, []);
  assert.ok(graph.size > 10, 'the graph was read');
});

test('only the catalogue schema names the fashion catalogue columns', () => {
  const named = sources(SRC)
    .filter((file) => !file.endsWith(join('catalogue', 'schema.ts')))
    .filter((file) =>
      /\b(gender|masterCategory|subCategory|articleType|baseColour|productDisplayName)\b/.test(
        readFileSync(file, 'utf8'),
      ),
    )
    .map((file) => relative(SRC, file));
  assert.deepEqual(named, []);
});
