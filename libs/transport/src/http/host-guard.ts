import type { FastifyInstance } from 'fastify';
import type { GatehouseConfig } from '@gatehouse/config';
import { errorMapping, errorResponse, TransportError, TransportErrorCode } from '../jsonrpc';

const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]', '::1'];

/**
 * Liveness and readiness probes: orchestrators call them by the replica's own address (a pod
 * IP), they read nothing and change nothing, so a Host check would only break them.
 */
const PROBES = new Set(['/healthz', '/readyz']);

/**
 * R7 for every route of the gateway (MCP, the admin API, the console, the development IdP,
 * metrics): a request whose Host header this gateway does not serve is refused before any route,
 * parser or identity check sees it, so a DNS-rebound name cannot reach any of them. Registered on
 * the root Fastify instance before anything else, so every route registered later inherits it.
 */
export function guardHosts(fastify: FastifyInstance, config: GatehouseConfig): void {
  const allowed = hostAllowList(config);
  fastify.addHook('onRequest', async (req, reply) => {
    const path = req.url.split('?', 1)[0] ?? '';
    if (PROBES.has(path)) return;
    const host = (req.headers.host ?? '').toLowerCase();
    if (allowed.has(host) || allowed.has(stripPort(host))) return;
    const message = `Host "${host}" is not served by this gateway; add it to server.allowedHosts if it should be`;
    const status = errorMapping(TransportErrorCode.HOST_FORBIDDEN).status;
    // Each area answers in its own error format: JSON-RPC on /mcp, the admin APIs' elsewhere.
    const body = /^\/mcp(\/|\?|$)/.test(req.url)
      ? errorResponse(null, new TransportError(TransportErrorCode.HOST_FORBIDDEN, message))
      : { error: { code: TransportErrorCode.HOST_FORBIDDEN, message } };
    return reply
      .code(status)
      .header('content-type', 'application/json')
      .header('cache-control', 'no-store')
      .send(JSON.stringify(body));
  });
}

/** Loopback names, `server.allowedHosts`, `publicUrl`'s host and a specific listen address. */
export function hostAllowList(config: GatehouseConfig): Set<string> {
  const hosts = new Set<string>([
    ...LOOPBACK_HOSTS,
    ...config.server.allowedHosts.map((h) => h.toLowerCase()),
  ]);
  if (config.server.publicUrl) hosts.add(new URL(config.server.publicUrl).host.toLowerCase());
  if (config.server.host !== '0.0.0.0' && config.server.host !== '::')
    hosts.add(config.server.host.toLowerCase());
  return hosts;
}

function stripPort(host: string): string {
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const i = host.lastIndexOf(':');
  return i > 0 ? host.slice(0, i) : host;
}
