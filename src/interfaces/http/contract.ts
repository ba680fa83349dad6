/**
 * The HTTP API's contract: limits, filter names and response shapes, shared by the server and the
 * web page (no Node imports here: the page bundles this module).
 */

/** Largest accepted upload, in bytes (20 MiB). */
export const MAX_UPLOAD_BYTES = 20 * 1024 * 1024;
export const DEFAULT_K = 5;
export const MAX_K = 50;

/** The metadata columns a search can be filtered on. */
export const FILTER_COLUMNS = [
  'gender',
  'masterCategory',
  'subCategory',
  'articleType',
  'baseColour',
] as const;
export type FilterColumn = (typeof FILTER_COLUMNS)[number];

/** A catalogue product as the API shows it. */
export interface ApiProduct {
  id: string;
  name?: string;
  gender?: string;
  masterCategory?: string;
  subCategory?: string;
  articleType?: string;
  baseColour?: string;
  season?: string;
  year?: string;
  usage?: string;
  /** Where the product's photo is served (same origin). */
  imageUrl: string;
  /** Other product ids listed with the very same photo. */
  alsoListedAs: string[];
}

export interface ApiRecommendation extends ApiProduct {
  /** Similarity to the query: 1 = identical. */
  score: number;
  /** Why it matched, where known. */
  reasons: string[];
}

export interface ApiResults {
  query: {
    /** The catalogue product whose photo is the query, if the query is one. */
    recognisedAs?: string;
    /** Product ids kept out of the results because they are the query itself. */
    excluded: string[];
    /** The learned similarity's guess of an uploaded photo's kind. */
    predicted?: { column: string; value: string; probability: number }[];
  };
  /** Best first. */
  results: ApiRecommendation[];
}

export interface FacetValue {
  value: string;
  count: number;
}

export type ApiFacets = Record<FilterColumn, FacetValue[]>;

export interface ApiHealth {
  status: 'ok';
  /** generation and skipped: index folders only (not a PostgreSQL store). */
  index: {
    count: number;
    generation?: number;
    updatedAt: string;
    skipped?: number;
    store: 'files' | 'postgres';
    search: 'exact' | 'hnsw';
    similarity: 'learned' | 'original';
  };
  spec: { model: string; pooling: string; resize: string; channelOrder: string; dim: number };
  model: { device: string };
  uploads: { active: number; waiting: number; concurrency: number; maxWaiting: number };
  uptimeSeconds: number;
}

/** Machine-readable reasons in error bodies. */
export type ApiErrorCode =
  | 'bad-request'
  | 'bad-field'
  | 'bad-filter'
  | 'missing-image'
  | 'empty'
  | 'not-multipart'
  | 'not-an-image'
  | 'unsupported-format'
  | 'truncated'
  | 'too-large'
  | 'unknown-product'
  | 'not-found'
  | 'busy'
  | 'internal-error';

export interface ApiErrorBody {
  error: { code: ApiErrorCode; message: string };
}
