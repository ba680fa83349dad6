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

/** A short-listed product: its row, its search vector and its kind. */
export interface ShortListed {
  row: number;
  product: Float32Array;
  kind: string | undefined;
}

/**
 * Candidates (ranked without colour) the re-ranking looks at for k results: the first k give the
 * kinds exactly; the rest are where each kind's best product with colour is looked for.
 */
export function colourShortlist(k: number): number {
  return Math.max(8 * k, k + 80);
}

/**
 * The first `k` of a short list with colour within kind, with their fused scores (colour
 * included), computed here from the vectors: the search's own scores may be approximate, and
 * near-identical products tie within that error. `colourOf` is the colour part's share of a score.
 *
 * Rank i gets the kind of the i-th best product without the colour part, and the best product of
 * that kind by fused score not already chosen. The best product by fused score (often the very
 * product, which colour helps to find) stays first where its kind is among those kinds, in place
 * of the first rank of its kind: the kinds of the k results stay those of the ranking without
 * colour, in number.
 */
export function colourWithinKind(
  shortlist: readonly ShortListed[],
  query: Float32Array,
  colourOf: (query: Float32Array, product: Float32Array) => number,
  k: number,
): { row: number; score: number }[] {
  const candidates = shortlist
    .map(({ row, product, kind }) => {
      let score = 0;
      for (let i = 0; i < query.length; i++) score += (query[i] as number) * (product[i] as number);
      return { row, score, colour: colourOf(query, product), kind };
    })
    .sort((a, b) => b.score - a.score || a.row - b.row);
  const slots = [...candidates]
    .sort((a, b) => b.score - b.colour - (a.score - a.colour))
    .slice(0, k)
    .map((c) => c.kind);
  const chosen = new Set<(typeof candidates)[number]>();
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
  return [...chosen].map(({ row, score }) => ({ row, score }));
}
