/**
 * The upstream the conformance comparison fronts: an MCP server built with
 * `@modelcontextprotocol/server` v2 that implements the tools, resources and prompts the
 * official `@modelcontextprotocol/conformance` server scenarios ask for (`test_simple_text`,
 * `test://static-text`, `test_prompt_with_arguments`, ...).
 *
 * It serves both protocol eras. 2025-era clients (the conformance suite's own client, and the
 * gateway when it speaks `initialize` upstream) get a sessionful Streamable HTTP transport, so
 * server-to-client requests (sampling, elicitation) and stream resumption work; 2026-07-28
 * clients get the SDK's per-request handler, where sampling and elicitation become
 * `input_required` results.
 *
 * Run: `node dist/e2e/conformance/fixture-server.js [--port N] [--host H]` prints its URL on the
 * first stdout line; `--stdio` serves one connection over stdin/stdout instead.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import {
  McpServer,
  ResourceTemplate,
  WebStandardStreamableHTTPServerTransport,
  completable,
  createMcpHandler,
  fromJsonSchema,
  hostHeaderValidationResponse,
  inputRequired,
  inputResponse,
  isLegacyRequest,
  localhostAllowedHostnames,
  localhostAllowedOrigins,
  originValidationResponse,
  type CallToolResult,
  type ElicitRequestFormParams,
  type EventStore,
  type JSONRPCMessage,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { z } from 'zod';

type Era = 'legacy' | 'modern';

/** A 1x1 red PNG: the smallest real image the image scenarios can check for data and mimeType. */
const RED_PIXEL_PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';

/** 44-byte header plus one silent sample: a valid, minimal 8 kHz mono WAV. */
const SILENT_WAV = (() => {
  const data = Buffer.from([0x80]);
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVE', 8, 'ascii');
  header.write('fmt ', 12, 'ascii');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(8000, 24);
  header.writeUInt32LE(8000, 28);
  header.writeUInt16LE(1, 32);
  header.writeUInt16LE(8, 34);
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]).toString('base64');
})();

type FormSchema = ElicitRequestFormParams['requestedSchema'];

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const text = (value: string): CallToolResult => ({ content: [{ type: 'text', text: value }] });

const USER_INFO_SCHEMA: FormSchema = {
  type: 'object',
  properties: {
    username: { type: 'string', description: "User's response" },
    email: { type: 'string', description: "User's email address" },
  },
  required: ['username', 'email'],
};

const SEP1034_SCHEMA: FormSchema = {
  type: 'object',
  properties: {
    name: { type: 'string', description: 'User name', default: 'John Doe' },
    age: { type: 'integer', description: 'User age', default: 30 },
    score: { type: 'number', description: 'User score', default: 95.5 },
    status: {
      type: 'string',
      description: 'User status',
      enum: ['active', 'inactive', 'pending'],
      default: 'active',
    },
    verified: { type: 'boolean', description: 'Verification status', default: true },
  },
  required: [],
};

const SEP1330_SCHEMA: FormSchema = {
  type: 'object',
  properties: {
    untitledSingle: {
      type: 'string',
      description: 'Untitled single-select',
      enum: ['option1', 'option2', 'option3'],
    },
    titledSingle: {
      type: 'string',
      description: 'Titled single-select',
      oneOf: [
        { const: 'value1', title: 'First Option' },
        { const: 'value2', title: 'Second Option' },
        { const: 'value3', title: 'Third Option' },
      ],
    },
    legacyEnum: {
      type: 'string',
      description: 'Legacy titled enum',
      enum: ['opt1', 'opt2', 'opt3'],
      enumNames: ['Option One', 'Option Two', 'Option Three'],
    },
    untitledMulti: {
      type: 'array',
      description: 'Untitled multi-select',
      items: { type: 'string', enum: ['option1', 'option2', 'option3'] },
    },
    titledMulti: {
      type: 'array',
      description: 'Titled multi-select',
      items: {
        anyOf: [
          { const: 'value1', title: 'First Choice' },
          { const: 'value2', title: 'Second Choice' },
          { const: 'value3', title: 'Third Choice' },
        ],
      },
    },
  },
  required: [],
};

