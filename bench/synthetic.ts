/**
 * Synthetic image embeddings for search benchmarks, shaped like this project's real ones
 * (ResNet-50 features: ReLU, then global max pooling, then L2 normalisation; 2048 dimensions).
 *
 * The generator, for a catalogue of n products:
 *   - a shared activation profile mu (every product photo fires the same channels somewhat; a
 *     log-normal level per channel, which gives the heavy-tailed components of max-pooled features);
 *   - `categories` broad categories (think article types), each a random Gaussian direction;
 *   - n / `perCluster` clusters (think one product line in several colours, or near-identical
 *     items), each a mix of its category's direction and its own, with `variation` private
 *     directions along which its members vary continuously (so that neighbours within a cluster
 *     are graded, not all equally far);
 *   - each point: mu + cluster centre + a random mix of the cluster's variation directions + a
 *     isotropic noise, then ReLU (negative activations are zero) and L2 normalisation.
 * Queries are further points of the same clusters, not in the data set ("new photos of known kinds
 * of products").
 *
 * The default scales are calibrated on the real catalogue embeddings (a 21.5k sample of the 44k,
 * max pooling), at a comparable size (21.5k synthetic points), real value in brackets:
 *   zero components 27.6% (24.8%); mean component 0.0140 (0.0131); largest component of a vector,
 *   median 0.154 (0.154); cosine of random pairs, 10th/50th/90th percentile 0.47/0.50/0.70
 *   (0.42/0.49/0.71); cosine of the 1st/5th/10th nearest neighbour, median 0.880/0.858/0.836
 *   (0.882/0.854/0.842).
 * The number of clusters grows with n (n / 60), as a bigger catalogue has more product lines.
 * Deterministic for a seed. 250k x 2048 takes about 20 s.
 */

export interface SyntheticOptions {
  n: number;
  dim?: number;
  /** Held-out query points (default 300). */
  queries?: number;
  seed?: number;
  categories?: number;
  /** Average points per cluster (default 60). */
  perCluster?: number;
  /** Private directions of variation per cluster (default 4). */
  variation?: number;
  /** Scales: channel profile spread, category, cluster, within-cluster variation, noise. */
  profileSigma?: number;
  categoryScale?: number;
  clusterScale?: number;
  variationScale?: number;
  noiseScale?: number;
}

export interface SyntheticData {
  dim: number;
  /** n x dim unit vectors. */
  vectors: Float32Array;
  /** queries x dim unit vectors (not in `vectors`). */
  queries: Float32Array;
  clusters: number;
}

/** xorshift128+ : fast, deterministic, good enough for benchmark data. */
function rng(seed: number): () => number {
  let s0 = BigInt(seed) * 0x9e3779b97f4a7c15n + 0x1234567n;
  let s1 = s0 ^ 0xdeadbeefcafebaben;
  const mask = (1n << 64n) - 1n;
  // BigInt is slow: use it only to seed a 32-bit xorshift state.
  for (let i = 0; i < 4; i++) {
    s0 = (s0 * 6364136223846793005n + 1442695040888963407n) & mask;
    s1 = (s1 * 6364136223846793005n + 1442695040888963407n) & mask;
  }
  let a = Number(s0 & 0xffffffffn) | 1;
  let b = Number(s1 & 0xffffffffn) | 1;
  return () => {
    // xorshift32 x2, combined
    a ^= a << 13;
    a ^= a >>> 17;
    a ^= a << 5;
    b ^= b << 17;
    b ^= b >>> 15;
    b ^= b << 26;
    return ((a ^ b) >>> 0) / 4294967296;
  };
}

/** A table of standard normal samples, indexed by random numbers (much faster than Box-Muller). */
function gaussianTable(random: () => number, size = 1 << 16): Float32Array {
  const t = new Float32Array(size);
  for (let i = 0; i < size; i += 2) {
    const u = Math.max(random(), 1e-12);
    const v = random();
    const r = Math.sqrt(-2 * Math.log(u));
    t[i] = r * Math.cos(2 * Math.PI * v);
    t[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return t;
}

export function syntheticEmbeddings(options: SyntheticOptions): SyntheticData {
  const dim = options.dim ?? 2048;
  const n = options.n;
  const nq = options.queries ?? 300;
  const random = rng(options.seed ?? 1);
  const table = gaussianTable(random);
  const mask = table.length - 1;
  let cursor = 0;
  let hop = 1;
  // Walk the table with a random stride that changes every vector: cheap and decorrelated enough.
  const gauss = () => {
    cursor = (cursor + hop) & mask;
    return table[cursor] as number;
  };
  const reseed = () => {
    cursor = Math.floor(random() * table.length);
    hop = 1 + 2 * Math.floor(random() * 4096); // odd: visits the whole table
  };
  const gaussianVector = (scale: number): Float32Array => {
    reseed();
    const v = new Float32Array(dim);
    for (let d = 0; d < dim; d++) v[d] = gauss() * scale;
    return v;
  };

  const profileSigma = options.profileSigma ?? 0.45;
  const categoryScale = options.categoryScale ?? 1.2;
  const clusterScale = options.clusterScale ?? 0.55;
  const variationScale = options.variationScale ?? 0.45;
  const noiseScale = options.noiseScale ?? 0.75;
  const nCategories = options.categories ?? 12;
  const nClusters = Math.max(1, Math.round(n / (options.perCluster ?? 60)));
  const nVariation = options.variation ?? 4;

  // Channel profile: log-normal levels around 1.
  reseed();
  const mu = new Float32Array(dim);
  for (let d = 0; d < dim; d++) mu[d] = Math.exp(profileSigma * gauss() - (profileSigma * profileSigma) / 2);

  const categories = Array.from({ length: nCategories }, () => gaussianVector(1));
  const centres: Float32Array[] = [];
  const variations: Float32Array[][] = [];
  for (let c = 0; c < nClusters; c++) {
    // Some categories are much bigger than others (squared-uniform choice).
    const category = categories[Math.floor(random() ** 2 * nCategories)] as Float32Array;
    const own = gaussianVector(clusterScale);
    const centre = new Float32Array(dim);
    // Centre in units of mu, so that strong channels vary more in absolute terms.
    for (let d = 0; d < dim; d++)
      centre[d] = (mu[d] as number) * (1 + categoryScale * (category[d] as number) + (own[d] as number));
    centres.push(centre);
    variations.push(Array.from({ length: nVariation }, () => gaussianVector(variationScale)));
  }

  const point = (out: Float32Array, offset: number, cluster: number) => {
    const centre = centres[cluster] as Float32Array;
    const dirs = variations[cluster] as Float32Array[];
    const weights = dirs.map(() => gauss());
    reseed();
    let norm = 0;
    for (let d = 0; d < dim; d++) {
      let z = 0;
      for (let k = 0; k < dirs.length; k++)
        z += (weights[k] as number) * ((dirs[k] as Float32Array)[d] as number);
      const x = (centre[d] as number) + (mu[d] as number) * (z + noiseScale * gauss());
      const relu = Math.max(x, 0);
      out[offset + d] = relu;
      norm += relu * relu;
    }
    const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let d = 0; d < dim; d++) out[offset + d] = (out[offset + d] as number) * inv;
  };

  // Cluster sizes vary: points pick clusters with a skewed (squared-uniform) preference.
  const pick = () => Math.min(nClusters - 1, Math.floor(random() ** 1.5 * nClusters));
  const vectors = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) point(vectors, i * dim, pick());
  const queries = new Float32Array(nq * dim);
  for (let i = 0; i < nq; i++) point(queries, i * dim, pick());
  return { dim, vectors, queries, clusters: nClusters };
}
