import { readFileSync } from 'node:fs';
import { request as httpRequest, createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CALL_STAGES, McpGateway, type CallContext, type CallStage } from '@gatehouse/transport';
import type { RunningGateway } from '../../apps/gateway/src/bootstrap';
import { AggregateRouter } from '../../libs/transport/src/router';
import { UpstreamConnection } from '../../libs/transport/src/upstream/upstream-connection';
import { devUserToken } from '../support/dev-idp';
import { policyWorld, type PolicyWorld } from '../support/policy-world';
import { waitFor } from '../support/wait-for';
import { demoUpstreamsYaml, gatewayWith, initializeBody, rawPost } from '../transport/helpers';
import { spawnGateway, type GatewayProcess } from '../transport/processes';

const MODERN = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' };

/** A POST that fails the test instead of waiting for ever when the gateway never answers. */
async function answered(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    signal: AbortSignal.timeout(10_000),
    headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  }).catch((err: unknown) => {
    throw new Error(`no answer to ${JSON.stringify(body).slice(0, 200)}: ${String(err)}`);
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

/** A request with an arbitrary Host header (fetch does not let a caller set one). */
function withHost(
  base: string,
  path: string,
  host: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, path, method: 'GET', headers: { ...headers, host } },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/**
 * A call stage the test inserts into the real gateway's pipeline (through the public
 * CALL_STAGES token), throwing wherever the test says: this is fault injection into a real
 * gateway, not a stand-in for any part of it.
 */
class FaultStage implements CallStage {
  readonly name = 'test-fault';
  fault: { step: 'before' | 'result' | 'after'; how: 'throw' | 'reject' | 'non-error' } | undefined;

  private raise(step: 'before' | 'result' | 'after'): Promise<void> | undefined {
    const f = this.fault;
    if (f?.step !== step) return undefined;
    if (f.how === 'reject') return Promise.reject(new Error(`test fault: ${step} rejected`));
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- the point: a thrown non-Error
    if (f.how === 'non-error') throw null;
    throw new TypeError(`test fault: ${step} threw`);
  }

  before(_call: CallContext): Promise<void> {
    return this.raise('before') ?? Promise.resolve();
  }

  result(_call: CallContext, result: Record<string, unknown>): Record<string, unknown> {
    void this.raise('result');
    return result;
  }

  after(_call: CallContext): Promise<void> {
    return this.raise('after') ?? Promise.resolve();
  }
}

describe('13.9 R38: no request is left without an answer', () => {
  let gw: RunningGateway & { logs: string[] };
  let gateway: McpGateway;
  let mcp: string;
  let session: string;
  const first = new FaultStage();
  const last = new FaultStage();
  let nextId = 100;

  beforeAll(async () => {
    // One call in flight per principal: a slot an exception leaks shows up as -32029 on the next call.
    gw = await gatewayWith(
      `rateLimit:\n  perUserPerMinute: 100000\n  perToolPerMinute: 100000\n  inFlightPerUser: 1\n${demoUpstreamsYaml('shared')}`,
    );
    gateway = gw.app.get(McpGateway, { strict: false });
    const stages = gw.app.get<symbol, CallStage[]>(CALL_STAGES, { strict: false });
    // First: a throwing `after` must not stop the rate limit's release behind it. Last: a
    // throwing `before` comes after the rate limit took its slot.
    stages.unshift(first);
    stages.push(last);
    mcp = `${gw.url}/mcp`;
    session = (await rawPost(mcp, initializeBody())).headers.get('mcp-session-id') as string;
  });
  afterAll(async () => gw.close());
  afterEach(() => {
    first.fault = undefined;
    last.fault = undefined;
    jest.restoreAllMocks();
  });

  const echo = (message: string) => ({
    jsonrpc: '2.0',
    id: ++nextId,
    method: 'tools/call',
    params: { name: 'everything__echo', arguments: { message } },
  });

  /** Nothing stays in flight, and the rate limit's one slot is free again (nothing leaked). */
  async function settled(): Promise<void> {
    first.fault = undefined;
    last.fault = undefined;
    jest.restoreAllMocks();
    await waitFor('no call in flight', () => gateway.inflightCount() === 0, 5_000);
    const next = await answered(mcp, echo('after'), { 'mcp-session-id': session });
    expect(next.json.error).toBeUndefined();
    expect(next.json.result.content[0].text).toBe('Echo: after');
  }

  it.each([
    ['null', null],
    ['a string', 'x'],
    ['an array', []],
    ['a number', 7],
  ])(
    '13.9: params._meta as %s gets -32602 with the reason on every method, in both eras',
    async (_label, meta) => {
      const bodies = [
        {
          method: 'tools/call',
          params: { name: 'everything__echo', arguments: { message: 'x' }, _meta: meta },
        },
        { method: 'tools/list', params: { _meta: meta } },
        { method: 'resources/list', params: { _meta: meta } },
        {
          method: 'resources/read',
          params: { uri: 'everything+demo://resource/static/document/a.md', _meta: meta },
        },
        { method: 'ping', params: { _meta: meta } },
      ];
      for (const body of bodies) {
        for (const headers of [{ 'mcp-session-id': session }, {}] as Array<Record<string, string>>) {
          const id = ++nextId;
          const res = await answered(mcp, { jsonrpc: '2.0', id, ...body }, headers);
          expect(res.json).toMatchObject({
            id,
            error: { code: -32602, data: { reason: 'INVALID_PARAMS' } },
          });
          expect(res.json.error.message).toMatch(/_meta/);
        }
      }
      await settled();
    },
  );

  it.each([
    [
      'tools/call arguments that are not an object',
      { method: 'tools/call', params: { name: 'everything__echo', arguments: 'x' } },
      /arguments/,
    ],
    ['a tools/call name that is not a string', { method: 'tools/call', params: { name: 5 } }, /name/],
    [
      'a progress token that is an object',
      { method: 'tools/list', params: { _meta: { progressToken: {} } } },
      /progressToken/,
    ],
    ['a cursor that is a number', { method: 'tools/list', params: { cursor: 5 } }, /cursor/],
    ['a resource URI that is a number', { method: 'resources/read', params: { uri: 5 } }, /uri/],
    ['a log level that does not exist', { method: 'logging/setLevel', params: { level: 'loud' } }, /level/],
    [
      'a completion without its argument',
      {
        method: 'completion/complete',
        params: { ref: { type: 'ref/prompt', name: 'everything__simple-prompt' } },
      },
      /argument/,
    ],
    [
      'initialize with capabilities as a string',
      {
        method: 'initialize',
        params: {
          protocolVersion: '2025-06-18',
          capabilities: 'all',
          clientInfo: { name: 'x', version: '1' },
        },
      },
      /capabilities/,
    ],
  ])('13.9: %s gets -32602 naming the member, and nothing waits', async (_label, body, member) => {
    const id = ++nextId;
    const res = await answered(mcp, { jsonrpc: '2.0', id, ...body }, { 'mcp-session-id': session });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ id, error: { code: -32602, data: { reason: 'INVALID_PARAMS' } } });
    expect(res.json.error.message).toMatch(member);
    await settled();
  });

  it('13.9: a notification with a malformed _meta gets 400 and the reason, not a 500', async () => {
    const res = await answered(
      mcp,
      { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1, _meta: null } },
      { 'mcp-session-id': session },
    );
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ code: -32602, data: { reason: 'INVALID_PARAMS' } });
  });

  type Fault = () => void;
  const faults: Array<[string, Fault, 'error' | 'ok']> = [
    [
      'routing',
      () =>
        jest.spyOn(AggregateRouter, 'route').mockImplementationOnce(() => {
          throw new TypeError('test fault: routing threw');
        }),
      'error',
    ],
    ['a stage before (thrown)', () => (last.fault = { step: 'before', how: 'throw' }), 'error'],
    ['a stage before (rejected)', () => (last.fault = { step: 'before', how: 'reject' }), 'error'],
    ['a stage before (a thrown null)', () => (last.fault = { step: 'before', how: 'non-error' }), 'error'],
    [
      'forward (thrown by the upstream request)',
      () =>
        jest.spyOn(UpstreamConnection.prototype, 'request').mockImplementationOnce(() => {
          throw new TypeError('test fault: forward threw');
        }),
      'error',
    ],
    ['a stage result', () => (last.fault = { step: 'result', how: 'throw' }), 'error'],
    ['a stage after (thrown)', () => (first.fault = { step: 'after', how: 'throw' }), 'ok'],
    ['a stage after (rejected)', () => (first.fault = { step: 'after', how: 'reject' }), 'ok'],
    ['a stage after (a thrown null)', () => (first.fault = { step: 'after', how: 'non-error' }), 'ok'],
  ];

  it.each(faults)(
    '13.9: an exception in %s still answers the call and frees its slots',
    async (_step, inject, expected) => {
      inject();
      const body = echo('fault');
      const res = await answered(mcp, body, { 'mcp-session-id': session });
      expect(res.json.id).toBe(body.id);
      if (expected === 'ok') {
        expect(res.json.result.content[0].text).toBe('Echo: fault');
      } else {
        expect(res.json.error.code).toBe(-32603);
        expect(res.json.error.message.length).toBeGreaterThan(10);
      }
      await settled();
    },
  );

  it('13.9: an exception in an aggregated list walk or before dispatch is answered with its id and logged', async () => {
    jest.spyOn(AggregateRouter, 'list').mockImplementationOnce(() => {
      throw new TypeError('test fault: list threw');
    });
    const list = await answered(
      mcp,
      { jsonrpc: '2.0', id: 'l1', method: 'tools/list' },
      { 'mcp-session-id': session },
    );
    expect(list.json).toMatchObject({ id: 'l1', error: { code: -32603 } });

    // Before dispatch: the session lookup itself throws something that is not a gateway error.
    jest.spyOn(UpstreamConnection.prototype, 'info').mockImplementationOnce(() => {
      throw new TypeError('test fault: initialize threw');
    });
    const init = await answered(`${gw.url}/mcp/servers/everything`, initializeBody(77));
    expect(init.json.id).toBe(77);
    expect(init.json.error.code).toBe(-32603);
    const errorId = init.json.error.data.errorId as string;
    expect(errorId).toMatch(/^[0-9a-f]{16}$/);
    expect(gw.logs.some((l) => l.includes(errorId) && l.includes('test fault: initialize threw'))).toBe(true);
    await settled();
  });
});

