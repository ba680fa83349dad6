/** Calls to the server's JSON API. Failures become an ApiFailure with the server's code and message. */
import type { ApiFacets, ApiResults } from '../http/api/contract.js';

/** The chosen value of each filter (by column); empty or absent is "any". */
export type ChosenFilters = Record<string, string>;

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

async function call<T>(url: string, init: RequestInit = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, { ...init, headers: { accept: 'application/json', ...init.headers } });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiFailure(
      0,
      'network',
      'The server could not be reached. Check your connection and try again.',
    );
  }
  const body = (await response.json().catch(() => undefined)) as (T & ErrorBody) | undefined;
  if (!response.ok || body === undefined) {
    throw new ApiFailure(
      response.status,
      body?.error?.code ?? `http-${response.status}`,
      body?.error?.message ?? `The server answered ${response.status} ${response.statusText}.`,
    );
  }
  return body;
}

/** The chosen filters as a query string ("" when there are none). */
function queryString(filters: ChosenFilters): string {
  const query = new URLSearchParams();
  for (const [column, value] of Object.entries(filters)) if (value) query.append(column, value);
  return query.size > 0 ? `?${query}` : '';
}

/** The products most similar to a photo (the filters in the query string, the photo alone in the form). */
export function recommend(photo: Blob, name: string, filters: ChosenFilters, signal: AbortSignal) {
  const form = new FormData();
  form.append('image', photo, name);
  return call<ApiResults>(`/api/recommend${queryString(filters)}`, { method: 'POST', body: form, signal });
}

/** "More like this": the products most similar to a catalogue product. */
export function similar(id: string, filters: ChosenFilters, signal: AbortSignal) {
  return call<ApiResults>(`/api/products/${encodeURIComponent(id)}/similar${queryString(filters)}`, {
    signal,
  });
}

/** The catalogue's filters with their values, and which say a product's kind and colour. */
export function facets() {
  return call<ApiFacets>('/api/facets');
}
