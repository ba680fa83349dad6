import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { QUERY_ID_PATTERN, QueryStore } from '../src/recommend/query-store.js';

const query = (dim: number) => ({ vector: new Float32Array(dim).fill(0.5), query: { excluded: [] } });

describe('query store', () => {
  test('ids are 16 URL-safe characters, unique', () => {
    const store = new QueryStore();
    const ids = new Set(Array.from({ length: 200 }, () => store.put(query(8))));
    assert.equal(ids.size, 200);
    for (const id of ids) assert.match(id, QUERY_ID_PATTERN);
  });

  test('bounded by entries and by bytes, least recently used out first', () => {
    const byCount = new QueryStore({ maxEntries: 3 });
    const [a, b, c] = [byCount.put(query(8)), byCount.put(query(8)), byCount.put(query(8))];
    assert.ok(byCount.get(a as string)); // a is now the most recently used
    byCount.put(query(8));
    assert.equal(byCount.get(b as string), undefined, 'the least recently used went');
    assert.ok(byCount.get(a as string) && byCount.get(c as string));

    // 2048-dimension vectors: 8 KiB each; 20 KiB hold two.
    const byBytes = new QueryStore({ maxBytes: 20 * 1024 });
    const ids = Array.from({ length: 5 }, () => byBytes.put(query(2048)));
    assert.equal(byBytes.size, 2);
    assert.ok(byBytes.bytes <= 20 * 1024 && byBytes.bytes > 16 * 1024);
    assert.deepEqual(
      ids.map((id) => byBytes.get(id) !== undefined),
      [false, false, false, true, true],
    );
    // One too large to keep at all is not kept.
    const tiny = new QueryStore({ maxBytes: 1024 });
    assert.equal(tiny.get(tiny.put(query(2048))), undefined);
  });

  test('an entry expires a while after its last use', async () => {
    const store = new QueryStore({ ttlMs: 200 });
    const used = store.put(query(8));
    const unused = store.put(query(8));
    for (let i = 0; i < 3; i++) {
      await sleep(100);
      assert.ok(store.get(used));
    }
    assert.equal(store.get(unused), undefined);
    await sleep(300);
    assert.equal(store.get(used), undefined);
  });
});
