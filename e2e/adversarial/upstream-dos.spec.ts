import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { RunningGateway } from '../../apps/gateway/src/bootstrap';
import { devUserToken, startDevIdp, type StartedDevIdp } from '../support/dev-idp';
import { gatewayWith, initializeBody, rawPost, serverBin } from '../transport/helpers';
import { freePort } from '../transport/processes';

/**
 * Issue 13.5, the upstream half: what one or two signed-in users can do to everyone else through
 * the upstreams — spawn processes without bound, hold a shared upstream's slots, or kill a shared
 * upstream with one oversized result. Real dev IdP, real stdio MCP servers, three principals.
 */
const UNRULY = resolve(__dirname, '../../dist/e2e/fixtures/unruly-server.js');

function unruly(name: string, extra: string[] = []): string {
  return [
    `  ${name}:`,
    '    transport: stdio',
    `    command: ${JSON.stringify(process.execPath)}`,
    `    args: [${JSON.stringify(UNRULY)}]`,
    '    env: { UNRULY_LOG: "${UNRULY_LOG}" }',
    ...extra.map((line) => `    ${line}`),
  ].join('\n');
}

/** Processes this test process started that are still running (the gateway runs in-process). */
function livingChildren(): Set<number> {
  const pids = new Set<number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === process.pid && fields[0] !== 'Z') pids.add(Number(d));
    } catch {
      // gone between readdir and read
    }
  }
  return pids;
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

