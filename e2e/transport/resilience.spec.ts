import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { RunningGateway } from '../../apps/gateway/src/bootstrap';
import { gatewayWith, initializeBody, rawPost } from './helpers';

const UNRULY = resolve(__dirname, '../../dist/e2e/fixtures/unruly-server.js');

function unruly(name: string, extra = ''): string {
  return `
  ${name}:
    transport: stdio
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(UNRULY)}]
    env: { UNRULY_LOG: "\${UNRULY_LOG}" }
${extra}`;
}

/** Child processes of this test process (the in-process gateway spawns its upstreams). */
function childPids(): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === process.pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function until<T>(fn: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** R34, R40, R43 and the stdio leak check, against a deliberately unruly real upstream. */
describe('upstream failures never take the gateway down', () => {
  const log = join(mkdtempSync(join(tmpdir(), 'unruly-')), 'events.log');
  let gw: RunningGateway & { logs: string[] };
  let session: string;

  const call = (id: number, name: string, args: Record<string, unknown>, server = 'unruly', sess = session) =>
    rawPost(
      `${gw.url}/mcp/servers/${server}`,
      JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } }),
      { 'mcp-session-id': sess },
    );

  const openSession = async (server = 'unruly'): Promise<string> => {
    const init = await rawPost(`${gw.url}/mcp/servers/${server}`, initializeBody());
    if (init.status !== 200) throw new Error(JSON.stringify(init.json));
    return init.headers.get('mcp-session-id') as string;
  };

  beforeAll(async () => {
    expect(existsSync(UNRULY)).toBe(true);
    gw = await gatewayWith(
      `upstreams:${unruly('unruly', '    timeouts: { requestMs: 1500 }\n    limits: { maxMessageBytes: 1048576, maxStreamBytes: 8388608 }')}${unruly(
        'steady',
      )}${unruly('isolated', '    sharing: per-session')}`,
      { UNRULY_LOG: log },
    );
    session = await openSession();
  });
  afterAll(async () => gw.close());

  it('R34: times out a hung call with a clear error and cancels it upstream', async () => {
    const res = await call(1, 'sleep', { ms: 10_000, tag: 'hung' });
    expect(res.json.error.message).toMatch(/did not answer within 1500 ms/);
    expect(res.json.error.data.reason).toBe('UPSTREAM_TIMEOUT');
  });

  it('forwards a client cancellation to the upstream', async () => {
    const pending = call(2, 'sleep', { ms: 5_000, tag: 'to-cancel' });
    await until(async () => (readFileSync(log, 'utf8').includes('started to-cancel') ? true : undefined));
    await rawPost(
      `${gw.url}/mcp/servers/unruly`,
      JSON.stringify({
        jsonrpc: '2.0',
        method: 'notifications/cancelled',
        params: { requestId: 2, reason: 'user' },
      }),
      { 'mcp-session-id': session },
    );
    const res = await pending;
    expect(res.json.error).toBeDefined();
    await until(async () => (readFileSync(log, 'utf8').includes('cancelled to-cancel') ? true : undefined));
  });

  it('cancels a 2026-07-28 call upstream when its client closes the request stream', async () => {
    const controller = new AbortController();
    const pending = fetch(`${gw.url}/mcp/servers/unruly`, {
      method: 'POST',
      signal: controller.signal,
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: {
          name: 'sleep',
          arguments: { ms: 5_000, tag: 'modern-close' },
          _meta: {
            'io.modelcontextprotocol/protocolVersion': '2026-07-28',
            'io.modelcontextprotocol/clientCapabilities': {},
          },
        },
      }),
    }).catch(() => undefined);
    // Close only once the upstream is running the call (the first 2026-07-28 hop may still be
    // starting under load), so the test sees a cancellation and not a call never sent.
    await until(async () => (readFileSync(log, 'utf8').includes('started modern-close') ? true : undefined));
    controller.abort();
    await pending;
    await until(async () =>
      readFileSync(log, 'utf8').includes('cancelled modern-close') ? true : undefined,
    );
  });

  it('R43: under concurrency every response reaches the request that caused it', async () => {
    const sessions = await Promise.all(Array.from({ length: 8 }, () => openSession('steady')));
    const calls = sessions.flatMap((s, i) =>
      Array.from({ length: 10 }, (_, j) =>
        call(1000 + j, 'sleep', { ms: 20 + ((i * 7 + j * 13) % 50), tag: `${i}-${j}` }, 'steady', s).then(
          (r) => ({
            expected: `slept ${i}-${j}`,
            id: r.json.id as number,
            got: r.json.result?.content?.[0]?.text as string,
            wantId: 1000 + j,
          }),
        ),
      ),
    );
    for (const r of await Promise.all(calls)) {
      expect(r.got).toBe(r.expected);
      expect(r.id).toBe(r.wantId);
    }
  });

  it('R40: cuts off an upstream that floods output without a message boundary, then recovers', async () => {
    const res = await call(3, 'flood', { bytes: 16 * 1024 * 1024 });
    expect(res.json.error).toBeDefined();
    // 16 MB without a newline passes maxStreamBytes (8 MB): the stream cannot be resynchronised,
    // so the process is killed and restarted (a merely oversized message only fails its call).
    expect(gw.logs.join('')).toMatch(/cannot be resynchronised; killing the process/);
    const steady = await call(4, 'echo', { message: 'unaffected' }, 'steady', await openSession('steady'));
    expect(steady.json.result.content[0].text).toBe('unaffected');
    const again = await until(async () => {
      const r = await call(5, 'echo', { message: 'back' });
      return r.json.result ? r : undefined;
    });
    expect(again.json.result.content[0].text).toBe('back');
  });

  it('answers calls to a crashed upstream with JSON-RPC errors and restarts it with backoff', async () => {
    const before = await call(6, 'pid', {});
    const crash = await call(7, 'crash', {});
    expect(crash.json.error).toBeDefined();
    expect(crash.json.error.message).toMatch(/unruly/);
    const after = await until(async () => {
      const r = await call(8, 'pid', {});
      return r.json.result ? r : undefined;
    });
    expect(after.json.result.content[0].text).not.toBe(before.json.result.content[0].text);
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toMatch(/gatehouse_upstream_restarts_total\{server="unruly"\} [1-9]/);
  });

  it('leaks no stdio process after 200 per-session sessions open and close', async () => {
    const spawned = new Set<string>();
    for (let batch = 0; batch < 10; batch++) {
      const ids = await Promise.all(Array.from({ length: 20 }, () => openSession('isolated')));
      const pids = await Promise.all(
        ids.map(
          async (id, k) =>
            (await call(9000 + k, 'pid', {}, 'isolated', id)).json.result.content[0].text as string,
        ),
      );
      pids.forEach((pid) => spawned.add(pid));
      await Promise.all(
        ids.map((id) =>
          fetch(`${gw.url}/mcp/servers/isolated`, { method: 'DELETE', headers: { 'mcp-session-id': id } }),
        ),
      );
    }
    // Every session had its own process, and every one of them is gone (not even a zombie).
    expect(spawned.size).toBe(200);
    const alive = () =>
      [...spawned].filter((pid) => {
        try {
          return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
        } catch {
          return false;
        }
      });
    await until(async () => (alive().length === 0 ? true : undefined));
    expect(alive()).toEqual([]);
    expect(childPids().filter((pid) => spawned.has(String(pid)))).toEqual([]);
  }, 240_000);
});
