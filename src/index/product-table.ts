/** Products in row order with their lookups by id and by photo content (shared by the stores). */
import type { IndexItem } from './port.js';

export class ProductTable {
  private readonly rowById = new Map<string, number>();
  private readonly rowsByHash = new Map<string, number[]>();

  constructor(readonly items: readonly IndexItem[]) {
    items.forEach((item, row) => {
      this.rowById.set(item.id, row);
      const group = this.rowsByHash.get(item.hash);
      if (group) group.push(row);
      else this.rowsByHash.set(item.hash, [row]);
    });
  }

  row(id: string): number | undefined {
    return this.rowById.get(id);
  }

  rowsWithHash(hash: string): readonly number[] {
    return this.rowsByHash.get(hash) ?? [];
  }
}