describe('13.5 upstream denial of service by signed-in users', () => {
  const log = join(mkdtempSync(join(tmpdir(), 'upstream-dos-')), 'events.log');
  let idp: StartedDevIdp;
  let gw: RunningGateway;
  const token: Record<string, string> = {};
  let nextId = 100;

  const auth = (user: string) => ({ authorization: `Bearer ${token[user]}` });
  const initialize = (user: string, server: string) =>
    rawPost(`${gw.url}/mcp/servers/${server}`, initializeBody(), auth(user));
  const openSession = async (user: string, server: string): Promise<string> => {
    const init = await initialize(user, server);
    if (init.status !== 200) throw new Error(`${init.status} ${JSON.stringify(init.json)}`);
    return init.headers.get('mcp-session-id') as string;
  };
  const call = (user: string, server: string, session: string, name: string, args: Record<string, unknown>) =>
    rawPost(
      `${gw.url}/mcp/servers/${server}`,
      JSON.stringify({
        jsonrpc: '2.0',
        id: ++nextId,
        method: 'tools/call',
        params: { name, arguments: args },
      }),
      { ...auth(user), 'mcp-session-id': session },
    );
  const end = (user: string, server: string, session: string) =>
    fetch(`${gw.url}/mcp/servers/${server}`, {
      method: 'DELETE',
      headers: { ...auth(user), 'mcp-session-id': session },
    });
  const pidOf = async (user: string, server: string, session: string): Promise<string> =>
    (await call(user, server, session, 'pid', {})).json.result.content[0].text as string;

  beforeAll(async () => {
    expect(existsSync(UNRULY)).toBe(true);
    writeFileSync(log, '');
    const port = await freePort();
    idp = await startDevIdp({ resource: `http://127.0.0.1:${port}/mcp` });
    gw = await gatewayWith(
      [
        `auth:\n  issuer: ${idp.issuer}`,
        'sessions:\n  upstreamsPerPrincipal: 2\n  upstreamsPerReplica: 4',
        'upstreams:',
        unruly('isolated', ['sharing: per-session']),
        unruly('slow', ['maxConcurrency: 4']),
        unruly('shared', ['limits: { maxMessageBytes: 1048576 }']),
      ].join('\n'),
      { UNRULY_LOG: log },
      [`port: ${port}`],
    );
    for (const user of ['alice', 'bob', 'carol']) token[user] = await devUserToken(idp, user);
  });
  afterAll(async () => {
    await gw?.close();
    await idp?.close();
  });

  it('13.5: a flood of initialize calls spawns no more than the principal cap; others are still served, and places come back on DELETE and crash', async () => {
    const before = livingChildren();
    const flood = await Promise.all(Array.from({ length: 12 }, () => initialize('alice', 'isolated')));
    const accepted = flood.filter((r) => r.status === 200);
    const refused = flood.filter((r) => r.status !== 200);
    expect(accepted).toHaveLength(2);
    expect(refused).toHaveLength(10);
    for (const r of refused) {
      expect(r.status).toBe(429);
      expect(r.json.error.code).toBe(-32029);
      expect(r.json.error.data).toMatchObject({ reason: 'TOO_MANY_UPSTREAM_SESSIONS', max: 2 });
    }
    const spawned = [...livingChildren()].filter((pid) => !before.has(pid));
    expect(spawned).toHaveLength(2);

    // Bob and carol are not affected by alice's flood.
    const bob = await openSession('bob', 'isolated');
    const carol = await openSession('carol', 'isolated');
    expect(await pidOf('bob', 'isolated', bob)).toMatch(/^\d+$/);

    // The replica's cap (4) is reached: a principal under its own cap gets 503, nothing is spawned.
    const bobSecond = await initialize('bob', 'isolated');
    expect(bobSecond.status).toBe(503);
    expect(bobSecond.json.error.data).toMatchObject({ reason: 'UPSTREAM_CAPACITY', max: 4 });
    expect([...livingChildren()].filter((pid) => !before.has(pid))).toHaveLength(4);

    // DELETE gives the place back.
    const aliceSessions = accepted.map((r) => r.headers.get('mcp-session-id') as string);
    await end('alice', 'isolated', aliceSessions[0] as string);
    const bobAgain = await openSession('bob', 'isolated');
    expect(await pidOf('bob', 'isolated', bobAgain)).toMatch(/^\d+$/);

    // A crashed per-session upstream gives its place back too.
    expect((await initialize('alice', 'isolated')).status).toBe(503);
    await call('carol', 'isolated', carol, 'crash', {});
    const replacement = await until(async () => {
      const r = await initialize('alice', 'isolated');
      return r.status === 200 ? r : undefined;
    });
    expect(replacement.headers.get('mcp-session-id')).toBeTruthy();
  });

  it('13.5: alice and bob flooding a shared upstream cannot hold carol’s call back', async () => {
    const sessions = {
      alice: await openSession('alice', 'slow'),
      bob: await openSession('bob', 'slow'),
      carol: await openSession('carol', 'slow'),
    };
    const finished: string[] = [];
    const flood = (['alice', 'bob'] as const).flatMap((user) =>
      Array.from({ length: 3 }, (_, i) =>
        call(user, 'slow', sessions[user], 'sleep', { ms: 2500, tag: `fair-${user}-${i}` }).then((r) => {
          finished.push(`${user}-${i}`);
          return r;
        }),
      ),
    );
    // Both flooders hold the upstream before carol asks.
    await until(async () =>
      (readFileSync(log, 'utf8').match(/started fair-/g) ?? []).length >= 2 ? true : undefined,
    );
    await new Promise((r) => setTimeout(r, 300));
    const carol = await call('carol', 'slow', sessions.carol, 'echo', { message: 'served' });
    expect(carol.json.result.content[0].text).toBe('served');
    // Carol was answered before any of the flood's calls: she did not queue behind them.
    expect(finished).toEqual([]);
    for (const r of await Promise.all(flood)) expect(r.json.result.content[0].text).toMatch(/^slept fair-/);
  });

  it('13.5 R40: one oversized result fails only that call; the shared upstream keeps serving bob', async () => {
    const sessions = { alice: await openSession('alice', 'shared'), bob: await openSession('bob', 'shared') };
    const pid = await pidOf('bob', 'shared', sessions.bob);
    const bobCall = call('bob', 'shared', sessions.bob, 'sleep', { ms: 1500, tag: 'bob-during-big' });
    await until(async () =>
      readFileSync(log, 'utf8').includes('started bob-during-big') ? true : undefined,
    );
    let bobDone = false;
    void bobCall.then(() => (bobDone = true));

    const big = await call('alice', 'shared', sessions.alice, 'big', { bytes: 4 * 1024 * 1024 });
    expect(big.json.error.data.reason).toBe('UPSTREAM_LIMIT');
    expect(big.json.error.message).toMatch(/maxMessageBytes/);
    // Alice had her answer at once, not when bob's call ended or her own timed out.
    expect(bobDone).toBe(false);

    expect((await bobCall).json.result.content[0].text).toBe('slept bob-during-big');
    expect(await pidOf('bob', 'shared', sessions.bob)).toBe(pid);
    expect(await pidOf('alice', 'shared', sessions.alice)).toBe(pid);
  });

  it('13.5 R40: output with no readable message start still fails only its call, promptly, and the process stays', async () => {
    const sessions = { alice: await openSession('alice', 'shared'), bob: await openSession('bob', 'shared') };
    const pid = await pidOf('bob', 'shared', sessions.bob);
    const flood = await call('alice', 'shared', sessions.alice, 'flood', { bytes: 4 * 1024 * 1024 });
    expect(flood.json.error.data.reason).toBe('UPSTREAM_LIMIT');
    const echo = await call('bob', 'shared', sessions.bob, 'echo', { message: 'still here' });
    expect(echo.json.result.content[0].text).toBe('still here');
    expect(await pidOf('alice', 'shared', sessions.alice)).toBe(pid);
  });
});

