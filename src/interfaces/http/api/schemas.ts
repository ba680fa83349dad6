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
import { DEFAULT_K, IMAGE_FIELD, MAX_FILTER_VALUE_LENGTH, MAX_K, MAX_OFFSET } from './contract.js';
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

/** How strong a match is, from score thresholds calibrated on the catalogue (recommend/match-strength.ts). */
export const matchZ = z
  .object({
    strength: z
      .enum(['same-product', 'strong', 'fair', 'weak'])
      .describe(
        'same-product: probably the very product of the query; strong: most such matches are the same kind of product; ' +
          'fair: often the same kind; weak: rarely.',
      ),
    label: z.string().describe('The strength in words for shoppers, e.g. "Strong match".'),
  })
  .describe("The match's strength, calibrated on the catalogue for the similarity searched with.");

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
    match: matchZ,
  })
  .meta({ id: 'Recommendation', description: 'A recommended product and its similarity to the query.' });

export const predictionZ = z.object({
  column: z.string().describe('A label column the learned similarity knows.'),
  value: z.string(),
  probability: z.number(),
});

export const pageZ = z
  .object({
    offset: z.number().int().describe('Results skipped: these are ranks offset+1 to offset+k.'),
    k: z.number().int().describe('Results asked for.'),
    hasMore: z.boolean().describe('Whether a next page (offset+k) has results.'),
  })
  .describe('Which page of results this is.');

/** A box within a photo, in fractions of its width and height (0..1) as displayed (after EXIF orientation). */
export const boxZ = z.object({
  left: z.number(),
  top: z.number(),
  width: z.number(),
  height: z.number(),
});

export const garmentZ = z
  .object({
    box: boxZ.describe(
      'Where the item is: fractions (0..1) of the photo as displayed, after EXIF orientation.',
    ),
    score: z.number().describe('How sure the finder is that this is an item of its own, 0..1.'),
    kind: z.string().optional().describe('What kind of product it seems to be, where known.'),
  })
  .meta({
    id: 'Garment',
    description: 'A separate item found in a photo: search it alone by cropping to its box.',
  });

export const garmentsZ = z
  .object({
    garments: z.array(garmentZ).describe('The items found, most salient first; empty when none stands out.'),
  })
  .meta({ id: 'Garments', description: 'Separate items found in a photo.' });

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
      garments: z
        .array(garmentZ)
        .optional()
        .describe(
          'Separate items found in an uploaded photo, when it seems to hold more than one (see POST /api/garments).',
        ),
    }),
    results: z.array(recommendationZ).describe('Best first.'),
    queryId: z
      .string()
      .optional()
      .describe(
        "An uploaded photo's query, kept for 30 minutes after its last use: GET /api/queries/{queryId} runs it again with other filters or another page.",
      ),
    page: pageZ.optional(),
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
  'query-expired',
  'not-found',
  'photo-changed',
  'busy',
  'internal-error',
  // The admin API (issue 13): a missing or bad key, too many bad keys, a change that cannot be made.
  'unauthorized',
  'rate-limited',
  'invalid-change',
  'not-json',
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
  counts: z
    .array(facetValueZ)
    .optional()
    .describe(
      "Each value (in the order of `values`) with how many products a search would keep with it under the request's filters " +
        "on the other columns (its own column's filters aside): 0 means that choice finds nothing.",
    ),
  groups: z
    .array(z.object({ group: z.string(), values: z.array(z.string()) }))
    .optional()
    .describe(
      'For the kind facet: its values grouped by a coarser facet that each of them has one value of (detected from the catalogue), largest group first.',
    ),
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
    groupedBy: z
      .string()
      .optional()
      .describe("The facet that groups the kind facet's values (see `groups`)."),
  })
  .meta({
    id: 'Facets',
    description:
      'What searches can be filtered on: the columns of the catalogue that are facets, each with its values and their product counts.',
  });

/** Background indexing as the server reports it (serve while it indexes). */
export const indexingProgressZ = z
  .object({
    state: z.enum(['starting', 'indexing', 'learning', 'done', 'failed']),
    indexed: z.number().int().describe('Photos indexed so far (searchable once a checkpoint lands).'),
    total: z.number().int().describe('Photos to index in this run.'),
    searchable: z.number().int().describe('Products searches cover now.'),
    rate: z.number().nullable().describe('Photos per second, null until it can be measured.'),
    etaSeconds: z.number().nullable().describe('Seconds left, null until it can be estimated.'),
    error: z.string().optional().describe('Why indexing stopped (state failed).'),
  })
  .meta({ id: 'IndexingProgress' });

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
    indexing: indexingProgressZ
      .optional()
      .describe('Present while the server builds its index in the background.'),
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

