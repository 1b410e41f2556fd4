import type { RunningGateway } from '../../apps/gateway/src/bootstrap';
import { demoUpstreamsYaml, gatewayWith, initializeBody, rawPost } from './helpers';

/** R7, R13, R37–R39 and the session rules, with raw HTTP against a real gateway and real upstreams. */
describe('front door', () => {
  let gw: RunningGateway;
  let mcp: string;
  let session: string;

  beforeAll(async () => {
    gw = await gatewayWith(`${demoUpstreamsYaml('shared')}\n`);
    mcp = `${gw.url}/mcp`;
    const init = await rawPost(mcp, initializeBody());
    session = init.headers.get('mcp-session-id') as string;
  });
  afterAll(async () => gw.close());

  it('issues a session id of at least 128 random bits on initialize', async () => {
    const a = await rawPost(mcp, initializeBody());
    expect(a.status).toBe(200);
    const id = a.headers.get('mcp-session-id') as string;
    expect(Buffer.from(id, 'base64url').length).toBeGreaterThanOrEqual(16);
    expect(id).not.toBe(session);
    expect(a.json.result.protocolVersion).toBe('2025-06-18');
  });

  it('answers an unknown protocol version in initialize with the newest legacy revision', async () => {
    const res = await rawPost(mcp, initializeBody(1, '1999-01-01'));
    expect(res.json.result.protocolVersion).toBe('2025-11-25');
  });

  it('R37: refuses a body one byte over the limit with 413 and a JSON-RPC error', async () => {
    const limit = 4 * 1024 * 1024;
    const padding = 'x'.repeat(limit + 1 - 60);
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping', params: { padding } });
    const res = await rawPost(mcp, body.padEnd(limit + 1, ' '), { 'mcp-session-id': session });
    expect(res.status).toBe(413);
    expect(res.json.error.code).toBe(-32600);
    expect(res.json.error.message).toMatch(/exceeds 4194304 bytes/);
  });

  it('R38: invalid JSON gets -32700 with the reason', async () => {
    const res = await rawPost(mcp, '{"jsonrpc": "2.0", "id": 1,', { 'mcp-session-id': session });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe(-32700);
    expect(res.json.error.message).toMatch(/not valid JSON/);
  });

  it.each([
    ['a missing jsonrpc member', { id: 1, method: 'ping' }],
    ['a null id', { jsonrpc: '2.0', id: null, method: 'ping' }],
    ['array params', { jsonrpc: '2.0', id: 1, method: 'ping', params: [] }],
    ['neither method nor result', { jsonrpc: '2.0', id: 1 }],
  ])('R38: %s gets -32600', async (_name, body) => {
    const res = await rawPost(mcp, JSON.stringify(body), { 'mcp-session-id': session });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe(-32600);
  });

  it('R38: refuses a message nested deeper than the cap', async () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 100; i++) deep = { d: deep };
    const res = await rawPost(
      mcp,
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { deep } }),
      {
        'mcp-session-id': session,
      },
    );
    expect(res.json.error.code).toBe(-32600);
    expect(res.json.error.message).toMatch(/deeper than 64/);
  });

  it('R39: rejects batches, the empty one included', async () => {
    for (const body of ['[]', JSON.stringify([{ jsonrpc: '2.0', id: 1, method: 'ping' }])]) {
      const res = await rawPost(mcp, body, { 'mcp-session-id': session });
      expect(res.status).toBe(400);
      expect(res.json.error.code).toBe(-32600);
      expect(res.json.error.message).toMatch(/batches are not supported/);
    }
  });

  it('answers an unknown method on the aggregated endpoint with -32601 and where to go instead', async () => {
    // Every 2025 client method is served here since 13.3 (tasks/*), and methods outside the
    // negotiated revision are refused earlier (13.8); 2026-07-28's subscriptions/listen is a real
    // method that only the pass-through endpoints serve.
    const res = await rawPost(
      mcp,
      JSON.stringify({
        jsonrpc: '2.0',
        id: 7,
        method: 'subscriptions/listen',
        params: { notifications: {}, _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' } },
      }),
    );
    expect(res.json.id).toBe(7);
    expect(res.json.error.code).toBe(-32601);
    expect(res.json.error.message).toMatch(/\/mcp\/servers/);
  });

  it('R7: refuses a foreign Origin with 403 and accepts the gateway’s own', async () => {
    const evil = await rawPost(mcp, initializeBody(), { origin: 'https://evil.example' });
    expect(evil.status).toBe(403);
    expect(evil.json.error.message).toMatch(/Origin/);
    const own = await rawPost(mcp, initializeBody(), { origin: gw.url });
    expect(own.status).toBe(200);
  });

  it('R7: refuses a Host it does not serve (DNS rebinding) with 403', async () => {
    const { request } = await import('node:http');
    const url = new URL(mcp);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: '/mcp',
          method: 'POST',
          headers: { host: 'rebind.attacker.example', 'content-type': 'application/json' },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end(initializeBody());
    });
    expect(status).toBe(403);
  });

  it('R13: a Mcp-Method header that disagrees with the body gets 400 and nothing is forwarded', async () => {
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: 3,
      method: 'tools/call',
      params: { name: 'everything__echo', arguments: { message: 'x' } },
    });
    const res = await rawPost(mcp, body, { 'mcp-session-id': session, 'mcp-method': 'tools/list' });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe(-32020);
    expect(res.json.id).toBe(3);
    const name = await rawPost(mcp, body, { 'mcp-session-id': session, 'mcp-name': 'memory__read_graph' });
    expect(name.status).toBe(400);
  });

  it('requires a session for legacy requests and answers 404 for an unknown one', async () => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    expect((await rawPost(mcp, body)).status).toBe(400);
    const unknown = await rawPost(mcp, body, { 'mcp-session-id': 'not-a-session' });
    expect(unknown.status).toBe(404);
    expect(unknown.json.error.message).toMatch(/initialize a new session/);
  });

  it('does not accept a session on another endpoint than the one that created it', async () => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    const res = await rawPost(`${gw.url}/mcp/servers/memory`, body, { 'mcp-session-id': session });
    expect(res.status).toBe(404);
  });

  it('answers 404 for a passthrough server that is not configured', async () => {
    const res = await rawPost(`${gw.url}/mcp/servers/nope`, initializeBody());
    expect(res.status).toBe(404);
    expect(res.json.error.message).toMatch(/no upstream server named "nope"/);
  });

  it('ends a session on DELETE, after which it is unknown', async () => {
    const init = await rawPost(mcp, initializeBody());
    const id = init.headers.get('mcp-session-id') as string;
    const del = await fetch(mcp, { method: 'DELETE', headers: { 'mcp-session-id': id } });
    expect(del.status).toBe(204);
    const after = await rawPost(mcp, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }), {
      'mcp-session-id': id,
    });
    expect(after.status).toBe(404);
  });

  it('keeps serving after all of the above', async () => {
    const res = await rawPost(
      mcp,
      JSON.stringify({
        jsonrpc: '2.0',
        id: 9,
        method: 'tools/call',
        params: { name: 'everything__echo', arguments: { message: 'still here' } },
      }),
      {
        'mcp-session-id': session,
      },
    );
    expect(res.json.result.content[0].text).toBe('Echo: still here');
  });
});
