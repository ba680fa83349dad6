/**
 * The HTTP API's contract as clients see it: limits, and the types of its answers. The types are
 * inferred from the zod schemas in schemas.ts, the one source of truth that also validates
 * requests, serialises answers and makes up the OpenAPI document.
 *
 * The web page bundles this module: it imports nothing at run time (the schemas are imported for
 * their types only, so zod stays out of the page).
 */
import type { z } from 'zod';
import type {
  errorBodyZ,
  errorCodeZ,
  facetsZ,
  garmentsZ,
  healthZ,
  productZ,
  recommendationZ,
  resultsZ,
} from './schemas.js';

/** Largest accepted upload, in bytes (20 MiB). */
export const MAX_UPLOAD_BYTES = 20 * 1024 * 1024;
export const DEFAULT_K = 5;
export const MAX_K = 50;
/** Most results a search may skip (paging). */
export const MAX_OFFSET = 200;
/** Longest filter value, in characters. */
export const MAX_FILTER_VALUE_LENGTH = 200;
/** The multipart form field that carries the photo. */
export const IMAGE_FIELD = 'image';

/** A catalogue product: `{ id, name?, metadata, imageUrl, alsoListedAs }`. */
export type ApiProduct = z.output<typeof productZ>;
/** A recommended product: the product with its `score` and `reasons`. */
export type ApiRecommendation = z.output<typeof recommendationZ>;
/** The answer to a search: what the query was taken to be, and the results, best first. */
export type ApiResults = z.output<typeof resultsZ>;
/** The filters of the catalogue (its schema's facets) with their values, and which facet is the kind and the colour. */
export type ApiFacets = z.output<typeof facetsZ>;
export type ApiFacet = ApiFacets['facets'][number];
export type ApiFacetValue = ApiFacet['values'][number];
export type ApiHealth = z.output<typeof healthZ>;
/** Which page of results an answer is: `{ offset, k, hasMore }`. */
export type ApiPage = NonNullable<ApiResults['page']>;
/** A result's strength: `{ strength: 'same-product' | 'strong' | 'fair' | 'weak', label }`. */
export type ApiMatch = ApiRecommendation['match'];
/** Separate items found in a photo (POST /api/garments). */
export type ApiGarments = z.output<typeof garmentsZ>;
export type ApiGarment = ApiGarments['garments'][number];
/** Machine-readable reasons in error bodies. */
export type ApiErrorCode = z.output<typeof errorCodeZ>;
export type ApiErrorBody = z.output<typeof errorBodyZ>;
