/**
 * Every failure becomes `{error: {code, message}}` with a fitting status: the routes' errors, unknown
 * routes (404), and what fails before any route is found: a bad URL or an over-long parameter
 * (`frameworkErrors`), and requests Node's HTTP parser refuses (431 headers too large, 408, 400:
 * `clientErrorHandler`). Server faults are logged in full and answered without details (never a
 * stack trace). An answer given before the request's body has arrived closes the connection, so
 * that the rest of the body is never waited for; and once the server is closing, new requests
 * are answered 503.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type {
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  FastifyServerOptions,
} from 'fastify';
import { ApiError } from '../api/api-error.js';
import type { ApiErrorBody } from '../api/contract.js';
import { quote } from '../api/echo.js';
import { toApiError } from '../api/error-map.js';
import { shared } from './shared.js';

/** Longest error message sent: a safety net, as messages quote requests only in part (api/echo.ts). */
const MAX_MESSAGE = 1000;

const bodyOf = (code: ApiErrorBody['error']['code'], message: string): ApiErrorBody => ({
  error: { code, message: message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}…` : message },
});

/** Headers every error answer carries. */
const ERROR_HEADERS = {
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
} as const;

/** The security headers of answers given before any route's hooks (plugins/security.ts sets the others'). */
const BARE_HEADERS = {
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
} as const;

/** Answers an error as the API's JSON; server faults are logged and told in general words. */
function sendError(err: unknown, request: FastifyRequest, reply: FastifyReply, headers: object = {}) {
  const known = toApiError(err);
  let body: ApiErrorBody;
  if (known) {
    request.log.info({ status: known.statusCode, code: known.code }, known.message);
    reply.code(known.statusCode).headers(known.headers);
    body = bodyOf(known.code, known.message);
  } else {
    request.log.error({ err }, 'request failed');
    reply.code(500);
    body = bodyOf('internal-error', 'something went wrong on the server; the error was logged');
  }
  reply.headers({ ...ERROR_HEADERS, ...headers });
  // The rest of an unread body is not waited for (a slow or refused upload), nor read into the next request.
  if (!request.raw.complete) reply.header('connection', 'close');
  return reply.send(body);
}

/** Fastify's `frameworkErrors`: a URL it cannot decode (400) or a path parameter over the limit (414). */
export const frameworkErrors: NonNullable<FastifyServerOptions['frameworkErrors']> = (
  err,
  request,
  reply,
) => {
  const e = err as FastifyError;
  const answer =
    e.code === 'FST_ERR_BAD_URL'
      ? new ApiError(400, 'bad-request', 'the URL is not valid: a percent-escape in its path is malformed')
      : e.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? new ApiError(414, 'too-large', 'a part of the URL path is too long')
        : err;
  return sendError(answer, request, reply, BARE_HEADERS);
};

/** What Node's HTTP parser refuses, before any request exists: status, code and words. */
function clientErrorAnswer(code: string | undefined): [number, ApiErrorBody['error']['code'], string] {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return [431, 'too-large', 'the request line and headers are too large'];
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [408, 'timeout', 'the request did not arrive in time'];
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return [413, 'too-large', 'the chunk extensions are too large'];
    default:
      return [400, 'bad-request', 'the request is not valid HTTP'];
  }
}

/**
 * Fastify's `clientErrorHandler` (Node's 'clientError'): a JSON answer on the raw socket, then the
 * connection is closed. Nothing is written where an answer has begun already.
 */
export function clientErrorHandler(
  this: FastifyInstance,
  err: Error & { code?: string },
  socket: Socket,
): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const message = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !message?.headersSent) {
    const [status, code, words] = clientErrorAnswer(err.code);
    const body = JSON.stringify(bodyOf(code, words));
    const headers = {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      connection: 'close',
      ...ERROR_HEADERS,
      ...BARE_HEADERS,
    };
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${Object.entries(headers)
        .map(([name, value]) => `${name}: ${value}\r\n`)
        .join('')}\r\n${body}`,
    );
    this.log.info({ status, err: err.code }, words);
  }
  socket.destroy(err);
}

export const errors = shared('lookalike-errors', async (app) => {
  app.setErrorHandler<FastifyError>((err, request, reply) => sendError(err, request, reply));

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    return sendError(
      new ApiError(404, 'not-found', `no such resource: ${request.method} ${quote(path, 200)}`),
      request,
      reply,
    );
  });

  // Closing (SIGTERM): requests already in progress finish; new ones, on connections kept alive,
  // are told to go elsewhere, in the API's words (Fastify's own 503 is not; see app.ts).
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async () => {
    if (closing) {
      // Before the security headers' hook: they are given here.
      throw new ApiError(503, 'busy', 'the server is shutting down; try again in a few seconds', {
        'retry-after': '2',
        connection: 'close',
        ...BARE_HEADERS,
      });
    }
  });
});
