/** Which evaluated queries a report shows: a seeded random sample, and the best and worst by some order. */
import { seededRandom, shuffled } from './random.js';

/** `n` cases chosen at random with the seed. */
export function randomCases<T>(cases: readonly T[], n: number, seed: number): T[] {
  return shuffled(cases, seededRandom(seed)).slice(0, n);
}

/**
 * The first `n` cases in the given order (best first for "best", worst first for "worst"); cases
 * that the order ties are taken in a seeded random order, so that a common perfect score does not
 * always show the same few products.
 */
export function rankedCases<T>(
  cases: readonly T[],
  n: number,
  seed: number,
  order: (a: T, b: T) => number,
): T[] {
  return shuffled(cases, seededRandom(seed)).sort(order).slice(0, n);
}
