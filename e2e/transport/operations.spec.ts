import { request } from 'node:http';
import { connect } from 'node:net';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { createScratchDatabase, DEFAULT_SERVER_URL, type ScratchDatabase } from '@gatehouse/db';
import type { RunningGateway } from '../../apps/gateway/src/bootstrap';
import { demoUpstreamsYaml, gatewayWith, initializeBody, rawPost } from './helpers';
import { spawnGateway } from './processes';

const UNRULY = resolve(__dirname, '../../dist/e2e/fixtures/unruly-server.js');

/** Server-initiated notifications, metrics, slow clients, chunked bodies and SIGTERM. */
describe('streams and operations', () => {
  let gw: RunningGateway;

  beforeAll(async () => {
    gw = await gatewayWith(demoUpstreamsYaml('per-session'), {}, ['headersTimeoutMs: 1000']);
  });
  afterAll(async () => gw.close());

  it('delivers resources/updated on the GET stream to the subscribing client only, with the gateway URI', async () => {
    const connectClient = async () => {
      const c = new Client({ name: 'stream-test', version: '1.0.0' });
      await c.connect(new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`)));
      return c;
    };
    const a = await connectClient();
    const b = await connectClient();
    try {
      const uri = 'everything+demo://resource/static/document/architecture.md';
      const got: string[] = [];
      const other: string[] = [];
      const arrived = new Promise<void>((ok) => {
        a.setNotificationHandler('notifications/resources/updated', (n) => {
          got.push(n.params.uri);
          ok();
        });
      });
      b.setNotificationHandler('notifications/resources/updated', (n) => {
        other.push(n.params.uri);
      });
      const { resources } = await a.listResources();
      const target = resources.find((r) => r.uri === uri) ?? resources[0];
      expect(target).toBeDefined();
      await a.subscribeResource({ uri: target!.uri });
      await a.callTool({ name: 'everything__toggle-subscriber-updates', arguments: {} });
      await b.callTool({ name: 'everything__echo', arguments: { message: 'idle' } });
      await arrived;
      expect(got[0]).toBe(target!.uri);
      expect(other).toEqual([]);
    } finally {
      await a.close();
      await b.close();
    }
  }, 30_000);

  it('counts calls and splits latency into gateway and upstream parts in /metrics', async () => {
    const init = await rawPost(`${gw.url}/mcp`, initializeBody());
    const session = init.headers.get('mcp-session-id') as string;
    await rawPost(
      `${gw.url}/mcp`,
      JSON.stringify({
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'memory__read_graph', arguments: {} },
      }),
      { 'mcp-session-id': session },
    );
    // A method the client made up is refused at the front door (-32601, issue 13.8) and labels
    // nothing: no unbounded label values.
    const pass = await rawPost(`${gw.url}/mcp/servers/memory`, initializeBody());
    const madeUp = await rawPost(
      `${gw.url}/mcp/servers/memory`,
      JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'made/up-1234' }),
      {
        'mcp-session-id': pass.headers.get('mcp-session-id') as string,
      },
    );
    expect(madeUp.json.error).toMatchObject({ code: -32601, data: { reason: 'METHOD_NOT_FOUND' } });
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    expect(text).not.toMatch(/made\/up-1234/);
    expect(text).toMatch(/gatehouse_calls_total\{server="memory",method="tools\/call",outcome="ok"\} [1-9]/);
    expect(text).toMatch(
      /gatehouse_call_duration_seconds_count\{server="memory",method="tools\/call",part="gateway"\} [1-9]/,
    );
    expect(text).toMatch(
      /gatehouse_call_duration_seconds_count\{server="memory",method="tools\/call",part="upstream"\} [1-9]/,
    );
    expect(text).toMatch(/gatehouse_sessions_created_total [1-9]/);
    expect(text).toMatch(/gatehouse_sessions_active \d+/);
  });

  it('R37: enforces the body limit on chunked bodies too', async () => {
    const status = await new Promise<number>((ok, fail) => {
      const url = new URL(`${gw.url}/mcp`);
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: '/mcp',
          method: 'POST',
          headers: { 'content-type': 'application/json' },
        },
        (res) => {
          res.resume();
          ok(res.statusCode ?? 0);
        },
      );
      req.on('error', fail);
      const chunk = 'x'.repeat(64 * 1024);
      req.write('{"jsonrpc":"2.0","id":1,"method":"ping","params":{"p":"');
      for (let sent = 0; sent <= 4 * 1024 * 1024; sent += chunk.length) req.write(chunk);
      req.end('"}}');
    });
    expect(status).toBe(413);
  });

  it('R41: drops a client that never finishes its headers while serving others', async () => {
    const url = new URL(gw.url);
    const socket = connect(Number(url.port), url.hostname);
    const closed = new Promise<void>((ok) => socket.on('close', () => ok()));
    socket.on('error', () => undefined);
    const answers: string[] = [];
    socket.on('data', (d: Buffer) => answers.push(d.toString()));
    socket.write('POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
    const served = await rawPost(`${gw.url}/mcp`, initializeBody());
    expect(served.status).toBe(200);
    await closed;
    expect(answers.join('')).toMatch(/^HTTP\/1.1 408/);
  });
});

describe('SIGTERM', () => {
  let db: ScratchDatabase;
  beforeAll(async () => {
    db = await createScratchDatabase(DEFAULT_SERVER_URL, 'gatehouse_e2e');
  });
  afterAll(async () => db.drop());

  it('lets an in-flight call finish, refuses new work, and exits', async () => {
    const log = join(mkdtempSync(join(tmpdir(), 'drain-')), 'events.log');
    writeFileSync(log, '');
    const gw = await spawnGateway(
      `upstreams:\n  unruly:\n    transport: stdio\n    command: ${JSON.stringify(process.execPath)}\n    args: [${JSON.stringify(UNRULY)}]\n    env: { UNRULY_LOG: "\${UNRULY_LOG}" }\n`,
      { DATABASE_URL: db.url, UNRULY_LOG: log },
    );
    const init = await rawPost(`${gw.url}/mcp/servers/unruly`, initializeBody());
    const session = init.headers.get('mcp-session-id') as string;
    const inflight = rawPost(
      `${gw.url}/mcp/servers/unruly`,
      JSON.stringify({
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'sleep', arguments: { ms: 1500, tag: 'drain' } },
      }),
      { 'mcp-session-id': session },
    );
    // Signal only once the upstream is running the call, so it is truly in flight.
    for (let i = 0; i < 300 && !readFileSync(log, 'utf8').includes('started drain'); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const exited = gw.stop('SIGTERM');
    const result = await inflight;
    expect(result.json.result.content[0].text).toBe('slept drain');
    const later = await rawPost(`${gw.url}/mcp/servers/unruly`, initializeBody()).catch(() => ({
      status: 0,
    }));
    expect([0, 503]).toContain(later.status);
    // NestJS re-raises the signal after its shutdown hooks, so the process ends by SIGTERM.
    await exited;
    expect(gw.child.signalCode ?? gw.child.exitCode).toBe('SIGTERM');
  }, 60_000);
});
