/**
 * API keys on requests (issue 13): `Authorization: Bearer <key>`, checked against the key store's
 * hashes in constant time (access/keys.ts). The store is read on every check (cheaply: see
 * access/key-store.ts), so a key revoked from the command line stops working at once.
 *
 * A client that presents bad keys too often is refused for a while: after `maxFailures` bad keys
 * within `windowMs`, every request it sends that needs a key gets 429 with Retry-After, before
 * its key is even looked at. Clients are told apart by address (behind a proxy, set Fastify's
 * trustProxy to count the client's own).
 *
 * With `private`, every route but GET /api/health needs a key (the page and its files too).
 */
import type { FastifyRequest } from 'fastify';
import { LRUCache } from 'lru-cache';
import { hasActiveKey, type KeyStore } from '../../../access/key-store.js';
import { type KeyRecord, matchKey } from '../../../access/keys.js';
import { ApiError } from '../api/api-error.js';
import { shared } from './shared.js';

export interface AuthLimits {
  /** Bad keys a client may present within `windowMs` before it is refused with 429. */
  maxFailures: number;
  windowMs: number;
}

export const DEFAULT_AUTH_LIMITS: AuthLimits = { maxFailures: 10, windowMs: 60_000 };

export interface AuthOptions {
  keys: KeyStore;
  /** Every route but the health check needs a key. */
  private?: boolean;
  limits?: Partial<AuthLimits>;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The key this request was made with, once checked. */
    apiKey?: KeyRecord;
  }
  interface FastifyInstance {
    /**
     * Checks the request's key, once per request.
     * @throws ApiError 401 'unauthorized' (missing or bad key), 429 'rate-limited'.
     */
    authenticate(request: FastifyRequest): Promise<KeyRecord>;
    /** Whether any key can be used now (without one, the write routes are off). */
    keysActive(): Promise<boolean>;
  }
}

const REALM = 'Bearer realm="lookalike"';

/** The routes that stay open on a private server: the health check, for load balancers. */
const OPEN_ON_PRIVATE = new Set(['/api/health']);

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return m ? (m[1] as string) : '';
}

export const auth = shared<AuthOptions>('lookalike-auth', async (app, options) => {
  const limits = { ...DEFAULT_AUTH_LIMITS, ...options.limits };
  const failures = new LRUCache<string, { count: number; resetAt: number }>({
    max: 100_000,
    ttl: limits.windowMs,
  });

  const refuseIfLimited = (client: string) => {
    const seen = failures.get(client);
    const now = Date.now();
    if (seen && seen.count >= limits.maxFailures && now < seen.resetAt) {
      const seconds = Math.max(1, Math.ceil((seen.resetAt - now) / 1000));
      throw new ApiError(
        429,
        'rate-limited',
        `too many bad keys from this client; try again in ${seconds} s`,
        { 'retry-after': String(seconds) },
      );
    }
  };

  const failed = (client: string) => {
    const now = Date.now();
    const seen = failures.get(client);
    if (seen && now < seen.resetAt) seen.count += 1;
    else failures.set(client, { count: 1, resetAt: now + limits.windowMs });
  };

  app.decorate('keysActive', async () => hasActiveKey(await options.keys.records()));

  app.decorate('authenticate', async (request: FastifyRequest): Promise<KeyRecord> => {
    if (request.apiKey) return request.apiKey;
    const client = request.ip;
    refuseIfLimited(client);
    const presented = bearer(request);
    if (presented === undefined) {
      throw new ApiError(401, 'unauthorized', 'this needs an API key: send "Authorization: Bearer <key>"', {
        'www-authenticate': REALM,
      });
    }
    const record = presented ? matchKey(presented, await options.keys.records()) : undefined;
    if (!record) {
      failed(client);
      throw new ApiError(401, 'unauthorized', 'the API key is not valid, or was revoked', {
        'www-authenticate': `${REALM}, error="invalid_token"`,
      });
    }
    request.apiKey = record;
    return record;
  });

  if (options.private) {
    app.addHook('onRequest', async (request) => {
      const path = request.url.split('?')[0] ?? '';
      if ((request.method === 'GET' || request.method === 'HEAD') && OPEN_ON_PRIVATE.has(path)) return;
      await app.authenticate(request);
    });
  }
});
