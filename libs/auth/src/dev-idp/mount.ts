import type { IncomingMessage } from 'node:http';

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

import type { DevIdp } from './dev-idp';

/**
 * Serves the development IdP under `basePath` (e.g. `/dev-idp`) of a Fastify instance, in its own
 * encapsulated plugin: every method and path below the prefix goes to `idp.callback` untouched.
 * The IdP may still be starting: requests wait for it.
 */
export function mountDevIdp(fastify: FastifyInstance, basePath: string, idp: Promise<DevIdp>): void {
  const prefix = basePath.replace(/\/$/, '');
  // Requests that arrive while the IdP is failing to start get a 503 instead of an unhandled rejection.
  idp.catch(() => undefined);

  async function handle(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    reply.hijack();
    const raw = request.raw as IncomingMessage & { originalUrl?: string };
    let dev: DevIdp;
    try {
      dev = await idp;
    } catch (error) {
      request.log.error({ err: error }, 'development IdP did not start');
      reply.raw.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' });
      reply.raw.end('the development IdP did not start; see the gateway log\n');
      return;
    }
    // oidc-provider's mounting contract: the URL relative to the mount, and the original one beside it.
    const url = raw.url ?? prefix;
    raw.originalUrl = url;
    const rest = url.slice(prefix.length);
    raw.url = rest.startsWith('/') ? rest : `/${rest}`;
    dev.callback(raw, reply.raw);
  }

  void fastify.register(async (scope) => {
    // oidc-provider parses its own bodies: leave every request stream unread.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
    scope.all(prefix, handle);
    scope.all(`${prefix}/*`, handle);
  });
}