describe('13.8: the gateway answers -32601 for methods it does not serve, and forwards nothing', () => {
  let gw: RunningGateway & { logs: string[] };
  let recorder: Server;
  const seen: string[] = [];

  beforeAll(async () => {
    // A real MCP server (the SDK's) that records every method it receives.
    recorder = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body =
          chunks.length > 0
            ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { method?: string })
            : undefined;
        if (body?.method) seen.push(body.method);
        const server = new McpServer({ name: 'recorder', version: '1.0.0' });
        server.registerTool('noop', {}, async () => ({ content: [{ type: 'text', text: 'ok' }] }));
        const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
        res.on('close', () => void transport.close());
        void server.connect(transport).then(() => transport.handleRequest(req, res, body));
      });
    });
    await new Promise<void>((ok) => recorder.listen(0, '127.0.0.1', ok));
    const url = `http://127.0.0.1:${(recorder.address() as AddressInfo).port}/mcp`;
    gw = await gatewayWith(`upstreams:
  rec:
    transport: http
    url: ${url}
    sharing: shared
  ext:
    transport: http
    url: ${url}
    sharing: shared
    extensionMethods: [acme/frobnicate]
`);
  });
  afterAll(async () => {
    await gw.close();
    await new Promise((ok) => recorder.close(ok));
  });

  const passthrough = async (server: string, method: string, modern: boolean) => {
    const headers: Record<string, string> = {};
    if (!modern) {
      const init = await rawPost(`${gw.url}/mcp/servers/${server}`, initializeBody());
      headers['mcp-session-id'] = init.headers.get('mcp-session-id') as string;
    }
    return answered(
      `${gw.url}/mcp/servers/${server}`,
      { jsonrpc: '2.0', id: 5, method, params: modern ? { _meta: MODERN } : {} },
      headers,
    );
  };

  it.each([
    ['an invented method, 2025 session', 'acme/frobnicate', false],
    ['an invented method, 2026-07-28', 'acme/frobnicate', true],
    ['a 2026-only method on a 2025 session', 'subscriptions/listen', false],
    ['a 2025-only method in 2026-07-28', 'resources/subscribe', true],
    ['a server-to-client method sent by a client', 'sampling/createMessage', false],
  ])('13.8: %s gets -32601 from the gateway itself', async (_label, method, modern) => {
    seen.length = 0;
    const res = await passthrough('rec', method, modern);
    expect(res.json).toMatchObject({ id: 5, error: { code: -32601, data: { reason: 'METHOD_NOT_FOUND' } } });
    expect(res.json.error.message).toContain(method);
    expect(seen).not.toContain(method);
  });

  it('13.8: an extension method an administrator listed for the server is forwarded', async () => {
    seen.length = 0;
    const res = await passthrough('ext', 'acme/frobnicate', false);
    expect(seen).toContain('acme/frobnicate');
    // The recorder does not implement it: its own answer comes back unchanged.
    expect(res.json.error.code).toBe(-32601);
    expect(res.json.error.data?.reason).toBeUndefined();
  });
});