/**
 * Asks the client for form input the way the connection's era allows: a push-style
 * `elicitation/create` on 2025 connections, an `input_required` round trip on 2026-07-28.
 */
async function elicit(
  era: Era,
  ctx: ServerContext,
  params: ElicitRequestFormParams,
  done: (action: string, content: unknown) => string,
): Promise<CallToolResult> {
  if (era === 'legacy') {
    const result = await ctx.mcpReq.elicitInput(params);
    return text(done(result.action, result.content ?? {}));
  }
  const answer = inputResponse(ctx.mcpReq.inputResponses, 'form');
  if (answer.kind === 'elicit') return text(done(answer.action, answer.content ?? {}));
  return inputRequired({
    inputRequests: { form: inputRequired.elicit(params) },
  }) as unknown as CallToolResult;
}

function registerTools(server: McpServer, era: Era): void {
  server.registerTool('test_simple_text', { description: 'Returns a simple text response' }, async () =>
    text('This is a simple text response for testing.'),
  );
  server.registerTool('test_image_content', { description: 'Returns a PNG image' }, async () => ({
    content: [{ type: 'image', data: RED_PIXEL_PNG, mimeType: 'image/png' }],
  }));
  server.registerTool('test_audio_content', { description: 'Returns a WAV audio clip' }, async () => ({
    content: [{ type: 'audio', data: SILENT_WAV, mimeType: 'audio/wav' }],
  }));
  server.registerTool(
    'test_embedded_resource',
    { description: 'Returns an embedded resource' },
    async () => ({
      content: [
        {
          type: 'resource',
          resource: {
            uri: 'test://embedded-resource',
            mimeType: 'text/plain',
            text: 'This is an embedded resource content.',
          },
        },
      ],
    }),
  );
  server.registerTool(
    'test_multiple_content_types',
    { description: 'Returns text, image and resource content' },
    async () => ({
      content: [
        { type: 'text', text: 'Multiple content types test:' },
        { type: 'image', data: RED_PIXEL_PNG, mimeType: 'image/png' },
        {
          type: 'resource',
          resource: {
            uri: 'test://mixed-content-resource',
            mimeType: 'application/json',
            text: JSON.stringify({ test: 'data', value: 123 }),
          },
        },
      ],
    }),
  );
  server.registerTool(
    'test_tool_with_logging',
    { description: 'Sends three log notifications while it runs' },
    async (ctx) => {
      await ctx.mcpReq.log('info', 'Tool execution started');
      await sleep(50);
      await ctx.mcpReq.log('info', 'Tool processing data');
      await sleep(50);
      await ctx.mcpReq.log('info', 'Tool execution completed');
      return text('Tool with logging executed successfully');
    },
  );
  server.registerTool('test_error_handling', { description: 'Always fails with isError' }, async () => ({
    isError: true,
    content: [{ type: 'text', text: 'This tool intentionally returns an error for testing' }],
  }));
  server.registerTool(
    'test_tool_with_progress',
    { description: 'Reports progress 0, 50 and 100 of 100' },
    async (ctx) => {
      const progressToken = ctx.mcpReq._meta?.progressToken;
      for (const progress of [0, 50, 100]) {
        if (progressToken !== undefined) {
          await ctx.mcpReq.notify({
            method: 'notifications/progress',
            params: {
              progressToken,
              progress,
              total: 100,
              message: `Completed step ${progress / 50 + 1} of 3`,
            },
          });
        }
        if (progress < 100) await sleep(50);
      }
      return text(String(progressToken ?? 'no progress token'));
    },
  );
  server.registerTool(
    'test_sampling',
    {
      description: 'Asks the client to sample an LLM completion',
      inputSchema: z.object({ prompt: z.string().describe('The prompt to send to the LLM') }),
    },
    async ({ prompt }, ctx) => {
      const params = {
        messages: [{ role: 'user' as const, content: { type: 'text' as const, text: prompt } }],
        maxTokens: 100,
      };
      let reply: unknown;
      if (era === 'legacy') {
        reply = (await ctx.mcpReq.requestSampling(params)).content;
      } else {
        const answer = inputResponse(ctx.mcpReq.inputResponses, 'sample');
        if (answer.kind !== 'sampling') {
          return inputRequired({
            inputRequests: { sample: inputRequired.createMessage(params) },
          });
        }
        reply = answer.result.content;
      }
      const replyText =
        reply && typeof reply === 'object' && 'text' in reply ? String(reply.text) : JSON.stringify(reply);
      return text(`LLM response: ${replyText}`);
    },
  );
  server.registerTool(
    'test_elicitation',
    {
      description: 'Asks the client for a username and email',
      inputSchema: z.object({ message: z.string().describe('The message to show the user') }),
    },
    async ({ message }, ctx) =>
      elicit(
        era,
        ctx,
        { mode: 'form', message, requestedSchema: USER_INFO_SCHEMA },
        (action, content) => `User response: action=${action}, content=${JSON.stringify(content)}`,
      ),
  );
  server.registerTool(
    'test_elicitation_sep1034_defaults',
    { description: 'Elicits a form whose fields carry default values (SEP-1034)' },
    async (ctx) =>
      elicit(
        era,
        ctx,
        {
          mode: 'form',
          message: 'Please review and update the form fields with defaults',
          requestedSchema: SEP1034_SCHEMA,
        },
        (action, content) => `Elicitation completed: action=${action}, content=${JSON.stringify(content)}`,
      ),
  );
  server.registerTool(
    'test_elicitation_sep1330_enums',
    { description: 'Elicits a form with every enum variant (SEP-1330)' },
    async (ctx) =>
      elicit(
        era,
        ctx,
        {
          mode: 'form',
          message: 'Please select options from the enum fields',
          requestedSchema: SEP1330_SCHEMA,
        },
        (action, content) => `Elicitation completed: action=${action}, content=${JSON.stringify(content)}`,
      ),
  );
  server.registerTool(
    'json_schema_2020_12_tool',
    {
      description: 'Tool with JSON Schema 2020-12 features',
      inputSchema: fromJsonSchema({
        $schema: 'https://json-schema.org/draft/2020-12/schema',
        type: 'object',
        $defs: {
          address: {
            type: 'object',
            properties: { street: { type: 'string' }, city: { type: 'string' } },
          },
        },
        properties: { name: { type: 'string' }, address: { $ref: '#/$defs/address' } },
        additionalProperties: false,
      }),
    },
    async (args) => text(`JSON Schema 2020-12 tool called with: ${JSON.stringify(args)}`),
  );
  server.registerTool(
    'test_reconnection',
    { description: 'Closes its SSE stream mid-call so the client must resume with Last-Event-ID (SEP-1699)' },
    async (ctx) => {
      // Give the transport time to write the priming event before the stream is cut.
      await sleep(100);
      ctx.http?.closeSSE?.();
      await sleep(100);
      return text('Reconnection test completed successfully');
    },
  );
}

