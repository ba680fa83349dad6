/**
 * Calls to the server's JSON API. Failures become an ApiFailure with the server's code and message.
 *
 * The answers' newer fields (query ids, pages, match strength, garments, facet counts and groups)
 * are optional here: the page works without them against an older server.
 */
import type {
  ApiFacets,
  ApiHealth,
  ApiProduct,
  ApiRecommendation,
  ApiResults,
} from '../http/api/contract.js';
import { IMAGE_FIELD } from '../http/api/contract.js';

/** The chosen values of each filter (by column): any of them matches; absent is "any". */
export type Filters = Record<string, string[]>;

export type MatchStrength = 'same-product' | 'strong' | 'fair' | 'weak';

export interface Match {
  strength: MatchStrength;
  label: string;
}

/** A garment found in a photo: a box in fractions (0..1) of the photo as shown. */
export interface Garment {
  box: { left: number; top: number; width: number; height: number };
  score?: number;
  kind?: string;
}

export type Result = ApiRecommendation & { match?: Match };

export interface Page {
  offset: number;
  k: number;
  hasMore: boolean;
}

export type Results = Omit<ApiResults, 'results' | 'query'> & {
  query: ApiResults['query'] & { garments?: Garment[] };
  results: Result[];
  queryId?: string;
  page?: Page;
};

export type Facets = Omit<ApiFacets, 'facets'> & {
  facets: (ApiFacets['facets'][number] & {
    counts?: { value: string; count: number }[];
    groups?: { group: string; values: string[] }[];
  })[];
};

export type Indexing = NonNullable<ApiHealth['indexing']>;

export class ApiFailure extends Error {
  constructor(
    /** HTTP status; 0 when the server could not be reached. */
    readonly status: number,
    /** The API's error code, or 'network' / 'http-<status>'. */
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface ErrorBody {
  error?: { code?: string; message?: string };
}

const NETWORK = 'The server could not be reached. Check your connection and try again.';

function failure(status: number, statusText: string, body: ErrorBody | undefined): ApiFailure {
  return new ApiFailure(
    status,
    body?.error?.code ?? `http-${status}`,
    body?.error?.message ?? `The server answered ${status} ${statusText}.`,
  );
}

async function call<T>(url: string, init: RequestInit = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, { ...init, headers: { accept: 'application/json', ...init.headers } });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiFailure(0, 'network', NETWORK);
  }
  const body = (await response.json().catch(() => undefined)) as (T & ErrorBody) | undefined;
  if (!response.ok || body === undefined) throw failure(response.status, response.statusText, body);
  return body;
}

/** Filters, k and offset as a query string ("" when there are none). */
export function queryString(
  filters: Filters,
  extra: Record<string, string | number | undefined> = {},
): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(extra)) if (value !== undefined) query.set(name, String(value));
  for (const [column, values] of Object.entries(filters))
    for (const v of values) if (v) query.append(column, v);
  return query.size > 0 ? `?${query}` : '';
}

export interface Paging {
  k: number;
  offset: number;
}

/** Paging parameters: offset only where it is not 0 (an older server does not know it). */
const paging = ({ k, offset }: Paging) => ({ k, offset: offset > 0 ? offset : undefined });

/**
 * Uploads a photo (XMLHttpRequest, for its upload progress) and answers its results.
 * `onUploaded` runs once the photo has been sent in full (the server is then searching).
 */
export function recommend(
  photo: Blob,
  name: string,
  filters: Filters,
  page: Paging,
  signal: AbortSignal,
  onProgress: (sent: number, total: number) => void,
  onUploaded: () => void,
): Promise<Results> {
  const form = new FormData();
  form.append(IMAGE_FIELD, photo, name);
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/api/recommend${queryString(filters, paging(page))}`);
    xhr.setRequestHeader('accept', 'application/json');
    xhr.responseType = 'json';
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable) onProgress(e.loaded, e.total);
    });
    xhr.upload.addEventListener('load', onUploaded);
    xhr.addEventListener('load', () => {
      const body = xhr.response as (Results & ErrorBody) | null;
      if (xhr.status >= 200 && xhr.status < 300 && body) resolve(body);
      else reject(failure(xhr.status, xhr.statusText, body ?? undefined));
    });
    xhr.addEventListener('error', () => reject(new ApiFailure(0, 'network', NETWORK)));
    xhr.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
    signal.addEventListener('abort', () => xhr.abort());
    xhr.send(form);
  });
}

/** An uploaded photo's search again, by its query id, with other filters or another page. */
export function rerun(queryId: string, filters: Filters, page: Paging, signal: AbortSignal) {
  return call<Results>(`/api/queries/${encodeURIComponent(queryId)}${queryString(filters, paging(page))}`, {
    signal,
  });
}

/** "More like this": the products most similar to a catalogue product. */
export function similar(id: string, filters: Filters, page: Paging, signal: AbortSignal) {
  return call<Results>(
    `/api/products/${encodeURIComponent(id)}/similar${queryString(filters, paging(page))}`,
    { signal },
  );
}

export function product(id: string, signal?: AbortSignal) {
  return call<ApiProduct>(`/api/products/${encodeURIComponent(id)}`, signal ? { signal } : {});
}

/** The catalogue's filters with their values (counted under `filters` where the server can). */
export function facets(filters: Filters = {}) {
  return call<Facets>(`/api/facets${queryString(filters)}`);
}

export function health() {
  return call<ApiHealth>('/api/health');
}