describe('13.8: list cursors are sealed to the principal and the endpoint', () => {
  let world: PolicyWorld;
  let alice: string;
  let bob: string;

  beforeAll(async () => {
    world = await policyWorld({
      'lists.yaml': `- subject: { group: data-platform }
  resource: { server: postgres-prod }
  action: read
- subject: { group: data-platform }
  resource: { server: zendesk }
  action: ['*']
- subject: { group: support }
  resource: { server: zendesk }
  action: ['*']
`,
    });
    alice = await world.token('alice');
    bob = await world.token('bob');
  });
  afterAll(async () => world.close());

  /** A 2026-07-28 request (no session) as `token`. */
  const call = (token: string, method: string, params: Record<string, unknown> = {}, target = '/mcp') =>
    answered(
      `${world.gw.url}${target}`,
      { jsonrpc: '2.0', id: 1, method, params: { ...params, _meta: MODERN } },
      { authorization: `Bearer ${token}` },
    );

  it('13.8: bob cannot replay the aggregated tools/list cursor alice was given', async () => {
    const page = await call(alice, 'tools/list');
    const cursor = page.json.result.nextCursor as string;
    expect(typeof cursor).toBe('string');
    const own = await call(alice, 'tools/list', { cursor });
    expect(own.json.error).toBeUndefined();
    expect(own.json.result.tools.length).toBeGreaterThan(0);

    const replayed = await call(bob, 'tools/list', { cursor });
    expect(replayed.json.error).toMatchObject({ code: -32602, data: { reason: 'INVALID_PARAMS' } });
    expect(replayed.json.error.message).toMatch(/cursor/);
  });

  it('13.8: a forged or tampered cursor gets -32602 with the reason', async () => {
    const forged = Buffer.from(JSON.stringify(['tools/list', 1])).toString('base64url');
    const res = await call(alice, 'tools/list', { cursor: forged });
    expect(res.json.error).toMatchObject({ code: -32602 });
    expect(res.json.error.message).toMatch(/cursor/);

    const real = (await call(alice, 'tools/list')).json.result.nextCursor as string;
    const bytes = Buffer.from(real, 'base64url');
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1;
    const tampered = await call(alice, 'tools/list', { cursor: bytes.toString('base64url') });
    expect(tampered.json.error).toMatchObject({ code: -32602 });
  });

  it('13.8: a cursor from one list does not open another', async () => {
    const cursor = (await call(alice, 'tools/list')).json.result.nextCursor as string;
    const otherList = await call(alice, 'prompts/list', { cursor });
    expect(otherList.json.error).toMatchObject({ code: -32602 });
  });
});

