/**
 * Every failure becomes `{error: {code, message}}` with a fitting status; unknown routes get a JSON
 * 404. Server faults are logged in full and answered without details (never a stack trace).
 */
import type { FastifyError } from 'fastify';
import type { ApiErrorBody } from '../api/contract.js';
import { toApiError } from '../api/error-map.js';
import { shared } from './shared.js';

export const errors = shared('lookalike-errors', async (app) => {
  app.setErrorHandler<FastifyError>((err, request, reply) => {
    const known = toApiError(err);
    let body: ApiErrorBody;
    if (known) {
      request.log.info({ status: known.statusCode, code: known.code }, known.message);
      reply.code(known.statusCode).headers(known.headers);
      body = { error: { code: known.code, message: known.message } };
    } else {
      request.log.error({ err }, 'request failed');
      reply.code(500);
      body = {
        error: {
          code: 'internal-error',
          message: 'something went wrong on the server; the error was logged',
        },
      };
    }
    return reply.send(body);
  });

  app.setNotFoundHandler((request, reply) => {
    const body: ApiErrorBody = {
      error: {
        code: 'not-found',
        message: `no such resource: ${request.method} ${request.url.split('?')[0]?.slice(0, 200)}`,
      },
    };
    return reply.code(404).send(body);
  });

  app.addHook('onSend', async (_request, reply) => {
    reply.header('x-content-type-options', 'nosniff');
  });
});
