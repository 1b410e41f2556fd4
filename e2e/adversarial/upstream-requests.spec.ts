import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import type { RunningGateway } from '../../apps/gateway/src/bootstrap';
import { devUserToken, startDevIdp, type StartedDevIdp } from '../support/dev-idp';
import { gatewayWith, rawPost, serverBin } from '../transport/helpers';
import { freePort } from '../transport/processes';

/**
 * Issue 13, points 1 and 7: what an upstream asks (roots/list, sampling/createMessage,
 * elicitation/create) or says (log messages) reaches only the person whose call caused it.
 * Two principals of the real development IdP, the npm filesystem and everything servers over
 * stdio, shared and per-session, 2025 sessions and 2026-07-28 requests.
 */

const MODERN_META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'adversarial', version: '1.0.0' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function textOf(result: unknown): string {
  return JSON.stringify(result ?? null);
}

describe('13.1 and 13.7: upstream requests and notifications reach only their caller', () => {
  let idp: StartedDevIdp;
  let gw: RunningGateway & { logs: string[] };
  let dir: string;
  let allowed: string;
  let outside: string;
  let fifo: string;
  const tokens: Record<string, string> = {};
  const clients: Client[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-s2c-'));
    allowed = join(dir, 'allowed');
    mkdirSync(join(allowed, 'pinned'), { recursive: true });
    writeFileSync(join(allowed, 'inside.txt'), 'inside the allowed directory');
    writeFileSync(join(allowed, 'big.txt'), 'x'.repeat(64 * 1024));
    outside = join(dir, 'outside.txt');
    writeFileSync(outside, 'OUTSIDE-SECRET');
    // A read of a FIFO stays in flight until the test writes to it: bob's long call.
    fifo = join(allowed, 'hold.fifo');
    execFileSync('mkfifo', [fifo]);

    const port = await freePort();
    idp = await startDevIdp({ resource: `http://127.0.0.1:${port}/mcp` });
    const fs = (sharing: string, extra = '') => `
    transport: stdio
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(serverBin('@modelcontextprotocol/server-filesystem'))}, ${JSON.stringify(allowed)}]
    sharing: ${sharing}${extra}`;
    const everything = (sharing: string) => `
    transport: stdio
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(serverBin('@modelcontextprotocol/server-everything'))}, stdio]
    sharing: ${sharing}`;
    gw = await gatewayWith(
      `auth:
  issuer: ${idp.issuer}
upstreams:
  fs:${fs('shared')}
  fsrestart:${fs('shared', '\n    limits: { maxMessageBytes: 4096 }')}
  fsps:${fs('per-session')}
  fsclient:${fs('per-session', '\n    roots: client')}
  fspinned:${fs('per-session', `\n    roots: [${JSON.stringify(`file://${join(allowed, 'pinned')}`)}]`)}
  everything:${everything('shared')}
  everyps:${everything('per-session')}
`,
      {},
      [`port: ${port}`],
    );
    tokens.alice = await devUserToken(idp, 'alice');
    tokens.bob = await devUserToken(idp, 'bob');
  }, 60_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await gw?.close();
    await idp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A 2025-era SDK client session of `user` on `/mcp/servers/<server>`. */
  async function session(
    user: string,
    server: string,
    capabilities: Record<string, unknown>,
    setup: (c: Client) => void = () => undefined,
  ): Promise<Client> {
    const client = new Client(
      { name: `${user}-2025`, version: '1.0.0' },
      { capabilities, versionNegotiation: { mode: 'legacy' } },
    );
    setup(client);
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp/servers/${server}`), {
        requestInit: { headers: { authorization: `Bearer ${tokens[user]}` } },
      }),
    );
    clients.push(client);
    return client;
  }

  /** A 2026-07-28 request of `user` (no session); resolves with the JSON-RPC response. */
  async function modernRpc(user: string, server: string, method: string, params: Record<string, unknown>) {
    const res = await rawPost(
      `${gw.url}/mcp/servers/${server}`,
      JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: { ...params, _meta: MODERN_META } }),
      { authorization: `Bearer ${tokens[user]}` },
    );
    return res.json as { result?: unknown; error?: { code: number; message: string } };
  }

  /** A 2026-07-28 tools/call of `user`. */
  function modernCall(user: string, server: string, name: string, args: Record<string, unknown>) {
    return modernRpc(user, server, 'tools/call', { name, arguments: args });
  }

  /** Bob holds one 2025 call in flight (a read of the FIFO) until the returned release runs. */
  function holdCall(client: Client): () => Promise<void> {
    const held = client
      .callTool({ name: 'read_text_file', arguments: { path: fifo } }, { timeout: 60_000 })
      .catch(() => undefined);
    return async () => {
      await writeFile(fifo, 'released');
      await held;
    };
  }

  /** Bob's 2025 session that declares roots and answers `file:///`, counting how often he was asked. */
  async function bobWithRoots(server: string): Promise<{ client: Client; asked: () => number }> {
    let asked = 0;
    const client = await session('bob', server, { roots: { listChanged: true } }, (c) =>
      c.setRequestHandler('roots/list', async () => {
        asked++;
        return { roots: [{ uri: 'file:///', name: 'everything' }] };
      }),
    );
    return { client, asked: () => asked };
  }

  async function expectConfined(user: string, server: string): Promise<void> {
    const dirs = await modernCall(user, server, 'list_allowed_directories', {});
    expect(textOf(dirs.result)).toContain(allowed);
    const read = await modernCall(user, server, 'read_text_file', { path: outside });
    expect(textOf(read)).not.toContain('OUTSIDE-SECRET');
    const hostname = await modernCall(user, server, 'read_text_file', { path: '/etc/hostname' });
    expect(textOf(hostname)).toMatch(/denied|outside allowed/i);
  }

  it('13.1 R43: bob cannot widen a shared filesystem server’s roots with a 2025 call in flight and a 2026-07-28 call', async () => {
    const bob = await bobWithRoots('fs');
    const release = holdCall(bob.client);
    try {
      await sleep(300);
      // Bob's 2026-07-28 call opens the shared 2026 connection, which asks for roots at start.
      await modernCall('bob', 'fs', 'list_allowed_directories', {});
      await sleep(1500);
      expect(bob.asked()).toBe(0);
      await expectConfined('alice', 'fs');
      await expectConfined('bob', 'fs');
    } finally {
      await release();
    }
    const alice = await session('alice', 'fs', {});
    const read = await alice.callTool({ name: 'read_text_file', arguments: { path: outside } });
    expect(textOf(read)).not.toContain('OUTSIDE-SECRET');
  }, 30_000);

  it('13.1 R43: a shared filesystem server that bob restarts with an oversized result does not come back with his roots', async () => {
    const bob = await bobWithRoots('fsrestart');
    await bob.client.callTool({ name: 'read_text_file', arguments: { path: join(allowed, 'inside.txt') } });
    // Over the message cap: the gateway kills the process and restarts it with backoff.
    await bob.client
      .callTool({ name: 'read_text_file', arguments: { path: join(allowed, 'big.txt') } })
      .catch(() => undefined);
    // Bob keeps calls in flight while the new process starts and asks whoever it can for roots.
    const deadline = Date.now() + 4000;
    while (Date.now() < deadline) {
      await Promise.all(
        Array.from({ length: 3 }, () =>
          bob.client.callTool({ name: 'list_allowed_directories', arguments: {} }).catch(() => undefined),
        ),
      );
      await sleep(20);
    }
    await sleep(500);
    expect(bob.asked()).toBe(0);
    const alice = await session('alice', 'fsrestart', {});
    const dirs = await alice.callTool({ name: 'list_allowed_directories', arguments: {} });
    expect(textOf(dirs)).toContain(allowed);
    const read = await alice.callTool({ name: 'read_text_file', arguments: { path: outside } });
    expect(textOf(read)).not.toContain('OUTSIDE-SECRET');
  }, 30_000);

  it('13.1 R43: a per-session filesystem server is not offered bob’s roots, so he cannot widen even his own process to the gateway host', async () => {
    const bob = await bobWithRoots('fsps');
    await bob.client.sendRootsListChanged();
    await sleep(1000);
    expect(bob.asked()).toBe(0);
    const own = await bob.client.callTool({ name: 'read_text_file', arguments: { path: '/etc/hostname' } });
    expect(textOf(own)).toMatch(/denied|outside allowed/i);
    const read = await bob.client.callTool({ name: 'read_text_file', arguments: { path: outside } });
    expect(textOf(read)).not.toContain('OUTSIDE-SECRET');
    await expectConfined('alice', 'fsps');
  }, 30_000);

  it('13.1 R43: with `roots: client` bob’s roots reach only his own session’s process', async () => {
    const bob = await bobWithRoots('fsclient');
    const release = holdCall(bob.client);
    try {
      await sleep(300);
      await modernCall('bob', 'fsclient', 'list_allowed_directories', {});
      await sleep(1500);
      await expectConfined('alice', 'fsclient');
      await expectConfined('bob', 'fsclient');
    } finally {
      await release();
    }
    const alice = await session('alice', 'fsclient', {});
    const read = await alice.callTool({ name: 'read_text_file', arguments: { path: outside } });
    expect(textOf(read)).not.toContain('OUTSIDE-SECRET');
  }, 30_000);

  it('13.1: roots fixed in config are the gateway’s answer; no client is asked', async () => {
    const bob = await bobWithRoots('fspinned');
    await bob.client.sendRootsListChanged();
    await sleep(1000);
    const dirs = await bob.client.callTool({ name: 'list_allowed_directories', arguments: {} });
    expect(textOf(dirs)).toContain(join(allowed, 'pinned'));
    expect(bob.asked()).toBe(0);
    const read = await bob.client.callTool({ name: 'read_text_file', arguments: { path: outside } });
    expect(textOf(read)).not.toContain('OUTSIDE-SECRET');
    // The server applies roots after its handshake, so the first answer may still show its own.
    let modern = '';
    for (let i = 0; i < 20 && !modern.includes(join(allowed, 'pinned')); i++) {
      if (i > 0) await sleep(200);
      modern = textOf((await modernCall('alice', 'fspinned', 'list_allowed_directories', {})).result);
    }
    expect(modern).toContain(join(allowed, 'pinned'));
  }, 30_000);

  /** Bob: a 2025 session that answers sampling and elicitation, recording what he was shown. */
  async function bobAnswering(server: string) {
    const seen: string[] = [];
    const client = await session('bob', server, { sampling: {}, elicitation: {} }, (c) => {
      c.setRequestHandler('sampling/createMessage', async (request) => {
        seen.push(JSON.stringify(request.params));
        return { model: 'bob', role: 'assistant', content: { type: 'text', text: 'BOB-ANSWER' } };
      });
      c.setRequestHandler('elicitation/create', async (request) => {
        seen.push(JSON.stringify(request.params));
        return { action: 'accept', content: { name: 'BOB-ANSWER' } };
      });
    });
    return { client, seen };
  }

  /** Keeps one of bob's 2025 calls in flight on the everything server for a few seconds. */
  function bobBusy(client: Client): Promise<unknown> {
    return client
      .callTool({ name: 'trigger-long-running-operation', arguments: { duration: 4, steps: 2 } })
      .catch(() => undefined);
  }

  it.each([
    ['everything', 'trigger-sampling-request', { prompt: 'ALICE-PROMPT', maxTokens: 5 }],
    ['everything', 'trigger-elicitation-request', {}],
    ['everyps', 'trigger-sampling-request', { prompt: 'ALICE-PROMPT', maxTokens: 5 }],
    ['everyps', 'trigger-elicitation-request', {}],
  ])(
    '13.1 R43: alice’s 2026-07-28 call to %s (%s) is never answered by bob’s busy 2025 session',
    async (server, tool, args) => {
      const bob = await bobAnswering(server);
      const busy = bobBusy(bob.client);
      await sleep(300);
      const alice = await modernCall('alice', server, tool, args);
      await busy;
      expect(bob.seen).toEqual([]);
      expect(textOf(alice)).not.toContain('BOB-ANSWER');
    },
    30_000,
  );

  it.each([
    ['trigger-sampling-request', { prompt: 'ALICE-PROMPT', maxTokens: 5 }],
    ['trigger-elicitation-request', {}],
  ])(
    '13.1 R43: alice’s 2025 call (%s) on a shared server is asked of alice alone, never of bob',
    async (tool, args) => {
      const bob = await bobAnswering('everything');
      const aliceSeen: string[] = [];
      const alice = await session('alice', 'everything', { sampling: {}, elicitation: {} }, (c) => {
        c.setRequestHandler('sampling/createMessage', async (request) => {
          aliceSeen.push(JSON.stringify(request.params));
          return { model: 'alice', role: 'assistant', content: { type: 'text', text: 'ALICE-ANSWER' } };
        });
        c.setRequestHandler('elicitation/create', async (request) => {
          aliceSeen.push(JSON.stringify(request.params));
          return { action: 'accept', content: { name: 'ALICE-ANSWER' } };
        });
      });
      // Alone in flight: the request is hers, and her answer is her result.
      const own = await alice.callTool({ name: tool, arguments: args });
      expect(textOf(own)).toContain('ALICE-ANSWER');
      expect(aliceSeen).toHaveLength(1);
      // With bob's call in flight too, the gateway cannot tell whose it is: refused, nobody asked.
      const busy = bobBusy(bob.client);
      await sleep(300);
      const crowded = await alice
        .callTool({ name: tool, arguments: args })
        .then(textOf)
        .catch((e: Error) => e.message);
      await busy;
      expect(crowded).not.toContain('BOB-ANSWER');
      expect(bob.seen).toEqual([]);
      expect(gw.logs.join('')).toMatch(/upstream request refused/);
    },
    30_000,
  );

  it('13.7 R43: alice’s log notifications from a shared server never reach bob’s GET stream', async () => {
    const bobLogs: string[] = [];
    const bob = await session('bob', 'everything', {}, (c) =>
      c.setNotificationHandler('notifications/message', (n) => {
        bobLogs.push(JSON.stringify(n.params));
      }),
    );
    await bob.setLoggingLevel('debug');
    const aliceLogs: string[] = [];
    const alice = await session('alice', 'everything', {}, (c) =>
      c.setNotificationHandler('notifications/message', (n) => {
        aliceLogs.push(JSON.stringify(n.params));
      }),
    );
    await alice.setLoggingLevel('debug');
    await alice.callTool({ name: 'toggle-simulated-logging', arguments: {} });
    // The upstream logs every 5 s; alice keeps one call in flight across two of them.
    await alice.callTool(
      { name: 'trigger-long-running-operation', arguments: { duration: 11, steps: 2 } },
      { timeout: 30_000 },
    );
    await alice.callTool({ name: 'toggle-simulated-logging', arguments: {} });
    expect(aliceLogs.length).toBeGreaterThan(0);
    expect(bobLogs).toEqual([]);
  }, 40_000);

  it('13.7 R43: resource updates on alice’s 2026-07-28 connection to a per-session server never reach bob’s GET stream', async () => {
    const bobHeard: string[] = [];
    const bob = await session('bob', 'everyps', {}, (c) => {
      c.setNotificationHandler('notifications/resources/updated', (n) => {
        bobHeard.push(JSON.stringify(n.params));
      });
      c.setNotificationHandler('notifications/message', (n) => {
        bobHeard.push(JSON.stringify(n.params));
      });
    });
    await bob.setLoggingLevel('debug');
    const uri = 'demo://resource/static/document/architecture.md';
    // 2026-07-28 removed resources/subscribe: the gateway answers -32601 itself (13.8) and
    // nothing is subscribed; whatever alice's connection still announces must not reach bob.
    expect((await modernRpc('alice', 'everyps', 'resources/subscribe', { uri })).error?.code).toBe(-32601);
    await modernCall('alice', 'everyps', 'toggle-subscriber-updates', {});
    try {
      // The upstream announces updates of subscribed resources every 5 s.
      await sleep(6500);
    } finally {
      await modernCall('alice', 'everyps', 'toggle-subscriber-updates', {});
    }
    expect(bobHeard).toEqual([]);
  }, 30_000);
});
