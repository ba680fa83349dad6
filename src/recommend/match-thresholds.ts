/**
 * Score thresholds of match strengths, per similarity (their scores live on different scales),
 * measured on the fashion catalogue's full index (.cache/index, 44,441 products) by
 *
 *   npm run bench:calibrate        (bench/calibrate.ts; 2026-12-01, AMD EPYC, avx2 avx512_vnni, 2 cores)
 *
 * with held-out products only: 300 fashion-224 photos (a different photo of the very product) and
 * 600 catalogue vectors ("more like this"), the best 200 results of each. Each threshold is the
 * lowest score from which the local rate (over the results next in score) stays at its target:
 *   sameProduct: 80% of photo-query results are the very product;
 *   strong: 85% of results are the query's kind (its kind column);
 *   fair: 50% of results are the query's kind.
 * Infinity: never reached (the original similarity's scores do not tell the very product).
 * What each band held (learned | original): same-product 96.6% | - the very product (photo
 * queries); strong 95.5% | 91.5% the same kind; fair 75.1% | 64.8%; weak 48.6% | 34.9%.
 *
 * Shoppers' own photos (not on a plain light background) score lower: theirs are calibrated on
 * street-dev's tune half (200 photos, best 10 each) to the same targets, and reported on its other
 * half: learned, "Similar" 30.8% of results, 61.5% of them the photo's kind, "Weak" 36.6% (with the
 * catalogue's thresholds every result would be weak); original, "Similar" 30.2% at 62.1%, "Weak" 36.5%.
 */
import type { SimilarityKind } from '../similarity/model.js';

export interface MatchThresholds {
  /** From this score a result is probably the query's very product. */
  sameProduct: number;
  /** From this score most results are the query's kind of product. */
  strong: number;
  /** From this score results are often the query's kind. */
  fair: number;
}

export const MATCH_THRESHOLDS: Record<SimilarityKind, MatchThresholds> = {
  learned: { sameProduct: 0.951, strong: 0.795, fair: 0.622 },
  original: { sameProduct: Number.POSITIVE_INFINITY, strong: 0.885, fair: 0.692 },
};

/** For shoppers' own photos (the very product is not measured there: the catalogue's threshold). */
export const SHOPPER_MATCH_THRESHOLDS: Record<SimilarityKind, MatchThresholds> = {
  learned: { sameProduct: 0.951, strong: 0.951, fair: 0.451 },
  original: { sameProduct: Number.POSITIVE_INFINITY, strong: Number.POSITIVE_INFINITY, fair: 0.673 },
};
