/**
 * The direct baseline: the echo tool behind the SDK's own Streamable HTTP server transport
 * (`WebStandardStreamableHTTPServerTransport`, one per session, as the SDK documents for 2025-era
 * clients), on a plain `node:http` server.
 *
 * Run: `node dist/bench/echo-http-server.js [--port N] [--json]` prints its MCP URL on the first
 * stdout line. Responses are SSE, the SDK's default, unless `--json` is given: the gateway also
 * answers with SSE when the client accepts it (the SDK client always does), so both paths cost
 * the client the same parsing and the difference between them is the server side alone.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import {
  WebStandardStreamableHTTPServerTransport,
  createMcpHandler,
  isLegacyRequest,
} from '@modelcontextprotocol/server';
import { createEchoServer } from './echo-server';

function jsonRpcError(status: number, message: string, code = -32000): Response {
  return Response.json({ jsonrpc: '2.0', id: null, error: { code, message } }, { status });
}

/** Starts the echo server on loopback and resolves with its MCP endpoint URL. */
export async function startEchoHttp(
  port: number,
  json: boolean,
): Promise<{ url: string; close(): Promise<void> }> {
  const sessions = new Map<string, WebStandardStreamableHTTPServerTransport>();
  const modern = createMcpHandler(() => createEchoServer(), { legacy: 'reject' });

  const route = async (request: Request): Promise<Response> => {
    if (new URL(request.url).pathname !== '/mcp') return new Response('Not found', { status: 404 });
    const sessionId = request.headers.get('mcp-session-id');
    if (sessionId !== null) {
      const transport = sessions.get(sessionId);
      return transport ? transport.handleRequest(request) : jsonRpcError(404, 'Session not found');
    }
    if (!(await isLegacyRequest(request))) return modern.fetch(request);
    if (request.method !== 'POST') return jsonRpcError(400, 'Mcp-Session-Id header is required');
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      enableJsonResponse: json,
      onsessioninitialized: (id) => {
        sessions.set(id, transport);
      },
      onsessionclosed: (id) => {
        sessions.delete(id);
      },
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    await createEchoServer().connect(transport);
    return transport.handleRequest(request);
  };

  const listener = getRequestListener(
    (request) => route(request).catch((error: unknown) => jsonRpcError(500, String(error), -32603)),
    // Node's own Request and Response, not the adapter's lighter stand-ins, so the baseline
    // keeps costing what it did in earlier reports.
    { overrideGlobalObjects: false, hostname: '127.0.0.1' },
  );
  // The listener answers every failure itself (a 500), so its promise never needs handling.
  const server = http.createServer((req, res) => void listener(req, res));
  // Idle keep-alive sockets from 20 bench clients must not be cut between phases.
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}/mcp`,
    close: async () => {
      await Promise.allSettled([...sessions.values()].map((t) => t.close()));
      await modern.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const portIndex = args.indexOf('--port');
  const port = portIndex >= 0 ? Number(args[portIndex + 1]) : 0;
  startEchoHttp(port, args.includes('--json')).then(
    (running) => {
      process.stdout.write(`${running.url}\n`);
      const stop = () => {
        running.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    },
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
