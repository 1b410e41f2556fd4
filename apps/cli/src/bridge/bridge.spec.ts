import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { ProtocolError } from '@modelcontextprotocol/client';

import { eventually, FAST_RETRY, startHost, type Host } from './__tests__/host';
import { TestMcpServer } from './__tests__/mcp-server';

/**
 * System tests: the compiled `gatehouse bridge` as a child process, a real SDK
 * v2 Client as the agent host on its stdio, and real SDK v2 Streamable HTTP
 * servers as the gateway. Nothing is mocked.
 */
describe('gatehouse bridge', () => {
  let upstream: TestMcpServer;
  let host: Host | undefined;

  beforeEach(async () => {
    upstream = await new TestMcpServer().start();
  });

  afterEach(async () => {
    await host?.close();
    host = undefined;
    await upstream.kill();
  });

  /** JSON-RPC methods POSTed to `server`, except those refused with 404 for carrying the lost session id. */
  function postsAfter(server: TestMcpServer, lostSession: unknown): string[] {
    expect(lostSession).toEqual(expect.any(String));
    return server.seen
      .filter((r) => r.method === 'POST' && r.headers['mcp-session-id'] !== lostSession)
      .flatMap((r) => r.rpc);
  }

  function text(result: unknown): string {
    const content = (result as { content: Array<{ type: string; text?: string }> }).content;
    return content.map((c) => c.text ?? '').join('');
  }

  it('relays tools/list and tools/call between a stdio host and the gateway', async () => {
    host = await startHost(upstream.url);

    const { tools } = await host.client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([
      'ask',
      'ask_standalone',
      'count',
      'echo',
      'hang',
      'regional',
      'tally',
    ]);

    const result = await host.client.callTool({ name: 'echo', arguments: { text: 'hello' } });
    expect(text(result)).toBe('echo: hello');
    expect(host.client.getServerVersion()?.name).toBe('bridge-test-upstream');
  });

  it('relays the progress notifications of a running call to the host', async () => {
    host = await startHost(upstream.url);
    const progress: Array<{ progress: number; total?: number; message?: string }> = [];

    const result = await host.client.callTool(
      { name: 'count', arguments: { n: 3 } },
      { onprogress: (p) => progress.push({ progress: p.progress, total: p.total, message: p.message }) },
    );

    expect(text(result)).toBe('counted to 3');
    expect(progress).toEqual([
      { progress: 1, total: 3, message: 'step 1' },
      { progress: 2, total: 3, message: 'step 2' },
      { progress: 3, total: 3, message: 'step 3' },
    ]);
  });

  it('carries a sampling request from the gateway to the host and the answer back', async () => {
    host = await startHost(upstream.url);

    const result = await host.client.callTool({ name: 'ask', arguments: { question: 'meaning of life?' } });

    expect(text(result)).toBe('the client said: forty-two');
    const samplingRequest = host.received.find((m) => 'method' in m && m.method === 'sampling/createMessage');
    expect(samplingRequest).toBeDefined();
  });

  it('carries a sampling request the gateway sends on the standalone GET stream, and the answer back', async () => {
    host = await startHost(upstream.url);
    await upstream.waitForGetStream();

    const result = await host.client.callTool({
      name: 'ask_standalone',
      arguments: { question: 'and now?' },
    });

    expect(text(result)).toBe('the client said: forty-two');
  });

  it('delivers a notification the gateway sends on the standalone GET stream', async () => {
    host = await startHost(upstream.url);
    const changed = new Promise<void>((resolve) =>
      host?.client.setNotificationHandler('notifications/tools/list_changed', () => resolve()),
    );
    await upstream.waitForGetStream();

    await upstream.announceToolListChanged();

    await changed;
    const get = upstream.seen.find((r) => r.method === 'GET');
    expect(get?.headers.accept).toContain('text/event-stream');
  });

  it('learns the session id and protocol version from the traffic and ends the session when stdin closes', async () => {
    host = await startHost(upstream.url);
    await host.client.listTools();

    const [init] = upstream.calls('initialize');
    expect(init?.headers['mcp-session-id']).toBeUndefined();
    const [list] = upstream.calls('tools/list');
    expect(list?.headers['mcp-session-id']).toEqual(expect.any(String));
    expect(list?.headers['mcp-protocol-version']).toBe(host.client.getNegotiatedProtocolVersion());
    expect(upstream.sessionCount).toBe(1);

    await host.close();

    await eventually(() => upstream.seen.some((r) => r.method === 'DELETE'), 'the session DELETE');
    const del = upstream.seen.find((r) => r.method === 'DELETE');
    expect(del?.headers['mcp-session-id']).toBe(list?.headers['mcp-session-id']);
    await eventually(() => upstream.sessionCount === 0, 'the session to end');
  });

  it('sends the token from the environment as a bearer header and never writes it to stderr', async () => {
    const token = 'gh-test-token-7f3a9c1e5b';
    host = await startHost(upstream.url, {
      args: ['--log-level', 'debug', '--header', 'x-tenant=acme'],
      env: { GATEHOUSE_TOKEN: token },
    });
    await host.client.callTool({ name: 'echo', arguments: { text: 'hi' } });

    for (const request of upstream.seen) {
      expect(request.headers.authorization).toBe(`Bearer ${token}`);
      expect(request.headers['x-tenant']).toBe('acme');
    }
    await host.close();
    expect(host.stderr()).toContain('bridge ready');
    expect(host.stderr()).not.toContain(token);
  });

  it('reads the token from the variable --token-env names', async () => {
    host = await startHost(upstream.url, {
      args: ['--token-env', 'MY_GATEWAY_TOKEN'],
      env: { MY_GATEWAY_TOKEN: 'abc123' },
    });
    await host.client.listTools();
    expect(upstream.calls('tools/list')[0]?.headers.authorization).toBe('Bearer abc123');
  });

  it('survives a gateway restart on the same port: retries, re-establishes the session, hides the replayed initialize', async () => {
    host = await startHost(upstream.url, { args: FAST_RETRY });
    expect(text(await host.client.callTool({ name: 'echo', arguments: { text: 'before' } }))).toBe(
      'echo: before',
    );
    const firstSession = upstream.calls('tools/call')[0]?.headers['mcp-session-id'];
    const port = upstream.port;
    const seenBefore = upstream.seen.length;

    await upstream.kill();
    const restarted = new TestMcpServer({ port });
    const restart = new Promise<void>((resolve) =>
      setTimeout(() => void restarted.start().then(() => resolve()), 600),
    );
    // Sent while nothing listens: the bridge retries until the new process answers,
    // gets 404 for the old session, replays initialize, then resends this call.
    const during = host.client.callTool({ name: 'echo', arguments: { text: 'after' } });
    await restart;
    upstream = restarted;

    expect(text(await during)).toBe('echo: after');
    expect(seenBefore).toBeGreaterThan(0);
    expect(restarted.calls('initialize')).toHaveLength(1);
    const secondSession = restarted.calls('tools/call').at(-1)?.headers['mcp-session-id'];
    expect(secondSession).toEqual(expect.any(String));
    expect(secondSession).not.toBe(firstSession);
    // The progress and sampling paths work on the new session too.
    expect(text(await host.client.callTool({ name: 'ask', arguments: { question: 'still there?' } }))).toBe(
      'the client said: forty-two',
    );
    // The replayed initialize's response never reached the host.
    const initializeResults = host.received.filter(
      (m) => 'result' in m && (m.result as { protocolVersion?: unknown }).protocolVersion !== undefined,
    );
    expect(initializeResults).toHaveLength(0);
    expect(host.stderr()).toContain('session re-established');
  });

  it('replays the last log level and the live subscriptions on a re-established session, hiding their answers', async () => {
    host = await startHost(upstream.url, { args: FAST_RETRY });
    await host.client.setLoggingLevel('debug');
    await host.client.setLoggingLevel('warning');
    await host.client.subscribeResource({ uri: 'note://one' });
    await host.client.subscribeResource({ uri: 'note://two' });
    await host.client.unsubscribeResource({ uri: 'note://two' });
    const port = upstream.port;
    const lost = upstream.calls('resources/subscribe')[0]?.headers['mcp-session-id'];

    await upstream.kill();
    upstream = await new TestMcpServer({ port }).start();
    // The next call finds the session gone (404) and waits while the bridge rebuilds it.
    expect(text(await host.client.callTool({ name: 'echo', arguments: { text: 'back' } }))).toBe(
      'echo: back',
    );

    expect(upstream.params('logging/setLevel')).toEqual([{ level: 'warning' }]);
    expect(upstream.params('resources/subscribe')).toEqual([{ uri: 'note://one' }]);
    expect(upstream.calls('resources/unsubscribe')).toHaveLength(0);
    const order = postsAfter(upstream, lost);
    expect(order).toEqual([
      'initialize',
      'notifications/initialized',
      'logging/setLevel',
      'resources/subscribe',
      'tools/call',
    ]);
    // All of it went to the new session, the one the call then used.
    const session = upstream.calls('tools/call').at(-1)?.headers['mcp-session-id'];
    expect(session).toEqual(expect.any(String));
    expect(upstream.calls('logging/setLevel')[0]?.headers['mcp-session-id']).toBe(session);
    expect(upstream.calls('resources/subscribe')[0]?.headers['mcp-session-id']).toBe(session);
    // The host got one answer for each of its six requests, and none for the replayed ones.
    const answers = host.received.filter((m) => 'id' in m && !('method' in m));
    expect(answers).toHaveLength(6);
    expect(answers.every((m) => 'id' in m && typeof m.id === 'number')).toBe(true);
  });

  it('replays nothing but the handshake when the host set no session state', async () => {
    host = await startHost(upstream.url, { args: FAST_RETRY });
    await host.client.subscribeResource({ uri: 'note://one' });
    await host.client.unsubscribeResource({ uri: 'note://one' });
    const port = upstream.port;
    const lost = upstream.calls('resources/subscribe')[0]?.headers['mcp-session-id'];

    await upstream.kill();
    upstream = await new TestMcpServer({ port }).start();
    await host.client.callTool({ name: 'echo', arguments: { text: 'back' } });

    const order = postsAfter(upstream, lost);
    expect(order).toEqual(['initialize', 'notifications/initialized', 'tools/call']);
  });

  it('answers the host with a JSON-RPC error naming the reason when the gateway stays down', async () => {
    host = await startHost(upstream.url, { args: FAST_RETRY });
    await host.client.listTools();

    await upstream.kill();
    const failure = await host.client.callTool({ name: 'echo', arguments: { text: 'lost' } }).then(
      () => undefined,
      (error: unknown) => error,
    );

    expect(failure).toBeInstanceOf(ProtocolError);
    const error = failure as ProtocolError;
    expect(error.code).toBe(-32010);
    expect(error.message).toContain('gateway unreachable');
    expect(error.message).toContain('ECONNREFUSED');
    expect(error.data).toMatchObject({ reason: 'GATEWAY_UNREACHABLE', attempts: 7 });
  });

  it('tells the host a call was lost when the gateway dies mid-call, and does not run it twice', async () => {
    host = await startHost(upstream.url, { args: FAST_RETRY });
    const port = upstream.port;
    const call = host.client.callTool({ name: 'hang', arguments: {} }).then(
      () => undefined,
      (error: unknown) => error,
    );
    await eventually(() => upstream.calls('tools/call').length === 1, 'the call to reach the gateway');

    await upstream.kill();
    upstream = await new TestMcpServer({ port }).start();

    const failure = (await call) as ProtocolError;
    expect(failure).toBeInstanceOf(ProtocolError);
    expect(failure.code).toBe(-32013);
    expect(failure.message).toContain('not resent');
    expect(upstream.calls('tools/call')).toHaveLength(0);
    // The session itself recovers for the next call.
    expect(text(await host.client.callTool({ name: 'echo', arguments: { text: 'next' } }))).toBe(
      'echo: next',
    );
  });

  it('gives up with a timeout error when the gateway accepts the connection but never answers', async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    try {
      const attempt = startHost(`http://127.0.0.1:${port}/mcp`, {
        args: ['--timeout', '500', ...FAST_RETRY],
      });
      await expect(attempt).rejects.toThrow(/did not answer within 500 ms/);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });

  it('forwards a cancellation from the host, which stops the call at the gateway', async () => {
    host = await startHost(upstream.url);
    const abort = new AbortController();
    const call = host.client
      .callTool({ name: 'hang', arguments: {} }, { signal: abort.signal })
      .catch(() => 'cancelled');
    await eventually(() => upstream.calls('tools/call').length === 1, 'the call to reach the gateway');

    abort.abort('changed my mind');

    expect(await call).toBe('cancelled');
    await eventually(() => upstream.cancelled === 1, 'the gateway to cancel the call');
    expect(upstream.calls('notifications/cancelled')).toHaveLength(1);
  });

  it('does not resend a call the gateway ran before failing with 500, and tells the host', async () => {
    host = await startHost(upstream.url, { args: FAST_RETRY });
    upstream.faults.push({ method: 'tools/call', status: 500, when: 'after' });

    const failure = await host.client.callTool({ name: 'tally', arguments: {} }).then(
      () => undefined,
      (error: unknown) => error,
    );

    expect(failure).toBeInstanceOf(ProtocolError);
    const error = failure as ProtocolError;
    expect(error.code).toBe(-32017);
    expect(error.message).toContain('HTTP 500');
    expect(error.message).toContain('not resent');
    expect(error.data).toMatchObject({ reason: 'GATEWAY_FAILED', status: 500 });
    expect(upstream.tallies).toBe(1);
    expect(upstream.calls('tools/call')).toHaveLength(1);
  });

  it("relays the JSON-RPC error of a 500 body under the host's request id, without resending", async () => {
    host = await startHost(upstream.url, { args: FAST_RETRY });
    upstream.faults.push({
      method: 'tools/call',
      status: 500,
      when: 'after',
      // The gateway's front door answers its own failures with a null id.
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: null,
        error: { code: -32603, message: 'internal gateway error', data: { reason: 'INTERNAL' } },
      }),
    });

    const failure = await host.client.callTool({ name: 'tally', arguments: {} }).then(
      () => undefined,
      (error: unknown) => error,
    );

    expect(failure).toBeInstanceOf(ProtocolError);
    expect((failure as ProtocolError).code).toBe(-32603);
    expect((failure as ProtocolError).message).toContain('internal gateway error');
    expect((failure as ProtocolError).data).toEqual({ reason: 'INTERNAL' });
    expect(upstream.tallies).toBe(1);
    expect(upstream.calls('tools/call')).toHaveLength(1);
  });

  it.each([502, 503, 504])(
    'resends a call the gateway refused with %i before running it, and it runs once',
    async (status) => {
      host = await startHost(upstream.url, { args: FAST_RETRY });
      upstream.faults.push(
        { method: 'tools/call', status, when: 'before' },
        { method: 'tools/call', status, when: 'before' },
      );

      const result = await host.client.callTool({ name: 'tally', arguments: {} });

      expect(text(result)).toBe('tallied');
      expect(upstream.tallies).toBe(1);
      expect(upstream.calls('tools/call')).toHaveLength(3);
    },
  );

  it('answers the host with an error when the gateway is down from the start', async () => {
    const port = upstream.port;
    await upstream.kill();
    const attempt = startHost(`http://127.0.0.1:${port}/mcp`, { args: FAST_RETRY });
    await expect(attempt).rejects.toThrow(/gateway unreachable.*ECONNREFUSED/);
  });

  it('tells the host the URL looks wrong when the gateway answers 404 to initialize', async () => {
    const attempt = startHost(upstream.url.replace('/mcp', '/nowhere'), { args: FAST_RETRY });
    await expect(attempt).rejects.toThrow(/HTTP 404.*is the URL right\?/);
  });

  it('says what to do, with the status and body, when the gateway refuses the token, without retrying', async () => {
    await upstream.kill();
    upstream = await new TestMcpServer({ requireToken: 'right-token' }).start();

    const attempt = startHost(upstream.url, { args: FAST_RETRY, env: { GATEHOUSE_TOKEN: 'wrong-token' } });

    const gateway = upstream.url.replace(/\/mcp$/, '');
    await expect(attempt).rejects.toThrow(
      `refused the token in $GATEHOUSE_TOKEN; get a new one, or unset $GATEHOUSE_TOKEN and run \`gatehouse login --url ${gateway}\``,
    );
    await expect(attempt).rejects.toThrow(/HTTP 401.*invalid_token/);
    await expect(attempt).rejects.toMatchObject({ code: -32018 });
    expect(upstream.seen).toHaveLength(1);
  });
});

