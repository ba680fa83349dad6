/**
 * What kind of product each item found in a photo seems to be: its crop's kind as the learned
 * similarity's classifier predicts it (its kind column, e.g. "Handbags"), where it is confident.
 * One embedding per item (about 40 ms on a CPU); nothing with the original similarity, which has
 * no classifier.
 */
import { cropGarment, type Garment } from '../images/garments.js';
import type { Recommender } from './recommender.js';

/** Below this probability an item's kind is not named. */
export const MIN_KIND_PROBABILITY = 0.5;

export async function nameGarmentKinds(
  recommender: Pick<Recommender, 'resolve' | 'similarity'>,
  photo: Buffer,
  garments: readonly Garment[],
): Promise<Garment[]> {
  const column = recommender.similarity.kindColumn;
  if (!recommender.similarity.learned || !column) return [...garments];
  const named: Garment[] = [];
  for (const garment of garments) {
    const crop = await cropGarment(photo, garment.box);
    const { query } = await recommender.resolve({ data: crop, label: 'item' });
    const guess = query.predicted?.find((p) => p.column === column);
    named.push(
      guess && guess.probability >= MIN_KIND_PROBABILITY ? { ...garment, kind: guess.value } : garment,
    );
  }
  return named;
}
