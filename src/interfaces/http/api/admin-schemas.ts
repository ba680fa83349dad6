/**
 * The admin API's requests and answers (issue 13): changes to catalogue products, one at a time
 * or in batches, and what each did. Part of the OpenAPI document, like schemas.ts.
 */
import { z } from 'zod';
import { IMAGE_FIELD } from './contract.js';
import { errorBodyZ, idParamsZ } from './schemas.js';

/** Most changes in one batch. */
export const MAX_BATCH_CHANGES = 100;
/** Largest batch body (its photos together), in bytes. */
export const MAX_BATCH_BYTES = 64 * 1024 * 1024;
/** Longest metadata field or batch `changes` field, in bytes. */
export const MAX_METADATA_FIELD_BYTES = 64 * 1024;
export const MAX_BATCH_FIELD_BYTES = 1024 * 1024;
/** The multipart field holding a product's metadata (JSON), and a batch's changes (JSON). */
export const METADATA_FIELD = 'metadata';
export const CHANGES_FIELD = 'changes';

const MAX_COLUMNS = 200;
const MAX_COLUMN_NAME = 200;
const MAX_VALUE = 4000;

export const metadataZ = z
  .record(
    z
      .string()
      .min(1, { error: 'a metadata column name cannot be empty' })
      .max(MAX_COLUMN_NAME, { error: `a metadata column name is at most ${MAX_COLUMN_NAME} characters` }),
    z
      .string({ error: 'metadata values are strings' })
      .max(MAX_VALUE, { error: `a metadata value is at most ${MAX_VALUE} characters` })
      .refine((v) => !v.includes('\0'), { error: 'a metadata value must not contain a NUL character' }),
  )
  .refine((m) => Object.keys(m).length <= MAX_COLUMNS, { error: `at most ${MAX_COLUMNS} metadata columns` })
  .describe('Metadata columns by name, each a string, e.g. {"brand": "Acme", "colour": "Navy Blue"}.');

export const changeResultZ = z
  .object({
    id: z.string().describe('Product id.'),
    action: z.enum(['put', 'patch', 'delete']),
    outcome: z
      .enum(['created', 'replaced', 'updated', 'deleted', 'unchanged'])
      .describe('What the change did.'),
    hash: z
      .string()
      .optional()
      .describe("SHA-256 of the product's photo after the change (absent once deleted)."),
    sequence: z.number().int().describe("The change's place in the store's log (increasing)."),
  })
  .meta({
    id: 'ChangeResult',
    description:
      'A change made: durably written before this answer, seen by searches on this server within a second ' +
      '(and by the other servers of a PostgreSQL store within 5 s).',
  });

export const adminIdParamsZ = idParamsZ;

/** The multipart body of PUT /api/admin/products/:id, for the OpenAPI document. */
export const putFormZ = z.object({
  [IMAGE_FIELD]: z
    .file()
    .optional()
    .describe(
      'The photo (as for POST /api/recommend): at most 20 MiB and 100 megapixels. Needed for a new product.',
    ),
  [METADATA_FIELD]: z
    .string()
    .optional()
    .describe(
      'The product\'s metadata as a JSON object of strings, e.g. {"title": "Navy shirt"}: replaces all of its metadata.',
    ),
});

export const patchBodyZ = z
  .object({ metadata: metadataZ.describe('Columns to set; the others are kept.') })
  .strict()
  .meta({ id: 'MetadataPatch' });

const photoRefZ = z
  .string()
  .min(1)
  .max(100)
  .describe("The name of the multipart file part holding this product's photo (multipart batches only).");

export const changeZ = z.discriminatedUnion('action', [
  z
    .object({
      action: z.literal('put'),
      id: adminIdParamsZ.shape.id,
      metadata: metadataZ.optional(),
      photo: photoRefZ.optional(),
    })
    .strict(),
  z.object({ action: z.literal('patch'), id: adminIdParamsZ.shape.id, metadata: metadataZ }).strict(),
  z.object({ action: z.literal('delete'), id: adminIdParamsZ.shape.id }).strict(),
]);

export type Change = z.output<typeof changeZ>;

export const batchBodyZ = z
  .object({
    changes: z
      .array(changeZ)
      .min(1, { error: 'a batch needs at least one change' })
      .max(MAX_BATCH_CHANGES, { error: `a batch holds at most ${MAX_BATCH_CHANGES} changes` }),
  })
  .strict()
  .meta({ id: 'Batch' });

export const batchItemZ = z.object({
  index: z.number().int().describe("The change's place in the batch, from 0."),
  id: z.string(),
  status: z.number().int().describe('The HTTP status this change would have had on its own.'),
  result: changeResultZ.optional(),
  error: errorBodyZ.shape.error.optional(),
});

export const batchResultZ = z
  .object({ results: z.array(batchItemZ).describe('One per change, in the order given.') })
  .meta({ id: 'BatchResult' });
