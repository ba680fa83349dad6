/**
 * The API's requests and answers as zod schemas: the one source of truth from which the
 * TypeScript types (contract.ts, by inference), request validation and response serialisation
 * (fastify-type-provider-zod) and the OpenAPI document (its JSON Schemas) all come.
 *
 * Shared answers carry an `id` (their OpenAPI component name). What a search can be filtered on
 * is the catalogue's: those schemas are built for the loaded catalogue's facets.
 *
 * Server-only: the web page imports contract.ts, never this module.
 */
import { z } from 'zod';
import { MAX_PRODUCT_ID_LENGTH } from '../../../catalogue/limits.js';
import { DEFAULT_K, IMAGE_FIELD, MAX_FILTER_VALUE_LENGTH, MAX_K } from './contract.js';
import { quoteList } from './echo.js';

const ids = z.array(z.string());

export const productZ = z
  .object({
    id: z.string().describe('Product id.'),
    name: z
      .string()
      .optional()
      .describe("The product's title (the catalogue's title column), where it has one."),
    metadata: z
      .record(z.string(), z.string())
      .describe(
        'Every metadata column of the product by column name, e.g. {"brand": "Acme", "colour": "Navy Blue"}. ' +
          'Which columns are filters is said by GET /api/facets.',
      ),
    imageUrl: z.string().describe("The product's photo, served by this server."),
    alsoListedAs: ids.describe('Other product ids listed with the very same photo.'),
  })
  .meta({ id: 'Product', description: 'A catalogue product.' });

export const recommendationZ = productZ
  .extend({
    score: z
      .number()
      .describe(
        'Similarity to the query, 1 = identical: cosine of the visual vectors (original similarity), or the fused visual, learned and colour score (learned similarity).',
      ),
    reasons: z
      .array(z.string())
      .describe('Why it matched, where known, e.g. "same colour", "same <kind column>: <value>".'),
  })
  .meta({ id: 'Recommendation', description: 'A recommended product and its similarity to the query.' });

export const predictionZ = z.object({
  column: z.string().describe('A label column the learned similarity knows.'),
  value: z.string(),
  probability: z.number(),
});

export const resultsZ = z
  .object({
    query: z.object({
      recognisedAs: z
        .string()
        .optional()
        .describe('The catalogue product whose photo is the query, when the query is one.'),
      excluded: ids.describe('Products left out of the results because they are the query itself.'),
      predicted: z
        .array(predictionZ)
        .optional()
        .describe(
          "The learned similarity's guesses of an uploaded photo's labels (its kind of product first), one per label column.",
        ),
    }),
    results: z.array(recommendationZ).describe('Best first.'),
  })
  .meta({ id: 'Results', description: 'The products most similar to the query.' });

export const errorCodeZ = z.enum([
  'bad-request',
  'bad-field',
  'bad-filter',
  'missing-image',
  'empty',
  'not-multipart',
  'not-an-image',
  'unsupported-format',
  'truncated',
  'too-large',
  'too-complex',
  'timeout',
  'unknown-product',
  'not-found',
  'photo-changed',
  'busy',
  'internal-error',
]);

export const errorBodyZ = z
  .object({
    error: z.object({
      code: errorCodeZ.describe('Machine-readable reason, e.g. not-an-image, too-large.'),
      message: z.string().describe('What was wrong, for people.'),
    }),
  })
  .meta({ id: 'Error', description: 'Every failure: a 4xx or 5xx status with this body.' });

export const facetValueZ = z.object({
  value: z.string().describe('A value of the column, as the catalogue spells it.'),
  count: z.number().int().describe('How many indexed products have it (case aside).'),
});

export const facetZ = z.object({
  column: z.string().describe('The metadata column; also the name of its filter parameter.'),
  values: z.array(facetValueZ).describe('Its distinct values, most frequent first.'),
});

export const facetsZ = z
  .object({
    facets: z.array(facetZ).describe("The catalogue's filters, in the order to show them."),
    title: z
      .string()
      .optional()
      .describe("The column holding products' titles (a product's `name`), where the catalogue has one."),
    kind: z
      .string()
      .optional()
      .describe('The facet that says what kind of product it is (e.g. a category), where there is one.'),
    colour: z.string().optional().describe("The facet naming a product's colour, where there is one."),
  })
  .meta({
    id: 'Facets',
    description:
      'What searches can be filtered on: the columns of the catalogue that are facets, each with its values and their product counts.',
  });

export const healthZ = z
  .object({
    status: z.literal('ok'),
    index: z.object({
      count: z.number().int().describe('Products in the index.'),
      generation: z.number().int().optional().describe('Index folders only.'),
      updatedAt: z.string(),
      skipped: z
        .number()
        .int()
        .optional()
        .describe('Photos the last indexing run could not read (index folders only).'),
      store: z.enum(['files', 'postgres']),
      search: z.enum(['exact', 'hnsw']),
      similarity: z
        .enum(['learned', 'original'])
        .describe('learned: visual, learned, label and colour similarity fused; original: visual alone.'),
    }),
    spec: z
      .object({
        model: z.string(),
        pooling: z.string(),
        resize: z.string(),
        channelOrder: z.string(),
        dim: z.number().int(),
      })
      .describe('How the index vectors were made.'),
    model: z.object({ device: z.string().describe('cpu or cuda') }),
    uploads: z
      .object({
        receiving: z.number().int().describe('Uploads whose photo is arriving.'),
        maxReceiving: z.number().int(),
        active: z.number().int().describe('Uploads with a turn of the model.'),
        waiting: z.number().int().describe('Uploads received in full, waiting for a turn.'),
        concurrency: z.number().int(),
        maxWaiting: z.number().int(),
      })
      .describe('Uploads being received, processed and waiting for a turn.'),
    uptimeSeconds: z.number(),
  })
  .meta({
    id: 'Health',
    description: 'Service health: index size, embedding spec, inference device, upload queue.',
  });

