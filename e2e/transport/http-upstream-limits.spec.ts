import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RunningGateway } from '../../apps/gateway/src/bootstrap';
import { gatewayWith, initializeBody, rawPost } from './helpers';

/**
 * A hand-written Streamable HTTP upstream that misbehaves on the wire in ways no SDK server
 * would (that is the point): an event with no end, an endless stream, a silent stream.
 */
function unrulyHttpUpstream(): Promise<Server> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'DELETE') return void res.writeHead(200).end();
    if (req.method !== 'POST') return void res.writeHead(405).end();
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const msg = JSON.parse(body) as {
        id?: number;
        method?: string;
        params?: { name?: string; protocolVersion?: string };
      };
      if (msg.id === undefined) return void res.writeHead(202).end();
      const json = (result: unknown) =>
        res
          .writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'raw-1' })
          .end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result }));
      if (msg.method === 'initialize') {
        return json({
          protocolVersion: msg.params?.protocolVersion,
          capabilities: { tools: {} },
          serverInfo: { name: 'raw', version: '1' },
        });
      }
      if (msg.method !== 'tools/call') return json({});
      const name = msg.params?.name;
      if (name === 'ok') return json({ content: [{ type: 'text', text: 'fine' }] });
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.flushHeaders();
      const chunk = 'x'.repeat(64 * 1024);
      if (name === 'endless-event') {
        res.write('event: message\ndata: ');
        const timer = setInterval(() => (res.destroyed ? clearInterval(timer) : res.write(chunk)), 1);
      } else if (name === 'endless-stream') {
        const event = `event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: chunk } })}\n\n`;
        const timer = setInterval(() => (res.destroyed ? clearInterval(timer) : res.write(event)), 1);
      }
      // 'silent': headers only, then nothing.
    });
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

describe('R40: caps on what an HTTP upstream may stream', () => {
  let upstream: Server;
  let gw: RunningGateway;
  let session: string;
  const call = (id: number, name: string) =>
    rawPost(
      `${gw.url}/mcp/servers/raw`,
      JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: {} } }),
      {
        'mcp-session-id': session,
      },
    );

  beforeAll(async () => {
    upstream = await unrulyHttpUpstream();
    const port = (upstream.address() as AddressInfo).port;
    gw = await gatewayWith(`upstreams:
  raw:
    transport: http
    url: http://127.0.0.1:${port}/mcp
    sharing: shared
    protocol: legacy
    limits: { maxMessageBytes: 1048576, maxStreamBytes: 4194304, idleMs: 1000 }
    timeouts: { requestMs: 20000 }
`);
    session = (await rawPost(`${gw.url}/mcp/servers/raw`, initializeBody())).headers.get(
      'mcp-session-id',
    ) as string;
  });
  afterAll(async () => {
    await gw.close();
    upstream.closeAllConnections();
    await new Promise((ok) => upstream.close(ok));
  });

  it('cuts off an event that grows past maxMessageBytes without an end', async () => {
    const res = await call(1, 'endless-event');
    expect(res.json.error.message).toMatch(
      /cut off: upstream sent more than 1048576 bytes without a message boundary/,
    );
  });

  it('cuts off a stream that passes maxStreamBytes', async () => {
    const res = await call(2, 'endless-stream');
    expect(res.json.error.message).toMatch(/cut off: upstream stream exceeded 4194304 bytes/);
  });

  it('cuts off a response stream that stays silent past idleMs', async () => {
    const res = await call(3, 'silent');
    expect(res.json.error.message).toMatch(/cut off: upstream stream idle for more than 1000 ms/);
  });

  it('keeps serving that upstream afterwards', async () => {
    const res = await call(4, 'ok');
    expect(res.json.result.content[0].text).toBe('fine');
  });
});
