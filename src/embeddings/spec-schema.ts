/** The zod schema of an EmbeddingSpec, for the files that record one (kept apart so spec.ts stays import-free). */
import { z } from 'zod';
import { type EmbeddingSpec, MODEL_ID, POOLINGS, RESIZE_POLICIES } from './spec.js';

export const EmbeddingSpecSchema = z.object({
  model: z.literal(MODEL_ID),
  weights: z.string(),
  converterVersion: z.number().int(),
  pooling: z.enum(POOLINGS),
  resize: z.enum(RESIZE_POLICIES),
  channelOrder: z.enum(['bgr', 'rgb-seed-compat']),
  dim: z.number().int().positive(),
  normalisation: z.literal('l2'),
}) satisfies z.ZodType<EmbeddingSpec>;
