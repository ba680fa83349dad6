/** Calls to the server's JSON API. Failures become an ApiFailure with the server's code and message. */
import type { ApiFacets, ApiResults, FilterColumn } from '../http/contract.js';

export type ChosenFilters = Partial<Record<FilterColumn, string>>;

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

function appendFilters(add: (name: string, value: string) => void, filters: ChosenFilters): void {
  for (const [column, value] of Object.entries(filters)) if (value) add(column, value);
}

/** The products most similar to a photo. */
export function recommend(photo: Blob, name: string, filters: ChosenFilters, signal: AbortSignal) {
  const form = new FormData();
  appendFilters((k, v) => form.append(k, v), filters);
  form.append('image', photo, name);
  return call<ApiResults>('/api/recommend', { method: 'POST', body: form, signal });
}

/** "More like this": the products most similar to a catalogue product. */
export function similar(id: string, filters: ChosenFilters, signal: AbortSignal) {
  const query = new URLSearchParams();
  appendFilters((k, v) => query.append(k, v), filters);
  const qs = query.size > 0 ? `?${query}` : '';
  return call<ApiResults>(`/api/products/${encodeURIComponent(id)}/similar${qs}`, { signal });
}

export function facets() {
  return call<ApiFacets>('/api/facets');
}
