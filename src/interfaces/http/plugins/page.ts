/**
 * The web page at / : the files `npm run build:web` writes to dist/web, under the strict Content
 * Security Policy of plugins/security.ts (everything from this origin; photos also from blob:
 * URLs). Where the page is not built, / says how to build it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';

export interface PageOptions {
  /** The built page's folder. */
  root: string;
}

/** app-QZN7SFA4.js, styles-44YGTAGU.css.map... */
const HASHED = /-[A-Z0-9]{8}\.(js|css|map|txt)/;

export const page: FastifyPluginAsync<PageOptions> = async (app, { root }) => {
  if (!existsSync(join(root, 'index.html'))) {
    app.log.warn(`the web page is not built (no ${root}/index.html): run \`npm run build:web\``);
    app.get('/', { schema: { hide: true } }, async (_request, reply) =>
      reply
        .code(503)
        .type('text/html; charset=utf-8')
        .send(
          '<!doctype html><meta charset="utf-8"><title>Lookalike</title>' +
            '<p>The web page is not built yet: run <code>npm run build:web</code> and restart the server. ' +
            'The API is up: see <a href="/api/docs">/api/docs</a>.</p>',
        ),
    );
    return;
  }
  await app.register(fastifyStatic, {
    root,
    prefix: '/',
    wildcard: false,
    index: ['index.html'],
    schemaHide: true,
    setHeaders(reply, path) {
      // Bundles carry a content hash in their names (see scripts/build-web.ts): cached for good.
      reply.header('cache-control', HASHED.test(path) ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
};
