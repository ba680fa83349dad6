/**
 * Colour within kind: the learned similarity's colour part re-ranks results only among products of
 * the kinds the rest of the similarity chose. Fused freely, colour also pulls in products of
 * another kind that share the query's colours (a red dress finds red shoes): measured on held-out
 * products, the fused colour cost 0.007 of the kind's P@5 (README, "Results that look right").
 * Here the kinds of the results, rank by rank, are those of the ranking without the colour part;
 * each rank then takes the best product of its kind by the full score, colour included.
 *
 * Written by hand: a few lines over a short list, specific to this fusion.
 */

export interface ColourCandidate<T> {
  item: T;
  /** The fused score (colour included). */
  score: number;
  /** The colour part's share of that score. */
  colour: number;
  kind: string | undefined;
}

/**
 * A short-listed product as a candidate: its fused score computed here from the two vectors (the
 * search's own scores may be approximate, and near-identical products tie within that error), and
 * the colour part's share of it.
 */
export function colourCandidate<T>(
  item: T,
  query: Float32Array,
  product: Float32Array,
  colour: number,
  kind: string | undefined,
): ColourCandidate<T> {
  let score = 0;
  for (let i = 0; i < query.length; i++) score += (query[i] as number) * (product[i] as number);
  return { item, score, colour, kind };
}

/**
 * Candidates (ranked without colour) the re-ranking looks at for k results: the first k give the
 * kinds exactly; the rest are where each kind's best product with colour is looked for.
 */
export function colourShortlist(k: number): number {
  return Math.max(8 * k, k + 80);
}

/**
 * The first `k` of the candidates (sorted by fused score, best first) with colour within kind:
 * rank i gets the kind of the i-th best candidate without the colour part, and the best
 * candidate of that kind by fused score not already chosen. The best candidate by fused score
 * (often the very product, which colour helps to find) stays first where its kind is among those
 * kinds, in place of the first rank of its kind: the kinds of the k results stay those of the
 * ranking without colour, in number.
 */
export function colourWithinKind<T>(candidates: readonly ColourCandidate<T>[], k: number): T[] {
  const slots = [...candidates]
    .sort((a, b) => b.score - b.colour - (a.score - a.colour))
    .slice(0, k)
    .map((c) => c.kind);
  const chosen = new Set<ColourCandidate<T>>();
  const first = candidates[0];
  const at = first ? slots.indexOf(first.kind) : -1;
  if (first && at >= 0) {
    chosen.add(first);
    slots.splice(at, 1);
  }
  for (const kind of slots) {
    const pick = candidates.find((c) => !chosen.has(c) && c.kind === kind);
    if (pick) chosen.add(pick);
  }
  // (Chosen in rank order: the best first, where kept, then one per rank.)
  return [...chosen].map((c) => c.item);
}