describe('13.5 abandoned per-session upstreams', () => {
  const log = join(mkdtempSync(join(tmpdir(), 'upstream-dos-idle-')), 'events.log');
  let gw: RunningGateway;

  beforeAll(async () => {
    gw = await gatewayWith(
      [
        'sessions:\n  idleTtlSeconds: 5\n  upstreamsPerPrincipal: 1',
        'upstreams:',
        unruly('isolated', ['sharing: per-session']),
      ].join('\n'),
      { UNRULY_LOG: log },
    );
  });
  afterAll(async () => gw?.close());

  it('13.5: an abandoned session’s process is reclaimed when the session expires, and its place with it', async () => {
    const url = `${gw.url}/mcp/servers/isolated`;
    const first = await rawPost(url, initializeBody());
    expect(first.status).toBe(200);
    const session = first.headers.get('mcp-session-id') as string;
    const pid = Number(
      (
        await rawPost(
          url,
          JSON.stringify({
            jsonrpc: '2.0',
            id: 2,
            method: 'tools/call',
            params: { name: 'pid', arguments: {} },
          }),
          { 'mcp-session-id': session },
        )
      ).json.result.content[0].text,
    );
    expect((await rawPost(url, initializeBody())).status).toBe(429);
    // Never DELETEd: the session expires and the sweep closes its process.
    await until(async () => (livingChildren().has(pid) ? undefined : true), 20_000);
    expect((await rawPost(url, initializeBody())).status).toBe(200);
  });
});

describe('13.5 a shared legacy HTTP+SSE upstream (every response on one stream)', () => {
  let everything: ChildProcess;
  let idp: StartedDevIdp;
  let gw: RunningGateway & { logs: string[] };
  const sessions: Record<string, string> = {};
  const token: Record<string, string> = {};
  let nextId = 1;

  const echo = (user: string, message: string) =>
    rawPost(
      `${gw.url}/mcp/servers/legacy`,
      JSON.stringify({
        jsonrpc: '2.0',
        id: ++nextId,
        method: 'tools/call',
        params: { name: 'echo', arguments: { message } },
      }),
      { authorization: `Bearer ${token[user]}`, 'mcp-session-id': sessions[user] as string },
    );

  beforeAll(async () => {
    const upstreamPort = await freePort();
    everything = spawn(process.execPath, [serverBin('@modelcontextprotocol/server-everything'), 'sse'], {
      env: { ...process.env, PORT: String(upstreamPort) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    await new Promise<void>((ok) =>
      everything.stderr?.on('data', (c: Buffer) => (c.toString().includes('running') ? ok() : undefined)),
    );
    const port = await freePort();
    idp = await startDevIdp({ resource: `http://127.0.0.1:${port}/mcp` });
    gw = await gatewayWith(
      `auth:
  issuer: ${idp.issuer}
upstreams:
  legacy:
    transport: http
    url: http://127.0.0.1:${upstreamPort}/sse
    sharing: shared
    protocol: legacy
    limits: { maxMessageBytes: 65536, maxStreamBytes: 262144 }
    timeouts: { requestMs: 20000 }
`,
      {},
      [`port: ${port}`],
    );
    for (const user of ['alice', 'bob']) {
      token[user] = await devUserToken(idp, user);
      const init = await rawPost(`${gw.url}/mcp/servers/legacy`, initializeBody(), {
        authorization: `Bearer ${token[user]}`,
      });
      sessions[user] = init.headers.get('mcp-session-id') as string;
    }
  });
  afterAll(async () => {
    await gw?.close();
    await idp?.close();
    everything?.kill();
  });

  it('13.5 R40: an oversized result fails only that call; the one stream keeps serving bob', async () => {
    const big = await echo('alice', 'x'.repeat(100_000));
    expect(big.json.error?.data?.reason).toBe('UPSTREAM_LIMIT');
    expect(big.json.error.message).toMatch(/maxMessageBytes/);
    expect((await echo('bob', 'after')).json.result.content[0].text).toBe('Echo: after');
    expect((await echo('alice', 'me too')).json.result.content[0].text).toBe('Echo: me too');
    expect(gw.logs.join('')).not.toMatch(/upstream connection closed unexpectedly/);
  });

  it('13.5 R40: results adding up past maxStreamBytes on the long-lived stream do not cut it for everyone', async () => {
    for (let i = 0; i < 6; i++) {
      const res = await echo(i % 2 ? 'alice' : 'bob', `${i}`.repeat(50_000));
      expect(res.json.result.content[0].text).toHaveLength(50_006);
    }
    expect((await echo('bob', 'still')).json.result.content[0].text).toBe('Echo: still');
  });
});
