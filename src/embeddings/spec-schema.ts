/** The zod schema of an EmbeddingSpec, for the files that record one (kept apart so spec.ts stays import-free). */
import { z } from 'zod';
import { type EmbeddingSpec, INPUT_SIZES, MODEL_ID, POOLINGS, PRECISIONS, RESIZE_POLICIES } from './spec.js';

export const EmbeddingSpecSchema = z.object({
  model: z.literal(MODEL_ID),
  weights: z.string(),
  converterVersion: z.number().int(),
  pooling: z.enum(POOLINGS),
  resize: z.enum(RESIZE_POLICIES),
  channelOrder: z.enum(['bgr', 'rgb-seed-compat']),
  dim: z.number().int().positive(),
  normalisation: z.literal('l2'),
  // Manifests written before these fields existed describe fp32 vectors of 224x224 inputs.
  precision: z.enum(PRECISIONS).default('fp32'),
  inputSize: z
    .number()
    .int()
    .refine((n): n is (typeof INPUT_SIZES)[number] => (INPUT_SIZES as readonly number[]).includes(n), {
      message: `expected one of ${INPUT_SIZES.join(', ')}`,
    })
    .default(224),
}) satisfies z.ZodType<EmbeddingSpec>;
