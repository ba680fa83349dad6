/**
 * How strong a match is, in words a shopper can trust: a result's score against thresholds
 * calibrated on the catalogue for the similarity searched with (scores of the learned and the
 * original similarity live on different scales). The thresholds and how they were measured are
 * in match-thresholds.ts (`npm run bench:calibrate` measures them again).
 */
import type { SimilarityKind } from '../similarity/model.js';
import { MATCH_THRESHOLDS, type MatchThresholds, SHOPPER_MATCH_THRESHOLDS } from './match-thresholds.js';

export const MATCH_STRENGTHS = ['same-product', 'strong', 'fair', 'weak'] as const;
export type MatchStrength = (typeof MATCH_STRENGTHS)[number];

export const MATCH_LABELS: Record<MatchStrength, string> = {
  'same-product': 'Probably the same product',
  strong: 'Strong match',
  fair: 'Similar',
  weak: 'Weak match',
};

export interface Match {
  strength: MatchStrength;
  label: string;
}

/** The strength of a score under these thresholds (a result that is the query's own product is the same product). */
export function strengthOf(score: number, thresholds: MatchThresholds, sameProduct = false): MatchStrength {
  if (sameProduct || score >= thresholds.sameProduct) return 'same-product';
  if (score >= thresholds.strong) return 'strong';
  if (score >= thresholds.fair) return 'fair';
  return 'weak';
}

/** The thresholds for a query: a shopper's own photo scores lower than a catalogue-like one, and has its own. */
export function thresholdsFor(similarity: SimilarityKind, shopperPhoto = false): MatchThresholds {
  return (shopperPhoto ? SHOPPER_MATCH_THRESHOLDS : MATCH_THRESHOLDS)[similarity];
}

/** A result's match: its strength and the words for it. */
export function matchOf(score: number, similarity: SimilarityKind, shopperPhoto = false): Match {
  const strength = strengthOf(score, thresholdsFor(similarity, shopperPhoto));
  return { strength, label: MATCH_LABELS[strength] };
}