describe('gatehouse bridge on a 2026-07-28 gateway', () => {
  let upstream: TestMcpServer;
  let host: Host | undefined;

  beforeEach(async () => {
    upstream = await new TestMcpServer({ era: 'modern' }).start();
  });

  afterEach(async () => {
    await host?.close();
    await upstream.kill();
  });

  it('negotiates 2026-07-28 through the bridge and sends Mcp-Method and Mcp-Name on each request', async () => {
    host = await startHost(upstream.url, {
      client: { capabilities: {}, versionNegotiation: { mode: 'auto' } },
    });
    expect(host.client.getNegotiatedProtocolVersion()).toBe('2026-07-28');

    const result = await host.client.callTool({ name: 'echo', arguments: { text: 'modern' } });

    expect((result.content as Array<{ text: string }>)[0]?.text).toBe('echo: modern');
    const call = upstream.calls('tools/call').at(-1);
    expect(call?.headers['mcp-protocol-version']).toBe('2026-07-28');
    expect(call?.headers['mcp-method']).toBe('tools/call');
    expect(call?.headers['mcp-name']).toBe('echo');
    expect(call?.headers['mcp-session-id']).toBeUndefined();
  });

  it('turns a host cancellation into closing the request stream, as 2026-07-28 HTTP expects', async () => {
    host = await startHost(upstream.url, {
      client: { capabilities: {}, versionNegotiation: { mode: 'auto' } },
    });
    const abort = new AbortController();
    const call = host.client
      .callTool({ name: 'hang', arguments: {} }, { signal: abort.signal })
      .catch(() => 'cancelled');
    await eventually(() => upstream.calls('tools/call').length === 1, 'the call to reach the gateway');

    abort.abort('changed my mind');

    expect(await call).toBe('cancelled');
    await eventually(() => upstream.cancelled === 1, 'the gateway to cancel the call');
    expect(upstream.calls('notifications/cancelled')).toHaveLength(0);
  });

  it('mirrors arguments the tool marks with x-mcp-header into Mcp-Param headers', async () => {
    host = await startHost(upstream.url, {
      client: { capabilities: {}, versionNegotiation: { mode: 'auto' } },
    });
    await host.client.listTools();

    const result = await host.client.callTool({ name: 'regional', arguments: { region: 'Zürich' } });

    expect((result.content as Array<{ text: string }>)[0]?.text).toBe('served from Zürich');
    const call = upstream.calls('tools/call').at(-1);
    expect(call?.headers['mcp-param-region']).toBe('=?base64?WsO8cmljaA==?=');
  });

  it('relays progress on a 2026-07-28 call', async () => {
    host = await startHost(upstream.url, {
      client: { capabilities: {}, versionNegotiation: { mode: 'auto' } },
    });
    const progress: number[] = [];
    await host.client.callTool(
      { name: 'count', arguments: { n: 2 } },
      { onprogress: (p) => progress.push(p.progress) },
    );
    expect(progress).toEqual([1, 2]);
  });
});