function registerResources(server: McpServer, era: Era): void {
  server.registerResource(
    'static-text',
    'test://static-text',
    { title: 'Static text', description: 'A static text resource for testing', mimeType: 'text/plain' },
    async (uri) => ({
      contents: [
        { uri: uri.href, mimeType: 'text/plain', text: 'This is the content of the static text resource.' },
      ],
    }),
  );
  server.registerResource(
    'static-binary',
    'test://static-binary',
    { title: 'Static binary', description: 'A static PNG resource for testing', mimeType: 'image/png' },
    async (uri) => ({ contents: [{ uri: uri.href, mimeType: 'image/png', blob: RED_PIXEL_PNG }] }),
  );
  server.registerResource(
    'watched-resource',
    'test://watched-resource',
    { title: 'Watched resource', description: 'A resource clients subscribe to', mimeType: 'text/plain' },
    async (uri) => ({
      contents: [{ uri: uri.href, mimeType: 'text/plain', text: 'Watched resource content' }],
    }),
  );
  server.registerResource(
    'template-data',
    new ResourceTemplate('test://template/{id}/data', {
      list: undefined,
      complete: { id: (value) => ['123', '456', '789'].filter((id) => id.startsWith(value)) },
    }),
    {
      title: 'Template data',
      description: 'A resource template with an id parameter',
      mimeType: 'application/json',
    },
    async (uri, variables) => {
      const id = String(variables.id);
      return {
        contents: [
          {
            uri: uri.href,
            mimeType: 'application/json',
            text: JSON.stringify({ id, templateTest: true, data: `Data for ID: ${id}` }),
          },
        ],
      };
    },
  );
  if (era === 'legacy') {
    // 2025-era subscriptions; the 2026-07-28 revision replaces them with subscriptions/listen.
    const subscribed = new Set<string>();
    server.server.setRequestHandler('resources/subscribe', async (request) => {
      subscribed.add(request.params.uri);
      return {};
    });
    server.server.setRequestHandler('resources/unsubscribe', async (request) => {
      subscribed.delete(request.params.uri);
      return {};
    });
  }
}

