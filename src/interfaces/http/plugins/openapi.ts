/**
 * The OpenAPI document (built from the routes' JSON schemas) at /api/openapi.json, and Swagger UI
 * at /api/docs. Registered before the routes, which it collects as they are added.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifySchema } from 'fastify';
import { shared } from '../plugin.js';
import { sharedSchemas } from '../schemas.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A multipart/form-data body, for the OpenAPI document only: the route reads the parts itself. */
    multipartBody?: Record<string, unknown>;
  }
}

export const openapi = shared<{ version: string }>('lookalike-openapi', async (app, { version }) => {
  for (const schema of sharedSchemas) app.addSchema(schema);

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Lookalike API',
        version,
        description:
          'A photo in, the most visually similar catalogue products out. Errors are JSON: `{"error": {"code", "message"}}`.',
      },
      tags: [
        { name: 'search', description: 'Recommendations for a photo or a product' },
        { name: 'catalogue', description: 'Products, their photos and filter values' },
        { name: 'service', description: 'Health of the service' },
      ],
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) =>
        typeof json.$id === 'string' ? json.$id : `def-${i}`,
    },
    transform: ({ schema, url, route }) => {
      const body = route.config?.multipartBody;
      const documented: FastifySchema = body
        ? { ...schema, body, consumes: ['multipart/form-data'] }
        : (schema ?? {});
      return { schema: documented, url };
    },
  });

  await app.register(swaggerUi, { routePrefix: '/api/docs', staticCSP: true });

  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());
});
