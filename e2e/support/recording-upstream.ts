import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

/** A real MCP server over Streamable HTTP that records every request's headers. */
export async function recordingUpstream(): Promise<{
  server: Server;
  url: string;
  requests: IncomingHttpHeaders[];
  calls: number[];
}> {
  const requests: IncomingHttpHeaders[] = [];
  const calls: number[] = [];
  const server = createServer((req, res) => {
    requests.push(req.headers);
    const mcp = new McpServer({ name: 'recorder', version: '1.0.0' });
    mcp.registerTool('echo', { inputSchema: { text: z.string() } }, async ({ text }) => {
      calls.push(Date.now());
      return { content: [{ type: 'text', text }] };
    });
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => void transport.close());
    void mcp.connect(transport).then(() => transport.handleRequest(req, res));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`, requests, calls };
}
