/**
 * An index opened for evaluation: its products, their vectors and groups of identical photos, the
 * label columns its results are judged by (from the catalogue's schema), a batched kNN over them,
 * and the Recommender for the rare query whose batched neighbours run short. Results follow
 * Recommender.nearest exactly: rows of the excluded group are skipped and identical photos (same
 * content hash) are collapsed into their best-ranked row.
 */
import type { CatalogueSchema } from '../catalogue/schema.js';
import { BatchKnn, type KnnBackend, type KnnResult } from '../compute/knn.js';
import type { IndexItem } from '../index/store.js';
import { colourShortlist, colourWithinKind } from '../recommend/colour-within-kind.js';
import { Recommender } from '../recommend/recommender.js';
import type { SimilarityKind } from '../similarity/model.js';
import type { SimilarityTuning } from '../similarity/open.js';
import { type JudgedLabels, judgedLabels } from './metrics.js';

export interface Neighbour {
  row: number;
  score: number;
}

/** No group is excluded. */
export const NO_GROUP = -1;

export class EvalIndex {
  readonly items: readonly IndexItem[];
  readonly rowById = new Map<string, number>();
  /** Group (distinct photo) of each row. */
  readonly groupOf: Int32Array;
  /** Rows of each distinct photo, in row order. */
  readonly groups: number[][] = [];
  readonly maxGroup: number;
  /** The label columns results are judged by, from the catalogue's schema. */
  readonly labels: JudgedLabels;

  private constructor(
    readonly dir: string,
    readonly recommender: Recommender,
    readonly vectors: Float32Array,
    readonly knn: BatchKnn,
  ) {
    this.items = recommender.items;
    this.groupOf = new Int32Array(this.items.length);
    const byHash = new Map<string, number>();
    this.items.forEach((item, row) => {
      this.rowById.set(item.id, row);
      let group = byHash.get(item.hash);
      if (group === undefined) {
        group = this.groups.length;
        byHash.set(item.hash, group);
        this.groups.push([]);
      }
      this.groups[group]?.push(row);
      this.groupOf[row] = group;
    });
    this.maxGroup = this.groups.reduce((m, g) => Math.max(m, g.length), 0);
    this.labels = judgedLabels(recommender.schema);
  }

  static async open(
    dir: string,
    options: {
      threads?: number;
      backend?: KnnBackend;
      similarity?: SimilarityKind;
      tuning?: SimilarityTuning;
    } = {},
  ): Promise<EvalIndex> {
    const recommender = await Recommender.open(dir, {
      similarity: options.similarity,
      tuning: options.tuning,
    });
    const dim = recommender.manifest.dim;
    const count = recommender.items.length;
    const vectors = await recommender.vectors();
    if (vectors.length !== count * dim) throw new Error('the index vectors do not match its items');
    const knn = await BatchKnn.create(vectors, dim, options);
    return new EvalIndex(dir, recommender, vectors, knn);
  }

  get count(): number {
    return this.items.length;
  }

  /** What the catalogue's columns mean: title, facets, kind. */
  get schema(): CatalogueSchema {
    return this.recommender.schema;
  }

  get dim(): number {
    return this.recommender.manifest.dim;
  }

  item(row: number): IndexItem {
    return this.items[row] as IndexItem;
  }

  /** A copy of a row's vector. */
  vector(row: number): Float32Array {
    return this.vectors.slice(row * this.dim, (row + 1) * this.dim);
  }

  /**
   * Query `query`'s first `want` results from a batched search: excluding the rows of group
   * `exclude`, one row per distinct photo. `complete` is false when fewer were found than wanted
   * while rows beyond the searched k remain (the caller must search further).
   */
  collapse(
    result: KnnResult,
    query: number,
    want: number,
    exclude: number,
  ): { neighbours: Neighbour[]; complete: boolean } {
    const seen = new Set<number>();
    const neighbours: Neighbour[] = [];
    for (let j = 0; j < result.k; j++) {
      const row = result.rows[query * result.k + j] as number;
      if (row < 0) break;
      const group = this.groupOf[row] as number;
      if (group === exclude || seen.has(group)) continue;
      seen.add(group);
      neighbours.push({ row, score: result.scores[query * result.k + j] as number });
      if (neighbours.length === want) return { neighbours, complete: true };
    }
    return { neighbours, complete: result.k >= this.count };
  }

  /** Neighbours to search for `want` results, enough for colour within kind where the similarity has it. */
  width(want: number): number {
    return this.recommender.similarity.colourWithinKind ? colourShortlist(want) : want;
  }

  /**
   * The vector to search with for a query vector: without its colour part where colour re-ranks
   * within kind (the short list is ranked without it, as Recommender.nearest does).
   */
  searchVector(vector: Float32Array): Float32Array {
    const sim = this.recommender.similarity;
    return sim.reranksColour(vector) ? sim.withoutColour(vector) : vector;
  }

  /**
   * Query `query`'s first `want` results as the recommender ranks them, from a batched search
   * with `searchVector(vector)`: collapse, then, where the similarity has it, colour within kind
   * over the short list (scores then fused, colour included). Not complete when the short list ran
   * short: the caller then takes the slow path (nearest).
   */
  top(
    result: KnnResult,
    query: number,
    want: number,
    exclude: number,
    vector: Float32Array,
  ): { neighbours: Neighbour[]; complete: boolean } {
    const sim = this.recommender.similarity;
    if (!sim.reranksColour(vector)) return this.collapse(result, query, want, exclude);
    const size = colourShortlist(want);
    const short = this.collapse(result, query, size, exclude);
    if (!short.complete && short.neighbours.length < size) return { neighbours: [], complete: false };
    const column = sim.kindColumn as string;
    const dim = this.dim;
    const shortlist = short.neighbours.map(({ row }) => ({
      row,
      product: this.vectors.subarray(row * dim, (row + 1) * dim),
      kind: this.item(row).metadata[column],
    }));
    const colourOf = (q: Float32Array, p: Float32Array) => sim.colourContribution(q, p);
    return { neighbours: colourWithinKind(shortlist, vector, colourOf, want), complete: true };
  }

  /** The slow path: Recommender.nearest for one vector. */
  async nearest(vector: Float32Array, want: number, exclude: number): Promise<Neighbour[]> {
    const excluded = exclude === NO_GROUP ? [] : (this.groups[exclude] ?? []);
    return (await this.recommender.nearest(vector, { k: want }, excluded)).map((r) => ({
      row: this.rowById.get(r.id) as number,
      score: r.score,
    }));
  }

  async close(): Promise<void> {
    await this.knn.close();
    await this.recommender.close();
  }
}
