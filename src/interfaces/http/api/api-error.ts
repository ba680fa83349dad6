/** An error that the API answers as it is: an HTTP status and a `{error: {code, message}}` body. */
import type { ApiErrorCode } from './contract.js';

export class ApiError extends Error {
  override readonly name = 'ApiError';

  constructor(
    readonly statusCode: number,
    readonly code: ApiErrorCode,
    message: string,
    /** Extra response headers, e.g. Retry-After. */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}