describe('13.8 R7: the Host allow-list guards every route, not only /mcp', () => {
  let gw: GatewayProcess;
  let token: string;

  // The built gateway as its own process with its development IdP under /dev-idp
  // (oidc-provider does not load inside Jest).
  beforeAll(async () => {
    gw = await spawnGateway('auth:\n  mode: dev\n');
    const { issuer, secrets } = JSON.parse(readFileSync(join(gw.dataDir, 'dev-idp', 'secrets.json'), 'utf8'));
    token = await devUserToken({ issuer, secrets }, 'alice');
  });
  afterAll(async () => {
    await gw?.stop();
  });

  const own = () => new URL(gw.url).host;

  it('13.8 R7: the admin API refuses a DNS-rebound Host with 403 even with a valid token', async () => {
    const ok = await withHost(gw.url, '/api/v1/me', own(), { authorization: `Bearer ${token}` });
    expect(ok.status).toBe(200);
    const rebound = await withHost(gw.url, '/api/v1/me', 'rebind.attacker.example', {
      authorization: `Bearer ${token}`,
    });
    expect(rebound.status).toBe(403);
    expect(JSON.parse(rebound.body)).toMatchObject({ error: { code: 'HOST_FORBIDDEN' } });
  });

  it('13.8 R7: the development IdP refuses a DNS-rebound Host with 403', async () => {
    const path = '/dev-idp/.well-known/openid-configuration';
    expect((await withHost(gw.url, path, own())).status).toBe(200);
    const rebound = await withHost(gw.url, path, `rebind.attacker.example:${new URL(gw.url).port}`);
    expect(rebound.status).toBe(403);
    expect(rebound.body).not.toContain('token_endpoint');
  });

  it('13.8 R7: /mcp, the console routes and metrics are refused too; the probes answer by address', async () => {
    for (const path of ['/mcp', '/auth/login', '/metrics', '/.well-known/oauth-protected-resource/mcp']) {
      expect((await withHost(gw.url, path, 'rebind.attacker.example')).status).toBe(403);
    }
    for (const path of ['/healthz', '/readyz']) {
      expect((await withHost(gw.url, path, '10.1.2.3:8080')).status).toBe(200);
    }
  });
});
