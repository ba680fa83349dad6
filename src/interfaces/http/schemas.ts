/**
 * JSON schemas of the API: shared ones (registered by the openapi plugin, referenced by $id) and
 * the query-string schema of searches. They validate requests, serialise responses and make up
 * the OpenAPI document.
 */
import { DEFAULT_K, FILTER_COLUMNS, type FilterColumn, MAX_K } from './contract.js';

const text = { type: 'string' } as const;

const productProperties = {
  id: { type: 'string', description: 'Product id.' },
  name: { type: 'string', description: 'Display name.' },
  gender: text,
  masterCategory: text,
  subCategory: text,
  articleType: text,
  baseColour: text,
  season: text,
  year: text,
  usage: text,
  imageUrl: { type: 'string', description: "The product's photo, served by this server." },
  alsoListedAs: {
    type: 'array',
    items: text,
    description: 'Other product ids listed with the very same photo.',
  },
} as const;

export const ProductSchema = {
  $id: 'Product',
  type: 'object',
  description: 'A catalogue product. Metadata fields are absent where the catalogue has no value.',
  required: ['id', 'imageUrl', 'alsoListedAs'],
  properties: productProperties,
} as const;

export const RecommendationSchema = {
  $id: 'Recommendation',
  type: 'object',
  description: 'A recommended product and its similarity to the query.',
  required: ['id', 'score', 'imageUrl', 'alsoListedAs', 'reasons'],
  properties: {
    ...productProperties,
    score: {
      type: 'number',
      description:
        'Similarity to the query, 1 = identical: cosine of the visual vectors (original similarity), or the fused visual, learned and colour score (learned similarity).',
    },
    reasons: {
      type: 'array',
      items: text,
      description: 'Why it matched, where known: "same colour", "same articleType: Tshirts".',
    },
  },
} as const;

export const ResultsSchema = {
  $id: 'Results',
  type: 'object',
  required: ['query', 'results'],
  properties: {
    query: {
      type: 'object',
      required: ['excluded'],
      properties: {
        recognisedAs: {
          type: 'string',
          description: 'The catalogue product whose photo is the query, when the query is one.',
        },
        excluded: {
          type: 'array',
          items: text,
          description: 'Products left out of the results because they are the query itself.',
        },
        predicted: {
          type: 'array',
          description:
            "The learned similarity's guesses of an uploaded photo's labels (its kind of product first), one per label column.",
          items: {
            type: 'object',
            required: ['column', 'value', 'probability'],
            properties: { column: text, value: text, probability: { type: 'number' } },
          },
        },
      },
    },
    results: { type: 'array', items: { $ref: 'Recommendation#' }, description: 'Best first.' },
  },
} as const;

export const ErrorSchema = {
  $id: 'Error',
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', description: 'Machine-readable reason, e.g. not-an-image, too-large.' },
        message: { type: 'string', description: 'What was wrong, for people.' },
      },
    },
  },
} as const;

const facetValues = {
  type: 'array',
  items: {
    type: 'object',
    required: ['value', 'count'],
    properties: { value: text, count: { type: 'integer' } },
  },
} as const;

export const FacetsSchema = {
  $id: 'Facets',
  type: 'object',
  description: 'Distinct values of each filterable column with their product counts, most frequent first.',
  required: [...FILTER_COLUMNS],
  properties: Object.fromEntries(FILTER_COLUMNS.map((c) => [c, facetValues])) as Record<
    FilterColumn,
    typeof facetValues
  >,
} as const;

export const HealthSchema = {
  $id: 'Health',
  type: 'object',
  required: ['status', 'index', 'spec', 'model', 'uploads', 'uptimeSeconds'],
  properties: {
    status: { type: 'string', enum: ['ok'] },
    index: {
      type: 'object',
      properties: {
        count: { type: 'integer', description: 'Products in the index.' },
        generation: { type: 'integer', description: 'Index folders only.' },
        updatedAt: text,
        skipped: {
          type: 'integer',
          description: 'Photos the last indexing run could not read (index folders only).',
        },
        store: { type: 'string', enum: ['files', 'postgres'] },
        search: { type: 'string', enum: ['exact', 'hnsw'] },
        similarity: {
          type: 'string',
          enum: ['learned', 'original'],
          description: 'learned: visual, learned, label and colour similarity fused; original: visual alone.',
        },
      },
    },
    spec: {
      type: 'object',
      description: 'How the index vectors were made.',
      properties: {
        model: text,
        pooling: text,
        resize: text,
        channelOrder: text,
        dim: { type: 'integer' },
      },
    },
    model: { type: 'object', properties: { device: { type: 'string', description: 'cpu or cuda' } } },
    uploads: {
      type: 'object',
      description: 'Uploads being processed and waiting for a turn.',
      properties: {
        active: { type: 'integer' },
        waiting: { type: 'integer' },
        concurrency: { type: 'integer' },
        maxWaiting: { type: 'integer' },
      },
    },
    uptimeSeconds: { type: 'number' },
  },
} as const;

export const sharedSchemas = [
  ProductSchema,
  RecommendationSchema,
  ResultsSchema,
  ErrorSchema,
  FacetsSchema,
  HealthSchema,
];

const filterDescription: Record<FilterColumn, string> = {
  gender: 'e.g. Men, Women, Boys, Girls, Unisex',
  masterCategory: 'e.g. Apparel, Footwear, Accessories',
  subCategory: 'e.g. Topwear, Shoes, Watches',
  articleType: 'e.g. Tshirts, Shirts, Casual Shoes',
  baseColour: 'e.g. Black, Navy Blue, White',
};

/** One filter: repeat it for alternatives (any of them). */
const filterProperties = Object.fromEntries(
  FILTER_COLUMNS.map((c) => [
    c,
    {
      type: 'array',
      items: { type: 'string', maxLength: 200 },
      maxItems: 50,
      description: `Keep products whose ${c} is this value (${filterDescription[c]}); case-insensitive; repeat for any of several. A value the catalogue does not have matches nothing.`,
    },
  ]),
);

export const kProperty = {
  type: 'integer',
  minimum: 1,
  maximum: MAX_K,
  default: DEFAULT_K,
  description: 'How many products.',
} as const;

/** The query string of searches: k and filters. Unknown parameters are refused. */
export const searchQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: { k: kProperty, ...filterProperties },
} as const;

/** The multipart body of POST /api/recommend, for the OpenAPI document (read by the route itself). */
export const recommendBodySchema = {
  type: 'object',
  required: ['image'],
  properties: {
    image: {
      type: 'string',
      format: 'binary',
      description:
        'The photo: JPEG, PNG, WebP, GIF, AVIF or TIFF (the type is read from the content), at most 20 MiB and 100 megapixels.',
    },
    k: kProperty,
    ...Object.fromEntries(
      FILTER_COLUMNS.map((c) => [
        c,
        { type: 'string', description: `Filter on ${c}, as in the query string (repeatable).` },
      ]),
    ),
  },
};

export const errorResponses = {
  '4xx': { $ref: 'Error#' },
  '5xx': { $ref: 'Error#' },
} as const;

export const idParamsSchema = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 200, description: 'Product id.' } },
} as const;

export interface IdParams {
  id: string;
}