function registerPrompts(server: McpServer): void {
  server.registerPrompt('test_simple_prompt', { description: 'A prompt without arguments' }, () => ({
    messages: [{ role: 'user', content: { type: 'text', text: 'This is a simple prompt for testing.' } }],
  }));
  server.registerPrompt(
    'test_prompt_with_arguments',
    {
      description: 'A prompt with two required arguments',
      argsSchema: z.object({
        arg1: completable(z.string().describe('First test argument'), (value) =>
          ['paris', 'park', 'party', 'test', 'testing'].filter((word) => word.startsWith(value)),
        ),
        arg2: z.string().describe('Second test argument'),
      }),
    },
    ({ arg1, arg2 }) => ({
      messages: [
        {
          role: 'user',
          content: { type: 'text', text: `Prompt with arguments: arg1='${arg1}', arg2='${arg2}'` },
        },
      ],
    }),
  );
  server.registerPrompt(
    'test_prompt_with_embedded_resource',
    {
      description: 'A prompt that embeds a resource',
      argsSchema: z.object({ resourceUri: z.string().describe('URI of the resource to embed') }),
    },
    ({ resourceUri }) => ({
      messages: [
        {
          role: 'user',
          content: {
            type: 'resource',
            resource: {
              uri: resourceUri,
              mimeType: 'text/plain',
              text: 'Embedded resource content for testing.',
            },
          },
        },
        { role: 'user', content: { type: 'text', text: 'Please process the embedded resource above.' } },
      ],
    }),
  );
  server.registerPrompt('test_prompt_with_image', { description: 'A prompt with an image' }, () => ({
    messages: [
      { role: 'user', content: { type: 'image', data: RED_PIXEL_PNG, mimeType: 'image/png' } },
      { role: 'user', content: { type: 'text', text: 'Please analyze the image above.' } },
    ],
  }));
}

/** Builds one fixture server instance for the given protocol era. */
export function createFixtureServer(era: Era): McpServer {
  const server = new McpServer(
    { name: 'gatehouse-conformance-fixture', version: '1.0.0' },
    {
      capabilities: {
        tools: { listChanged: true },
        resources: era === 'legacy' ? { subscribe: true, listChanged: true } : { listChanged: true },
        prompts: { listChanged: true },
        logging: {},
        completions: {},
      },
    },
  );
  registerTools(server, era);
  registerResources(server, era);
  registerPrompts(server);
  return server;
}

/** Keeps every event of a session so a client that lost its stream can resume with Last-Event-ID. */
class MemoryEventStore implements EventStore {
  private readonly events = new Map<string, { streamId: string; message: JSONRPCMessage }>();
  private seq = 0;

