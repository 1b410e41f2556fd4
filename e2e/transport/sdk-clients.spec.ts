import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import type { RunningGateway } from '../../apps/gateway/src/bootstrap';
import { demoUpstreamsYaml, gatewayWith, initializeBody, rawPost } from './helpers';

type Negotiation = 'legacy' | 'auto';

async function connect(
  url: string,
  mode: Negotiation,
  capabilities: Record<string, unknown> = {},
): Promise<Client> {
  const client = new Client(
    { name: 'system-test', version: '1.0.0' },
    { capabilities, versionNegotiation: { mode } },
  );
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

/** Real SDK clients, a real gateway and the real reference servers over stdio. */
describe('MCP through the gateway with SDK clients', () => {
  let gw: RunningGateway;
  const clients: Client[] = [];

  beforeAll(async () => {
    gw = await gatewayWith(demoUpstreamsYaml('per-session'));
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await gw.close();
  });

  const open = async (
    path: string,
    mode: Negotiation,
    caps: Record<string, unknown> = {},
  ): Promise<Client> => {
    const c = await connect(`${gw.url}${path}`, mode, caps);
    clients.push(c);
    return c;
  };

  it('aggregates tools from every upstream under <server>__<name> and routes calls back', async () => {
    const client = await open('/mcp', 'legacy');
    // Without a cursor the SDK client walks every page itself.
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toContain('everything__echo');
    expect(names).toContain('memory__read_graph');
    expect(names.every((n) => /^(everything|memory)__/.test(n))).toBe(true);
    const result = await client.callTool({ name: 'everything__echo', arguments: { message: 'hello' } });
    expect(result.content).toEqual([{ type: 'text', text: 'Echo: hello' }]);
  });

  it('maps resource URIs reversibly and reads through the mapped URI', async () => {
    const client = await open('/mcp', 'legacy');
    const { resources } = await client.listResources();
    const first = resources.find((r) => r.uri.startsWith('everything+'));
    expect(first).toBeDefined();
    const read = await client.readResource({ uri: first!.uri });
    expect(read.contents[0]?.uri).toBe(first!.uri);
    const templates = await client.listResourceTemplates();
    expect(templates.resourceTemplates.every((t) => t.uriTemplate.startsWith('everything+'))).toBe(true);
  });

  it('aggregates prompts and gets one by its namespaced name', async () => {
    const client = await open('/mcp', 'legacy');
    const { prompts } = await client.listPrompts();
    const simple = prompts.find((p) => p.name.startsWith('everything__'));
    expect(simple).toBeDefined();
    const got = await client.getPrompt({ name: simple!.name, arguments: {} }).catch((e: Error) => e);
    expect(got).not.toBeInstanceOf(Error);
  });

  it('passes one upstream through unchanged on /mcp/servers/{name}', async () => {
    const client = await open('/mcp/servers/everything', 'legacy');
    expect(client.getServerVersion()?.name).toMatch(/everything/i);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toContain('echo');
    const result = await client.callTool({ name: 'echo', arguments: { message: 'direct' } });
    expect(result.content).toEqual([{ type: 'text', text: 'Echo: direct' }]);
  });

  it('streams every progress notification of a long-running call before its result', async () => {
    // Read the wire, not an SDK callback: the client SDK may settle the call before running the
    // last progress handler, which would hide whether the gateway delivered it.
    const url = `${gw.url}/mcp/servers/everything`;
    const init = await rawPost(url, initializeBody());
    const session = init.headers.get('mcp-session-id') as string;
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-session-id': session,
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 5,
        method: 'tools/call',
        params: {
          name: 'trigger-long-running-operation',
          arguments: { duration: 1, steps: 3 },
          _meta: { progressToken: 'p1' },
        },
      }),
    });
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const events = (await res.text())
      .split('\n')
      .filter((l) => l.startsWith('data: '))
      .map(
        (l) =>
          JSON.parse(l.slice(6)) as {
            method?: string;
            id?: number;
            params?: { progress: number; progressToken: string };
          },
      );
    expect(events.slice(0, 3).map((e) => [e.method, e.params?.progress, e.params?.progressToken])).toEqual([
      ['notifications/progress', 1, 'p1'],
      ['notifications/progress', 2, 'p1'],
      ['notifications/progress', 3, 'p1'],
    ]);
    expect(events[3]?.id).toBe(5);
  });

  it('routes a sampling request from a per-session upstream to exactly the client that caused it', async () => {
    const caps = { sampling: {} };
    const a = await open('/mcp/servers/everything', 'legacy', caps);
    const b = await open('/mcp/servers/everything', 'legacy', caps);
    const asked: string[] = [];
    a.setRequestHandler('sampling/createMessage', async () => {
      asked.push('a');
      return { model: 'test-a', role: 'assistant', content: { type: 'text', text: 'from a' } };
    });
    b.setRequestHandler('sampling/createMessage', async () => {
      asked.push('b');
      return { model: 'test-b', role: 'assistant', content: { type: 'text', text: 'from b' } };
    });
    const [ra, rb] = await Promise.all([
      a.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'hi', maxTokens: 10 } }),
      b.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'hi', maxTokens: 10 } }),
    ]);
    expect(JSON.stringify(ra.content)).toMatch(/from a/);
    expect(JSON.stringify(rb.content)).toMatch(/from b/);
    expect(asked.sort()).toEqual(['a', 'b']);
  });

  it('serves 2026-07-28 clients without a session, negotiated per hop', async () => {
    const client = await open('/mcp', 'auto');
    expect(client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toContain('everything__echo');
    const passthrough = await open('/mcp/servers/everything', 'auto');
    expect((await passthrough.listResources()).resources.length).toBeGreaterThan(0);
    expect((await passthrough.listPrompts()).prompts.length).toBeGreaterThan(0);
    const result = await client.callTool({ name: 'everything__echo', arguments: { message: 'modern' } });
    expect(result.content).toEqual([{ type: 'text', text: 'Echo: modern' }]);
  });

  it('sets the log level on every logging upstream of the aggregated endpoint and relays their messages', async () => {
    const client = await open('/mcp', 'legacy');
    const messages: Array<{ logger?: string; level: string }> = [];
    const first = new Promise<void>((ok) =>
      client.setNotificationHandler('notifications/message', (n) => {
        messages.push({ logger: n.params.logger, level: n.params.level });
        ok();
      }),
    );
    await client.setLoggingLevel('debug');
    await client.callTool({ name: 'everything__toggle-simulated-logging', arguments: {} });
    await first;
    expect(messages[0]?.logger).toMatch(/^everything/);
  }, 30_000);

  it('returns the upstream’s own JSON-RPC error for a bad call and keeps the session usable', async () => {
    const client = await open('/mcp', 'legacy');
    const result = await client
      .callTool({ name: 'everything__no-such-tool', arguments: {} })
      .then((r) => JSON.stringify(r))
      .catch((e: Error) => e.message);
    expect(result).toMatch(/no-such-tool|not found/i);
    const ok = await client.callTool({ name: 'everything__echo', arguments: { message: 'after' } });
    expect(ok.content).toEqual([{ type: 'text', text: 'Echo: after' }]);
  });
});
