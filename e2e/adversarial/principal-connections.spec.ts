import type { RunningGateway } from '../../apps/gateway/src/bootstrap';
import { devUserToken, startDevIdp, type StartedDevIdp } from '../support/dev-idp';
import { gatewayWith, rawPost, serverBin } from '../transport/helpers';
import { freePort } from '../transport/processes';

/**
 * Issue 13, points 1 and 5 together: a `per-session` server serves 2026-07-28 calls (which have no
 * session) on one connection per principal. Those connections are processes too, so they count in
 * the same per-principal cap as sessions' connections, and the idle close gives their place back.
 * Real dev IdP, real `server-everything` over stdio, two principals.
 */
const META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'adversarial', version: '1.0.0' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

describe('13.1 and 13.5: 2026-07-28 connections to per-session servers, per principal', () => {
  let idp: StartedDevIdp;
  let gw: RunningGateway;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    const port = await freePort();
    idp = await startDevIdp({ resource: `http://127.0.0.1:${port}/mcp` });
    const everything = `
    transport: stdio
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(serverBin('@modelcontextprotocol/server-everything'))}, stdio]
    sharing: per-session`;
    gw = await gatewayWith(
      `auth:
  issuer: ${idp.issuer}
sessions:
  upstreamsPerPrincipal: 1
  principalConnectionIdleSeconds: 1
upstreams:
  one:${everything}
  two:${everything}
`,
      {},
      [`port: ${port}`],
    );
    tokens.alice = await devUserToken(idp, 'alice');
    tokens.bob = await devUserToken(idp, 'bob');
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await idp?.close();
  });

  async function echo(user: string, server: string) {
    const res = await rawPost(
      `${gw.url}/mcp/servers/${server}`,
      JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'echo', arguments: { message: `${user} on ${server}` }, _meta: META },
      }),
      { authorization: `Bearer ${tokens[user]}` },
    );
    return res as { status: number; json: { result?: unknown; error?: { data?: unknown } } };
  }

  it('13.5: a principal’s 2026-07-28 connections count in the per-principal cap, and the idle close gives the place back', async () => {
    expect(JSON.stringify((await echo('alice', 'one')).json.result)).toContain('alice on one');
    // Her connection to `one` holds her only place: a second server would be a second process.
    const refused = await echo('alice', 'two');
    expect(refused.status).toBe(429);
    expect(refused.json.error?.data).toMatchObject({ reason: 'TOO_MANY_UPSTREAM_SESSIONS', max: 1 });
    // The cap is hers, not everyone's: bob gets his own connection to `two`.
    expect(JSON.stringify((await echo('bob', 'two')).json.result)).toContain('bob on two');
    // Once unused for the idle period her connection to `one` is closed and its place given back.
    let answer: Awaited<ReturnType<typeof echo>> | undefined;
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      answer = await echo('alice', 'two');
      if (answer.status === 200) break;
    }
    expect(JSON.stringify(answer?.json.result)).toContain('alice on two');
  }, 45_000);
});
