/** A small seeded PRNG (mulberry32) and what is built on it: the same seed always gives the same choices. */

/** A generator of floats in [0, 1), fully determined by the seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A 32-bit seed derived from a number and a text (e.g. a stratum's name), so that strata draw independently. */
export function deriveSeed(seed: number, text: string): number {
  let h = (seed ^ 0x811c9dc5) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** A shuffled copy (Fisher-Yates). */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** Product ids in a natural order: numeric ids by value, others alphabetically. */
export function compareIds(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

/** `n` items chosen at random (all of them when there are fewer), in their natural id order. */
export function sampleIds(ids: readonly string[], n: number, seed: number): string[] {
  const sorted = ids.slice().sort(compareIds);
  if (sorted.length <= n) return sorted;
  return shuffled(sorted, seededRandom(seed)).slice(0, n).sort(compareIds);
}
