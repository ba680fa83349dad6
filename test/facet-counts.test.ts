/** Disjunctive facet counts and kind groups of the filter index, on the real fixture's metadata. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FilterIndex } from '../src/index/filters.js';
import type { IndexItem } from '../src/index/port.js';
import { Recommender } from '../src/recommend/recommender.js';
import { fixtureIndex } from './support/fixture-index.js';

let recommender: Recommender;
let items: IndexItem[];

before(async () => {
  recommender = await Recommender.open((await fixtureIndex()).dir);
  items = [...recommender.items];
});
after(() => recommender?.close());

/** Rows kept by the filters with `column`'s own replaced by `value`, counted one by one. */
function brute(
  rows: readonly (IndexItem | undefined)[],
  where: Record<string, string[]>,
  column: string,
  value: string,
) {
  return rows.filter(
    (item) =>
      item &&
      Object.entries({ ...where, [column]: [value] }).every(([c, values]) =>
        values.some((v) => v.toLowerCase() === (item.metadata[c] ?? '').toLowerCase()),
      ),
  ).length;
}

function assertCounts(
  index: FilterIndex,
  rows: readonly (IndexItem | undefined)[],
  where: Record<string, string[]>,
) {
  const columns = recommender.schema.facets;
  const counts = index.counts(where, columns);
  for (const column of columns) {
    for (const { value } of index.values(column)) {
      assert.equal(
        counts.get(column)?.get(value.toLowerCase()),
        brute(rows, where, column, value),
        `${column}=${value}`,
      );
    }
  }
}

describe('facet counts', () => {
  test('each value counts what the other columns’ filters keep with it; OR within a column', () => {
    const index = new FilterIndex(items);
    const cases: Record<string, string[]>[] = [
      {},
      { gender: ['Women'] },
      { gender: ['Men', 'boys'], articleType: ['Tshirts', 'Casual Shoes'] },
      { masterCategory: ['Footwear'], baseColour: ['Black', 'White', 'Brown'], gender: ['Women'] },
      { articleType: ['Spacesuits'] },
    ];
    for (const where of cases) assertCounts(index, items, where);
    assert.throws(
      () => index.counts({ nosuchcolumn: ['x'] }, ['gender']),
      /unknown filter column "nosuchcolumn"/,
    );
  });

  test('products added and removed in place are counted at once', () => {
    const index = new FilterIndex(items);
    const rows: (IndexItem | undefined)[] = [...items];
    const where = { gender: ['Men'] };
    index.counts(where, recommender.schema.facets); // worked out before the change
    const added: IndexItem = {
      ...(items[0] as IndexItem),
      id: 'NEW-1',
      metadata: { ...(items[0] as IndexItem).metadata, gender: 'Men', articleType: 'Spacesuits' },
    };
    index.add(rows.length, added);
    rows.push(added);
    assert.equal(index.counts(where, ['articleType']).get('articleType')?.get('spacesuits'), 1);
    assertCounts(index, rows, where);
    const gone = rows[3] as IndexItem;
    index.remove(3, gone);
    rows[3] = undefined;
    assertCounts(index, rows, where);
    assert.ok(index.version >= 2);
  });

  test('the kind column is grouped by a column that gives each kind a single value', () => {
    const index = new FilterIndex(items);
    const kind = recommender.schema.kindColumn as string;
    const byGender = index.groupsOf(kind, 'gender');
    const byMaster = index.groupsOf(kind, 'masterCategory');
    assert.ok(byMaster && byGender);
    assert.ok(byMaster.agreement > 0.99, `${byMaster.agreement}`);
    assert.ok(byGender.agreement < 0.95, `${byGender.agreement}`);
    // Each kind's group is the value most of its products have.
    for (const [key, group] of byMaster.groups) {
      const of = items.filter((i) => i.metadata[kind]?.toLowerCase() === key);
      const inGroup = of.filter((i) => i.metadata.masterCategory === group).length;
      assert.ok(inGroup * 2 > of.length, `${key}: ${group}`);
    }
    assert.equal(index.groupsOf(kind, kind), undefined);
    assert.equal(index.groupsOf(kind, 'nosuchcolumn'), undefined);
  });
});
