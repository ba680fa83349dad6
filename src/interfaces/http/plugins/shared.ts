/**
 * Marks a Fastify plugin as shared: what it registers (hooks, handlers, decorators, content-type
 * parsers) applies to the whole app rather than to a scope of its own. This is what the
 * `fastify-plugin` package does; see Fastify's Plugins reference, "Handle the scope".
 */
import type { FastifyPluginAsync } from 'fastify';

export function shared<Options extends object>(
  name: string,
  plugin: FastifyPluginAsync<Options>,
): FastifyPluginAsync<Options> {
  Object.assign(plugin, {
    [Symbol.for('skip-override')]: true,
    [Symbol.for('fastify.display-name')]: name,
  });
  return plugin;
}
