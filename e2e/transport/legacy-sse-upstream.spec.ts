import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { z } from 'zod';
import type { RunningGateway } from '../../apps/gateway/src/bootstrap';
import { gatewayWith, initializeBody, rawPost } from './helpers';

/**
 * An upstream that only speaks the 2024-11-05 HTTP+SSE transport (the v1 SDK's SSEServerTransport,
 * still deployed widely): the gateway's Streamable HTTP attempt is refused and it falls back.
 */
function legacySseServer(): Promise<Server> {
  const transports = new Map<string, SSEServerTransport>();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method === 'GET' && url.pathname === '/sse') {
      const transport = new SSEServerTransport('/messages', res);
      transports.set(transport.sessionId, transport);
      res.on('close', () => transports.delete(transport.sessionId));
      const mcp = new McpServer({ name: 'legacy-sse', version: '1.0.0' });
      mcp.registerTool('shout', { inputSchema: { text: z.string() } }, async ({ text }) => ({
        content: [{ type: 'text', text: text.toUpperCase() }],
      }));
      void mcp.connect(transport);
      return;
    }
    if (req.method === 'POST' && url.pathname === '/messages') {
      const transport = transports.get(url.searchParams.get('sessionId') ?? '');
      if (transport) return void transport.handlePostMessage(req, res);
    }
    res.writeHead(405).end();
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

describe('legacy HTTP+SSE upstream', () => {
  let upstream: Server;
  let gw: RunningGateway & { logs: string[] };

  beforeAll(async () => {
    upstream = await legacySseServer();
    const { port } = upstream.address() as AddressInfo;
    gw = await gatewayWith(`upstreams:
  old:
    transport: http
    url: http://127.0.0.1:${port}/sse
`);
  });
  afterAll(async () => {
    await gw.close();
    upstream.closeAllConnections();
    await new Promise((ok) => upstream.close(ok));
  });

  it('falls back from Streamable HTTP to HTTP+SSE and serves calls through it', async () => {
    const url = `${gw.url}/mcp/servers/old`;
    const init = await rawPost(url, initializeBody());
    expect(init.json.result.serverInfo.name).toBe('legacy-sse');
    const session = init.headers.get('mcp-session-id') as string;
    const res = await rawPost(
      url,
      JSON.stringify({
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'shout', arguments: { text: 'hello' } },
      }),
      { 'mcp-session-id': session },
    );
    expect(res.json.result.content[0].text).toBe('HELLO');
    expect(gw.logs.join('')).toMatch(/using legacy HTTP\+SSE/);
  });
});
