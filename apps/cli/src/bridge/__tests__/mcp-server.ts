import { randomUUID } from 'node:crypto';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer, type ServerOptions as HttpsOptions } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { TLSSocket } from 'node:tls';

import { getRequestListener, type HttpBindings } from '@hono/node-server';
import {
  createMcpHandler,
  McpServer,
  WebStandardStreamableHTTPServerTransport,
  type McpHttpHandler,
} from '@modelcontextprotocol/server';
import { z } from 'zod';

/** What the test server saw of one HTTP request. */
export interface SeenRequest {
  method: string;
  headers: IncomingMessage['headers'];
  /** JSON-RPC method(s) in a POST body. */
  rpc: string[];
  /** The decoded POST body. */
  body?: unknown;
  /** Common name of the verified client certificate, on an mTLS server. */
  clientCertCn?: string;
}

/** What a test server's MCP handlers report back to the test. */
interface ServerHooks {
  /** A `hang` call saw its cancellation. */
  onCancelled(): void;
  /** A `tally` call ran. */
  onTally(): void;
}

/** The tools every test server offers, plus logging and subscribable resources. */
function buildServer(hooks: ServerHooks): McpServer {
  const server = new McpServer(
    { name: 'bridge-test-upstream', version: '1.0.0' },
    { capabilities: { logging: {}, resources: { subscribe: true } } },
  );
  server.registerResource(
    'note',
    'note://one',
    { description: 'A subscribable note', mimeType: 'text/plain' },
    async (uri) => ({ contents: [{ uri: uri.href, text: 'note one' }] }),
  );
  server.server.setRequestHandler('resources/subscribe', async () => ({}));
  server.server.setRequestHandler('resources/unsubscribe', async () => ({}));
  server.registerTool(
    'tally',
    { description: 'Counts how often it ran, on the test server', inputSchema: z.object({}) },
    async () => {
      hooks.onTally();
      return { content: [{ type: 'text', text: 'tallied' }] };
    },
  );
  server.registerTool(
    'echo',
    { description: 'Echoes its text', inputSchema: z.object({ text: z.string() }) },
    async ({ text }) => ({ content: [{ type: 'text', text: `echo: ${text}` }] }),
  );
  server.registerTool(
    'count',
    { description: 'Counts to n, reporting progress', inputSchema: z.object({ n: z.number().int() }) },
    async ({ n }, ctx) => {
      const progressToken = ctx.mcpReq._meta?.progressToken;
      for (let i = 1; i <= n; i++) {
        if (progressToken !== undefined) {
          await ctx.mcpReq.notify({
            method: 'notifications/progress',
            params: { progressToken, progress: i, total: n, message: `step ${i}` },
          });
        }
        // Work takes time; it also keeps the SDK Client, which drops progress that
        // arrives in the same read as the final response, from losing the last step.
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return { content: [{ type: 'text', text: `counted to ${n}` }] };
    },
  );
  server.registerTool(
    'ask',
    { description: 'Asks the client to sample a reply', inputSchema: z.object({ question: z.string() }) },
    async ({ question }, ctx) => {
      // ctx.mcpReq.send ties the request to this call, so it travels on the call's own
      // response stream (requestSampling would use the standalone GET stream instead).
      const reply = await ctx.mcpReq.send({
        method: 'sampling/createMessage',
        params: { messages: [{ role: 'user', content: { type: 'text', text: question } }], maxTokens: 50 },
      });
      const content = reply.content as { type: string; text?: string };
      return { content: [{ type: 'text', text: `the client said: ${content.text ?? '?'}` }] };
    },
  );
  server.registerTool(
    'regional',
    {
      description: 'Names its region, which 2026-07-28 clients mirror into Mcp-Param-Region',
      inputSchema: z.object({ region: z.string().meta({ 'x-mcp-header': 'Region' }) }),
    },
    async ({ region }) => ({ content: [{ type: 'text', text: `served from ${region}` }] }),
  );
  server.registerTool(
    'hang',
    { description: 'Never finishes (until the server dies)', inputSchema: z.object({}) },
    async (_args, ctx) => {
      await new Promise((resolve) => ctx.mcpReq.signal.addEventListener('abort', resolve));
      hooks.onCancelled();
      return { content: [{ type: 'text', text: 'cancelled' }] };
    },
  );
  server.registerTool(
    'ask_standalone',
    {
      description: 'Asks the client to sample, on the standalone stream',
      inputSchema: z.object({ question: z.string() }),
    },
    async ({ question }, ctx) => {
      const reply = await ctx.mcpReq.requestSampling({
        messages: [{ role: 'user', content: { type: 'text', text: question } }],
        maxTokens: 50,
      });
      const content = reply.content as { type: string; text?: string };
      return { content: [{ type: 'text', text: `the client said: ${content.text ?? '?'}` }] };
    },
  );
  return server;
}

function rpcMethods(body: unknown): string[] {
  const messages = Array.isArray(body) ? body : [body];
  return messages
    .map((m) =>
      m && typeof m === 'object' && 'method' in m ? String((m as { method: unknown }).method) : '',
    )
    .filter((m) => m !== '');
}

export interface TestServerOptions {
  /** Port to listen on; 0 picks a free one. Reuse a port to simulate a restart. */
  port?: number;
  /** Serve HTTPS with these options (mTLS when `requestCert` is set). */
  tls?: HttpsOptions;
  /** `legacy`: a sessionful 2025-era server; `modern`: the SDK's createMcpHandler (2026-07-28 with a legacy fallback). */
  era?: 'legacy' | 'modern';
  /** Answer 401 unless this bearer token is presented. */
  requireToken?: string;
}

/**
 * An HTTP failure the server injects into the next POST carrying `method`.
 * `before`: answered without handing the message to MCP (a draining gateway's
 * 503); `after`: the message is handled to completion, then the response is
 * replaced by this status (a gateway that ran the call and then failed).
 */
export interface Fault {
  method: string;
  status: number;
  when: 'before' | 'after';
  /** Response body; plain text unless it is a JSON string. */
  body?: string;
}

/**
 * A real SDK v2 MCP server over Streamable HTTP on node:http(s), with the
 * `echo`, `count` (progress) and `ask` (sampling) tools, recording what it saw.
 */
export class TestMcpServer {
  readonly seen: SeenRequest[] = [];
  /** How many `hang` calls saw their cancellation. */
  cancelled = 0;
  /** How many `tally` calls ran. */
  tallies = 0;
  /** Failures to inject, consumed in order by the POSTs they match. */
  readonly faults: Fault[] = [];
  private readonly sessions = new Map<
    string,
    { transport: WebStandardStreamableHTTPServerTransport; server: McpServer }
  >();
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  private modern: McpHttpHandler | undefined;
  private getStreamWaiters: Array<() => void> = [];
  port = 0;

  constructor(private readonly options: TestServerOptions = {}) {}

  get url(): string {
    return `${this.options.tls ? 'https' : 'http'}://127.0.0.1:${this.port}/mcp`;
  }

  async start(): Promise<this> {
    const listener = getRequestListener(
      (request, env) =>
        this.handle(request, (env as HttpBindings).incoming).catch(
          (error: unknown) => new Response(String(error), { status: 500 }),
        ),
      // This server runs in the test's process next to the code under test, whose Request and
      // Response must stay Node's own; by default the adapter swaps in its own.
      { overrideGlobalObjects: false },
    );
    // The listener answers every failure itself (a 500), so its promise never needs handling.
    const handler = (req: IncomingMessage, res: ServerResponse) => void listener(req, res);
    const server = this.options.tls
      ? createHttpsServer(this.options.tls, handler)
      : createHttpServer(handler);
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    if (this.options.era === 'modern') this.modern = createMcpHandler(() => buildServer(this.hooks));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    return this;
  }

  /** Stops listening and cuts every connection, forgetting all sessions, like a crashed process. */
  async kill(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    for (const { server: mcp } of this.sessions.values()) await mcp.close().catch(() => undefined);
    this.sessions.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Requests with this JSON-RPC method. */
  calls(method: string): SeenRequest[] {
    return this.seen.filter((r) => r.rpc.includes(method));
  }

  /** Resolves once a standalone GET stream is open on some session. */
  waitForGetStream(): Promise<void> {
    if (this.seen.some((r) => r.method === 'GET')) return Promise.resolve();
    return new Promise((resolve) => this.getStreamWaiters.push(resolve));
  }

  /** Sends `notifications/tools/list_changed` to every session: it travels on the standalone GET stream. */
  async announceToolListChanged(): Promise<void> {
    for (const { server } of this.sessions.values()) server.sendToolListChanged();
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /** The params of each request or notification with this JSON-RPC method, in arrival order. */
  params(method: string): unknown[] {
    const out: unknown[] = [];
    for (const request of this.seen) {
      const messages: unknown[] = Array.isArray(request.body) ? request.body : [request.body];
      for (const m of messages) {
        if (m && typeof m === 'object' && (m as { method?: unknown }).method === method) {
          out.push((m as { params?: unknown }).params);
        }
      }
    }
    return out;
  }

  private readonly hooks: ServerHooks = {
    onCancelled: () => this.cancelled++,
    onTally: () => this.tallies++,
  };

  private takeFault(methods: string[]): Fault | undefined {
    const index = this.faults.findIndex((f) => methods.includes(f.method));
    return index < 0 ? undefined : this.faults.splice(index, 1)[0];
  }

  private static faultResponse(fault: Fault): Response {
    const body = fault.body ?? 'injected failure';
    const json = body.startsWith('{');
    return new Response(body, {
      status: fault.status,
      headers: { 'content-type': json ? 'application/json' : 'text/plain' },
    });
  }

  /** Serves one request; `req` is the raw node:http request, for what only it tells (the TLS peer). */
  private async handle(request: Request, req: IncomingMessage): Promise<Response> {
    // A clone, so the body is still there for the transport when it reads it itself.
    const raw = req.method === 'POST' ? await request.clone().text() : '';
    let body: unknown;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw);
      } catch {
        body = undefined;
      }
    }
    const peer = req.socket instanceof TLSSocket ? req.socket.getPeerCertificate() : undefined;
    const cn = peer?.subject?.CN;
    this.seen.push({
      method: req.method ?? '',
      headers: req.headers,
      rpc: rpcMethods(body),
      ...(body !== undefined ? { body } : {}),
      ...(typeof cn === 'string' ? { clientCertCn: cn } : {}),
    });
    if (req.method === 'GET') {
      const waiters = this.getStreamWaiters;
      this.getStreamWaiters = [];
      setImmediate(() => waiters.forEach((w) => w()));
    }
    if (req.url !== '/mcp') {
      return new Response('no MCP endpoint here', {
        status: 404,
        headers: { 'content-type': 'text/plain' },
      });
    }
    if (
      this.options.requireToken !== undefined &&
      req.headers.authorization !== `Bearer ${this.options.requireToken}`
    ) {
      return Response.json(
        { error: 'invalid_token', error_description: 'the token is not valid' },
        { status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } },
      );
    }
    const fault = req.method === 'POST' ? this.takeFault(rpcMethods(body)) : undefined;
    if (fault?.when === 'before') return TestMcpServer.faultResponse(fault);
    const answer = async (response: Response): Promise<Response> => {
      if (fault?.when !== 'after') return response;
      // Let the call run to its end (its response stream closes), then fail instead of answering.
      await response.text();
      return TestMcpServer.faultResponse(fault);
    };
    if (this.modern) return answer(await this.modern.fetch(request));
    const sessionId = req.headers['mcp-session-id'];
    let entry = typeof sessionId === 'string' ? this.sessions.get(sessionId) : undefined;
    if (!entry) {
      const isInitialize = req.method === 'POST' && rpcMethods(body).includes('initialize');
      if (sessionId !== undefined || !isInitialize) {
        return Response.json(
          { jsonrpc: '2.0', id: null, error: { code: -32001, message: 'Session not found' } },
          { status: 404 },
        );
      }
      const transport = new WebStandardStreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => {
          this.sessions.set(id, created);
        },
        onsessionclosed: (id) => {
          this.sessions.delete(id);
        },
      });
      const server = buildServer(this.hooks);
      const created = { transport, server };
      await server.connect(transport);
      entry = created;
    }
    return answer(await entry.transport.handleRequest(request, { parsedBody: body }));
  }
}
