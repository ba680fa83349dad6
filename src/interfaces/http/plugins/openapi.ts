/**
 * The OpenAPI document at /api/openapi.json, and Swagger UI at /api/docs, made from the routes'
 * zod schemas (fastify-type-provider-zod's transforms); the shared answers (Product, Results,
 * Error...) are components. Registered before the routes, which it collects as they are added.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import { shared } from './shared.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A multipart/form-data body, for the OpenAPI document only: the route reads the parts itself. */
    multipartBody?: z.ZodType;
  }
}

type Document = ReturnType<typeof jsonSchemaTransformObject>;

const REF = /"#\/components\/schemas\/([^"]+)"/g;

/**
 * Leaves out the components nothing refers to: the library emits every schema with an id twice
 * (as request and as answer: `Product` and `ProductInput`), and answers are all this API names.
 */
function referencedComponents(document: Document): Document {
  if (!('components' in document) || !document.components?.schemas) return document;
  const schemas = document.components.schemas as Record<string, unknown>;
  const { components: _, ...rest } = document;
  const wanted = new Set<string>();
  const visit = (json: string) => {
    for (const [, name] of json.matchAll(REF)) {
      if (name && !wanted.has(name) && name in schemas) {
        wanted.add(name);
        visit(JSON.stringify(schemas[name]));
      }
    }
  };
  visit(JSON.stringify(rest));
  const kept = Object.fromEntries(Object.entries(schemas).filter(([name]) => wanted.has(name)));
  return { ...document, components: { ...document.components, schemas: kept } } as Document;
}

export const openapi = shared<{ version: string }>('lookalike-openapi', async (app, { version }) => {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Lookalike API',
        version,
        description:
          'A photo in, the most visually similar catalogue products out. Products carry their metadata by column; ' +
          'GET /api/facets says which columns are filters. Errors are JSON: `{"error": {"code", "message"}}`.',
      },
      tags: [
        { name: 'search', description: 'Recommendations for a photo or a product' },
        { name: 'catalogue', description: 'Products, their photos and filter values' },
        { name: 'service', description: 'Health of the service' },
        { name: 'admin', description: 'Changes to the catalogue, with an API key (lookalike keys create)' },
      ],
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } } },
    },
    transform: (document) => {
      const body = document.route.config?.multipartBody;
      if (!body) return jsonSchemaTransform(document);
      const schema = { ...document.schema, body, consumes: ['multipart/form-data'] };
      return jsonSchemaTransform({ ...document, schema });
    },
    transformObject: (document) => referencedComponents(jsonSchemaTransformObject(document)),
  });

  // Swagger UI's own policy: its files come from this origin as the page's do, with the fonts and
  // images it inlines as data: URLs and the styles it applies inline; never framed. (Its built-in one allows framing by the same
  // origin and styles from any https: origin, and upgrades requests to https.)
  await app.register(swaggerUi, {
    routePrefix: '/api/docs',
    staticCSP: {
      'default-src': "'self'",
      'base-uri': "'self'",
      'font-src': "'self' data:",
      'img-src': "'self' data:",
      'object-src': "'none'",
      'script-src': "'self'",
      'script-src-attr': "'none'",
      // Swagger UI applies a few styles inline.
      'style-src': "'self' 'unsafe-inline'",
      'form-action': "'self'",
      'frame-ancestors': "'none'",
    },
  });

  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());
});
