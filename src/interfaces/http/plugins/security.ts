/**
 * Security headers on every answer (@fastify/helmet): a Content Security Policy that lets the page
 * load only this origin's scripts, styles and images (and blob:/data: images, the previews of the
 * photo being searched), no framing (frame-ancestors 'none', X-Frame-Options DENY), nosniff, and
 * no Referer. Swagger UI at /api/docs has a policy of its own (plugins/openapi.ts). No HSTS: the
 * server speaks plain HTTP, and where TLS is added in front, that is the place to set it.
 */
import helmet from '@fastify/helmet';
import { shared } from './shared.js';

/** The page's policy, which suits the JSON answers and the photos as well. */
export const PAGE_CSP_DIRECTIVES = {
  'default-src': ["'self'"],
  'img-src': ["'self'", 'blob:', 'data:'],
  'script-src': ["'self'"],
  'style-src': ["'self'"],
  'connect-src': ["'self'"],
  'object-src': ["'none'"],
  'base-uri': ["'none'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
};

export const security = shared('lookalike-security', async (app) => {
  await app.register(helmet, {
    contentSecurityPolicy: { useDefaults: false, directives: PAGE_CSP_DIRECTIVES },
    xFrameOptions: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    strictTransportSecurity: false,
  });
});
