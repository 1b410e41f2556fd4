import { randomUUID } from 'node:crypto';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Redis } from 'ioredis';
import { createScratchDatabase, DEFAULT_SERVER_URL, type ScratchDatabase } from '@gatehouse/db';
import { demoUpstreamsYaml, initializeBody, rawPost } from './helpers';
import { spawnGateway, type GatewayProcess } from './processes';

/**
 * Two gateway processes share one Redis and no stickiness: a session created on one is served by
 * the other, per-session upstreams are re-established on whichever replica gets the request, and
 * server-to-client requests find their way back across replicas.
 */
describe('any replica serves any session', () => {
  const prefix = `test-${randomUUID()}:`;
  let a: GatewayProcess;
  let b: GatewayProcess;
  let db: ScratchDatabase;

  beforeAll(async () => {
    // Both replicas share one real Postgres database and one Redis, as in production.
    db = await createScratchDatabase(DEFAULT_SERVER_URL, 'gatehouse_e2e');
    const yaml = `redis:\n  url: redis://127.0.0.1:6379\n  keyPrefix: "${prefix}"\nlog:\n  level: warn\n${demoUpstreamsYaml('per-session')}`;
    [a, b] = await Promise.all([
      spawnGateway(yaml, { DATABASE_URL: db.url }),
      spawnGateway(yaml, { DATABASE_URL: db.url }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    const redis = new Redis('redis://127.0.0.1:6379');
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await db?.drop();
  });

  it('alternates the requests of one session between two processes', async () => {
    const init = await rawPost(`${a.url}/mcp`, initializeBody());
    const session = init.headers.get('mcp-session-id') as string;
    const call = (url: string, id: number, message: string) =>
      rawPost(
        `${url}/mcp`,
        JSON.stringify({
          jsonrpc: '2.0',
          id,
          method: 'tools/call',
          params: { name: 'everything__echo', arguments: { message } },
        }),
        { 'mcp-session-id': session },
      );
    for (let i = 0; i < 6; i++) {
      const replica = i % 2 === 0 ? b : a;
      const res = await call(replica.url, i + 2, `hop ${i}`);
      expect(res.status).toBe(200);
      expect(res.json.result.content[0].text).toBe(`Echo: hop ${i}`);
    }
  });

  it('routes a sampling request raised on one replica back through the other', async () => {
    // Every tools/call goes to replica A, and every answer the client POSTs back (a JSON-RPC
    // response to the gateway's sampling request) goes to replica B, so the answer must cross
    // replicas to reach the upstream that asked; everything else alternates.
    let turn = 0;
    let crossed = 0;
    const routed: typeof fetch = (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      const body = typeof init?.body === 'string' ? init.body : '';
      let replica = turn++ % 2 === 0 ? a : b;
      if (body.includes('"method":"tools/call"')) replica = a;
      if (/"id":"gh-[0-9a-f]{12}-\d+"/.test(body) && body.includes('"result"')) {
        replica = b;
        crossed++;
      }
      url.host = new URL(replica.url).host;
      return fetch(url, init);
    };
    const client = new Client({ name: 'two-replica', version: '1.0.0' }, { capabilities: { sampling: {} } });
    client.setRequestHandler('sampling/createMessage', async () => ({
      model: 'test',
      role: 'assistant',
      content: { type: 'text', text: 'answered across replicas' },
    }));
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${a.url}/mcp/servers/everything`), { fetch: routed }),
    );
    try {
      for (let i = 0; i < 2; i++) {
        const result = await client.callTool({
          name: 'trigger-sampling-request',
          arguments: { prompt: 'hi', maxTokens: 5 },
        });
        expect(JSON.stringify(result.content)).toMatch(/answered across replicas/);
      }
      expect(crossed).toBe(2);
      const echo = await client.callTool({ name: 'echo', arguments: { message: 'still one session' } });
      expect(echo.content).toEqual([{ type: 'text', text: 'Echo: still one session' }]);
    } finally {
      await client.close();
    }
  });

  it('ends the session everywhere when it is deleted on one replica', async () => {
    const init = await rawPost(`${b.url}/mcp`, initializeBody());
    const session = init.headers.get('mcp-session-id') as string;
    const del = await fetch(`${a.url}/mcp`, { method: 'DELETE', headers: { 'mcp-session-id': session } });
    expect(del.status).toBe(204);
    const after = await rawPost(`${b.url}/mcp`, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }), {
      'mcp-session-id': session,
    });
    expect(after.status).toBe(404);
  });
});
