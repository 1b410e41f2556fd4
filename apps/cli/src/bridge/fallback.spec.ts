import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { ProtocolError } from '@modelcontextprotocol/client';

import { eventually, startHost, type Host } from './__tests__/host';
import { TestMcpServer, type Fault } from './__tests__/mcp-server';

const MEMORY_BIN = join(
  dirname(require.resolve('@modelcontextprotocol/server-memory/package.json')),
  'dist',
  'index.js',
);

const ENTITY = { entities: [{ name: 'probe', entityType: 'test', observations: [] }] };

function jsonRpcError(code: number, message: string, reason: string): string {
  return JSON.stringify({ jsonrpc: '2.0', id: null, error: { code, message, data: { reason } } });
}

/**
 * `gatehouse bridge --fallback`, the compiled binary under a real SDK host, with a real SDK
 * Streamable HTTP server standing in for the gateway (it injects the HTTP failures a gateway or
 * its load balancer gives) and the reference `memory` server as the direct server from a Claude
 * Desktop config. What the direct server's graph file holds shows whether it ran the call.
 */
describe('gatehouse bridge --fallback: unreachable versus refused', () => {
  let gateway: TestMcpServer;
  let host: Host | undefined;
  let work: string;
  let memoryFile: string;

  beforeEach(async () => {
    gateway = await new TestMcpServer().start();
    work = mkdtempSync(join(tmpdir(), 'gatehouse-bridge-fallback-'));
    memoryFile = join(work, 'memory.jsonl');
  });

  afterEach(async () => {
    await host?.close();
    host = undefined;
    await gateway.kill();
  });

  async function fallbackHost(): Promise<Host> {
    const config = join(work, 'claude_desktop_config.json');
    writeFileSync(
      config,
      JSON.stringify({
        mcpServers: {
          memory: { command: process.execPath, args: [MEMORY_BIN], env: { MEMORY_FILE_PATH: memoryFile } },
        },
      }),
    );
    host = await startHost(gateway.url, {
      args: ['--fallback', config, '--retry-delay', '50'],
      env: { XDG_STATE_HOME: join(work, 'state') },
    });
    return host;
  }

  function spooledLines(): string[] {
    const dir = join(work, 'state', 'gatehouse', 'spool');
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((name) => name.endsWith('.jsonl'))
      .flatMap((name) => readFileSync(join(dir, name), 'utf8').trim().split('\n'));
  }

  const refusals: Array<[string, Fault[], number]> = [
    [
      'audit unavailable (503 with a JSON-RPC body, every attempt)',
      Array.from({ length: 3 }, () => ({
        method: 'tools/call',
        status: 503,
        when: 'before' as const,
        body: jsonRpcError(-32030, 'audit unavailable', 'AUDIT_UNAVAILABLE'),
      })),
      -32010,
    ],
    [
      'a rate limit (429)',
      [
        {
          method: 'tools/call',
          status: 429,
          when: 'before',
          body: jsonRpcError(-32029, 'rate limited', 'RATE_LIMITED'),
        },
      ],
      -32029,
    ],
    ['a 403', [{ method: 'tools/call', status: 403, when: 'before', body: 'forbidden' }], -32011],
    ['a 500 after the call ran', [{ method: 'tools/call', status: 500, when: 'after' }], -32017],
  ];

  it.each(refusals)(
    'answers %s with an error and never runs the call directly',
    async (_what, faults, code) => {
      const { client } = await fallbackHost();
      gateway.faults.push(...faults);

      const failure = await client.callTool({ name: 'memory__create_entities', arguments: ENTITY }).then(
        () => undefined,
        (error: unknown) => error,
      );

      expect(failure).toBeInstanceOf(ProtocolError);
      expect((failure as ProtocolError).code).toBe(code);
      expect(existsSync(memoryFile)).toBe(false);
      expect(spooledLines()).toEqual([]);
      expect(host?.stderr()).not.toMatch(/serving host requests from the direct server/);
    },
  );

  it('serves the call directly when only a proxy answers (502 with an HTML page, every attempt)', async () => {
    const { client } = await fallbackHost();
    gateway.faults.push(
      ...Array.from({ length: 3 }, () => ({
        method: 'tools/call',
        status: 502,
        when: 'before' as const,
        body: '<html><body>502 Bad Gateway</body></html>',
      })),
    );

    const result = await client.callTool({ name: 'memory__create_entities', arguments: ENTITY });

    expect(result.isError).toBeFalsy();
    expect(readFileSync(memoryFile, 'utf8')).toContain('probe');
    expect(spooledLines().map((line) => (JSON.parse(line) as { mode: string }).mode)).toEqual(['fallback']);
    // The first attempt and two retries, each refused before anything ran; then the direct server.
    expect(gateway.calls('tools/call')).toHaveLength(3);
  });

  it('answers an error, and runs nothing directly, when the gateway dies while a call is in flight', async () => {
    const { client } = await fallbackHost();
    const call = client.callTool({ name: 'hang', arguments: {} }).then(
      () => undefined,
      (error: unknown) => error,
    );
    await eventually(() => gateway.calls('tools/call').length === 1, 'the call to reach the gateway');

    await gateway.kill();

    const failure = (await call) as ProtocolError;
    expect(failure).toBeInstanceOf(ProtocolError);
    // RESPONSE_LOST: it may have run at the gateway, so it is neither resent nor run directly.
    expect(failure.code).toBe(-32013);
    expect(spooledLines()).toEqual([]);
  });

  it('starts on the direct server when the gateway is down from the start', async () => {
    await gateway.kill();
    const { client } = await fallbackHost();

    expect(client.getServerVersion()?.name).toMatch(/memory/);
    const result = await client.callTool({ name: 'memory__create_entities', arguments: ENTITY });
    expect(result.isError).toBeFalsy();
    expect(spooledLines()).toHaveLength(1);
  });

  it('serves calls directly when nothing listens at the gateway any more', async () => {
    const { client } = await fallbackHost();
    await gateway.kill();

    const first = await client.callTool({ name: 'memory__create_entities', arguments: ENTITY });
    const second = await client.callTool({ name: 'memory__read_graph', arguments: {} });

    expect(first.isError).toBeFalsy();
    expect(JSON.stringify(second)).toContain('probe');
    expect(spooledLines()).toHaveLength(2);
    const tools = (await client.listTools()).tools.map((tool) => tool.name);
    expect(tools).toEqual(expect.arrayContaining(['memory__read_graph']));
  });
});
