/**
 * Requests are validated, and answers serialised, by the routes' zod schemas (api/schemas.ts),
 * through fastify-type-provider-zod: what the handlers are typed with is what is checked and sent.
 * Registered before the routes.
 */
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { shared } from './shared.js';

export const validation = shared('lookalike-validation', async (app) => {
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
});