  async storeEvent(streamId: string, message: JSONRPCMessage): Promise<string> {
    const eventId = `${streamId}_${String(++this.seq).padStart(10, '0')}`;
    this.events.set(eventId, { streamId, message });
    return eventId;
  }

  async getStreamIdForEventId(eventId: string): Promise<string | undefined> {
    return this.events.get(eventId)?.streamId;
  }

  async replayEventsAfter(
    lastEventId: string,
    { send }: { send: (eventId: string, message: JSONRPCMessage) => Promise<void> },
  ): Promise<string> {
    const streamId = this.events.get(lastEventId)?.streamId;
    if (streamId === undefined) return '';
    for (const [eventId, event] of this.events) {
      if (event.streamId === streamId && eventId > lastEventId) await send(eventId, event.message);
    }
    return streamId;
  }
}

/** A fixture listening on loopback. */
export interface RunningFixture {
  /** The MCP endpoint, e.g. `http://127.0.0.1:41234/mcp`. */
  url: string;
  close(): Promise<void>;
}

function jsonRpcError(status: number, message: string, code = -32000): Response {
  return Response.json({ jsonrpc: '2.0', id: null, error: { code, message } }, { status });
}

/**
 * Starts the fixture over Streamable HTTP on loopback (`port` 0 picks a free one).
 * Host and Origin are checked against loopback names, as the DNS rebinding scenario expects.
 */
export async function startFixtureHttp(port = 0, host = '127.0.0.1'): Promise<RunningFixture> {
  const sessions = new Map<string, WebStandardStreamableHTTPServerTransport>();
  const modern = createMcpHandler(() => createFixtureServer('modern'), { legacy: 'reject' });

  const route = async (request: Request): Promise<Response> => {
    const rejected =
      hostHeaderValidationResponse(request, localhostAllowedHostnames()) ??
      originValidationResponse(request, localhostAllowedOrigins());
    if (rejected) return rejected;
    if (new URL(request.url).pathname !== '/mcp') return new Response('Not found', { status: 404 });

    const sessionId = request.headers.get('mcp-session-id');
    if (sessionId !== null) {
      const transport = sessions.get(sessionId);
      return transport ? transport.handleRequest(request) : jsonRpcError(404, 'Session not found');
    }
    if (!(await isLegacyRequest(request))) return modern.fetch(request);
    if (request.method !== 'POST') return jsonRpcError(400, 'Bad Request: Mcp-Session-Id header is required');

    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      eventStore: new MemoryEventStore(),
      retryInterval: 500,
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
    await createFixtureServer('legacy').connect(transport);
    return transport.handleRequest(request);
  };

  const urlHost = host.includes(':') ? `[${host}]` : host;
  const listener = getRequestListener(
    (request) => route(request).catch((error: unknown) => jsonRpcError(500, String(error), -32603)),
    // startFixtureHttp also runs inside the conformance test process next to the gateway,
    // whose Request and Response must stay Node's own; by default the adapter swaps in its own.
    // `hostname` only stands in for a missing Host header.
    { overrideGlobalObjects: false, hostname: `${urlHost}:${port}` },
  );
  // The listener answers every failure itself (a 500), so its promise never needs handling.
  const server = http.createServer((req, res) => void listener(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${urlHost}:${address.port}/mcp`,
    close: async () => {
      await Promise.allSettled([...sessions.values()].map((t) => t.close()));
      await modern.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function argValue(args: string[], flag: string): string | undefined {
  const index = args.indexOf(flag);
  return index >= 0 ? args[index + 1] : undefined;
}

async function main(args: string[]): Promise<void> {
  if (args.includes('--stdio')) {
    const handle = serveStdio(({ era }) => createFixtureServer(era));
    process.stdin.on('end', () => {
      handle.close().catch(() => undefined);
    });
    return;
  }
  const fixture = await startFixtureHttp(Number(argValue(args, '--port') ?? 0), argValue(args, '--host'));
  process.stdout.write(`${fixture.url}\n`);
  const stop = () => {
    fixture.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