/** Error answers of every route. */
export const errorResponses = { '4xx': errorBodyZ, '5xx': errorBodyZ } as const;

/** Text from a request must hold no NUL character: PostgreSQL text cannot, and no catalogue does. */
const withoutNul = (text: string) => !text.includes('\0');

export const idParamsZ = z.object({
  id: z
    .string()
    .min(1)
    .max(MAX_PRODUCT_ID_LENGTH, { error: `a product id is at most ${MAX_PRODUCT_ID_LENGTH} characters` })
    .refine(withoutNul, { error: 'a product id must not contain a NUL character' })
    .describe('Product id.'),
});

const K_RANGE = `k must be an integer from 1 to ${MAX_K}, in decimal digits`;

/** k as a request gives it (a query parameter or a form field): decimal digits only, no sign, point, exponent or hex. */
export function parseK(raw: unknown): number | undefined {
  if (typeof raw !== 'string' || !/^[0-9]{1,9}$/.test(raw)) return undefined;
  const k = Number(raw);
  return k >= 1 && k <= MAX_K ? k : undefined;
}

/** How many products a search returns: a query parameter or a form field, in decimal digits. */
export const kZ = z
  .string({ error: K_RANGE })
  .regex(/^[0-9]{1,9}$/, { error: K_RANGE })
  .transform((raw, ctx) => {
    const k = parseK(raw);
    if (k !== undefined) return k;
    ctx.addIssue({ code: 'custom', message: K_RANGE, input: raw });
    return z.NEVER;
  })
  .default(DEFAULT_K)
  .describe(`How many products: a whole number from 1 to ${MAX_K} in decimal digits (default ${DEFAULT_K}).`);

/** One filter value. */
export const filterValueZ = z
  .string()
  .max(MAX_FILTER_VALUE_LENGTH, { error: `a filter value is at most ${MAX_FILTER_VALUE_LENGTH} characters` })
  .refine(withoutNul, { error: 'a filter value must not contain a NUL character' });

/** A filter's values: a parameter given once arrives as a string, repeated as a list. */
const filterValuesZ = (column: string, examples: readonly string[]) =>
  z
    .preprocess(
      (value) => (typeof value === 'string' ? [value] : value),
      z.array(filterValueZ).max(50, { error: `at most 50 values of ${column}` }),
    )
    .optional()
    .describe(
      `Keep products whose ${column} is this value${examples.length > 0 ? ` (e.g. ${examples.join(', ')})` : ''}; ` +
        'case-insensitive; repeat for any of several. A value the catalogue does not have matches nothing.',
    );

/** A filter a search can take: a facet of the catalogue, with a few of its values for the documentation. */
export interface FilterParameter {
  column: string;
  examples: readonly string[];
}

/** A search's k and filters, as the routes receive them: empty values (an "any" choice) are dropped. */
export interface Search {
  k: number;
  where: Record<string, string[]>;
}

/** The filters a search accepts: `k` is the search's own parameter, so a facet of that name cannot be one. */
const usable = (filters: readonly FilterParameter[]) => filters.filter((f) => f.column !== 'k');

/** Names the accepted parameters, for answers to unknown ones. */
export function expectedParameters(filters: readonly FilterParameter[]): string {
  const names = usable(filters).map((f) => f.column);
  return names.length > 0 ? `k or a filter: ${names.join(', ')}` : 'k (this catalogue has no filters)';
}

/** Drops empty values; a filter left with none is no filter. */
export function nonEmptyFilters(
  filters: Record<string, readonly string[] | undefined>,
): Record<string, string[]> {
  const where: Record<string, string[]> = {};
  for (const [column, values] of Object.entries(filters)) {
    const kept = (values ?? []).map((v) => v.trim()).filter((v) => v !== '');
    if (kept.length > 0) where[column] = kept;
  }
  return where;
}

/** The query string of searches: k and the catalogue's filters. Unknown parameters are refused. */
export function searchQueryZ(filters: readonly FilterParameter[]) {
  const shape: Record<string, z.ZodType> = { k: kZ };
  for (const f of usable(filters)) shape[f.column] = filterValuesZ(f.column, f.examples);
  return z
    .strictObject(shape, {
      error: (issue) =>
        issue.code === 'unrecognized_keys'
          ? `unknown query parameter ${quoteList(issue.keys)}; expected ${expectedParameters(filters)}`
          : undefined,
    })
    .transform((query): Search => {
      const { k, ...where } = query as { k: number } & Record<string, string[] | undefined>;
      return { k, where: nonEmptyFilters(where) };
    });
}

/** The multipart body of POST /api/recommend, for the OpenAPI document (the route reads the parts itself). */
export function recommendFormZ(filters: readonly FilterParameter[]) {
  const shape: Record<string, z.ZodOptional<z.ZodString>> = {};
  for (const f of usable(filters)) {
    shape[f.column] = z
      .string()
      .optional()
      .describe(`Filter on ${f.column}, as in the query string (repeat the field for any of several).`);
  }
  return z.object({
    [IMAGE_FIELD]: z
      .file()
      .describe(
        'The photo: JPEG, PNG, WebP, GIF, AVIF or TIFF (the type is read from the content), at most 20 MiB and 100 megapixels.',
      ),
    k: kZ,
    ...shape,
  });
}