const OFFSET_RANGE = `offset must be an integer from 0 to ${MAX_OFFSET}, in decimal digits`;

/** How many results to skip (paging): a query parameter or a form field, in decimal digits. */
export const offsetZ = z
  .string({ error: OFFSET_RANGE })
  .regex(/^[0-9]{1,9}$/, { error: OFFSET_RANGE })
  .transform((raw, ctx) => {
    const offset = Number(raw);
    if (offset <= MAX_OFFSET) return offset;
    ctx.addIssue({ code: 'custom', message: OFFSET_RANGE, input: raw });
    return z.NEVER;
  })
  .default(0)
  .describe(`Results to skip, for the next page: a whole number from 0 to ${MAX_OFFSET} (default 0).`);

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

/** A search's k, offset and filters, as the routes receive them: empty values (an "any" choice) are dropped. */
export interface Search {
  k: number;
  offset: number;
  where: Record<string, string[]>;
}

/** The search's own parameters: a facet of one of these names cannot be a filter. */
export const SEARCH_PARAMETERS: readonly string[] = ['k', 'offset'];

/** The filters a search accepts. */
const usable = (filters: readonly FilterParameter[]) =>
  filters.filter((f) => !SEARCH_PARAMETERS.includes(f.column));

/** Names the accepted parameters, for answers to unknown ones. */
export function expectedParameters(filters: readonly FilterParameter[]): string {
  const names = usable(filters).map((f) => f.column);
  return names.length > 0
    ? `k, offset or a filter: ${names.join(', ')}`
    : 'k or offset (this catalogue has no filters)';
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
  const shape: Record<string, z.ZodType> = { k: kZ, offset: offsetZ };
  for (const f of usable(filters)) shape[f.column] = filterValuesZ(f.column, f.examples);
  return z
    .strictObject(shape, {
      error: (issue) =>
        issue.code === 'unrecognized_keys'
          ? `unknown query parameter ${quoteList(issue.keys)}; expected ${expectedParameters(filters)}`
          : undefined,
    })
    .transform((query): Search => {
      const { k, offset, ...where } = query as { k: number; offset: number } & Record<
        string,
        string[] | undefined
      >;
      return { k, offset, where: nonEmptyFilters(where) };
    });
}

/** The query string of GET /api/facets: the catalogue's filters alone. Unknown parameters are refused. */
export function filterQueryZ(filters: readonly FilterParameter[]) {
  const shape: Record<string, z.ZodType> = {};
  for (const f of filters) shape[f.column] = filterValuesZ(f.column, f.examples);
  const names = filters.map((f) => f.column).join(', ') || '(this catalogue has no filters)';
  return z
    .strictObject(shape, {
      error: (issue) =>
        issue.code === 'unrecognized_keys'
          ? `unknown query parameter ${quoteList(issue.keys)}; expected a filter: ${names}`
          : undefined,
    })
    .transform((query) => nonEmptyFilters(query as Record<string, string[] | undefined>));
}

/** The multipart body of POST /api/recommend, for the OpenAPI document (the route reads the parts itself). */
export function recommendFormZ(filters: readonly FilterParameter[]) {
  // Swagger UI's "Try it out" fills each form field with an example of its type ("string") unless
  // the schema gives one: the filters get an empty one (an empty filter is no filter), k and offset their defaults.
  const shape: Record<string, z.ZodType> = {};
  for (const f of usable(filters)) {
    shape[f.column] = z
      .string()
      .optional()
      .meta({
        description: `Filter on ${f.column}, as in the query string (repeat the field for any of several).`,
        example: '',
      });
  }
  return z.object({
    [IMAGE_FIELD]: z
      .file()
      .describe(
        'The photo: JPEG, PNG, WebP, GIF, AVIF or TIFF (the type is read from the content), at most 20 MiB and 100 megapixels.',
      ),
    k: kZ.meta({ example: String(DEFAULT_K) }),
    offset: offsetZ.meta({ example: '0' }),
    ...shape,
  });
}
