import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { RunningGateway } from '../../apps/gateway/src/bootstrap';
import { eventually, FAST_RETRY, startHost, type Host } from '../../apps/cli/src/bridge/__tests__/host';
import {
  COMPLETE_LINK,
  credentialsPath,
  fileMode,
  runCli,
  storedLogins,
} from '../../apps/cli/src/auth/__tests__/cli';
import type { StoredLogin } from '../../apps/cli/src/auth/credential-store';
import {
  approveDevice,
  authorizeAs,
  devUserToken,
  discover,
  startDevIdp,
  type StartedDevIdp,
} from '../support/dev-idp';
import { demoUpstreamsYaml, gatewayWith } from '../transport/helpers';
import { freePort } from '../transport/processes';

/** Access tokens live two seconds, so the bridge must refresh them while the tests run. */
const ACCESS_TOKEN_TTL_S = 2;

function text(result: unknown): string {
  return (result as { content: Array<{ text?: string }> }).content.map((c) => c.text ?? '').join('');
}

/**
 * The path a person takes on a new machine: `gatehouse login` against the real gateway, whose
 * `auth.issuer` is the real development IdP (oidc-provider), then an agent host starting
 * `gatehouse bridge` with no token of its own. Everything runs as it would for them: the compiled
 * CLI as child processes with their own `XDG_CONFIG_HOME`, the IdP's pages driven over HTTP by the
 * harness's small browser, a real SDK v2 Client as the host, the npm `everything` server upstream.
 */
describe('gatehouse login, then the bridge, against the real gateway and IdP', () => {
  let idp: StartedDevIdp;
  let gateway: RunningGateway & { logs: string[] };
  let resource: string;
  let xdg: string;
  const hosts: Host[] = [];

  beforeAll(async () => {
    // The IdP must know the gateway's resource URI before the gateway starts: its port comes first.
    const port = await freePort();
    resource = `http://127.0.0.1:${port}/mcp`;
    idp = await startDevIdp({ resource, accessTokenTtlSeconds: ACCESS_TOKEN_TTL_S });
    gateway = await gatewayWith(`auth:\n  issuer: ${idp.issuer}\n${demoUpstreamsYaml('shared')}`, {}, [
      `port: ${port}`,
    ]);
  });

  afterAll(async () => {
    for (const host of hosts) await host.close();
    await gateway?.close();
    await idp?.close();
  });

  beforeEach(() => {
    xdg = mkdtempSync(join(tmpdir(), 'gatehouse-e2e-login-'));
  });

  afterEach(async () => {
    for (const host of hosts.splice(0)) await host.close();
    rmSync(xdg, { recursive: true, force: true });
  });

  async function bridge(env: Record<string, string> = { XDG_CONFIG_HOME: xdg }): Promise<Host> {
    const host = await startHost(`${gateway.url}/mcp`, { env });
    hosts.push(host);
    return host;
  }

  /** `gatehouse login` with the device code, approved as `user` on the IdP's pages. */
  async function deviceLoginAs(user: string) {
    const run = runCli(['login', '--url', gateway.url], { XDG_CONFIG_HOME: xdg });
    const [, link] = await run.waitFor(COMPLETE_LINK);
    await approveDevice(link as string, user);
    const status = await run.exit;
    return { status, stdout: run.stdout(), stderr: run.stderr() };
  }

  function login(): StoredLogin {
    return storedLogins(xdg)[gateway.url] as StoredLogin;
  }

  /** Subjects of the gateway sessions opened so far, oldest first. */
  function sessionSubjects(): string[] {
    return gateway.logs
      .filter((line) => line.includes('session opened'))
      .map((line) => (JSON.parse(line) as { principal: { subject: string } }).principal.subject);
  }

  /** Waits until the stored access token has expired, so the next request needs a refresh. */
  async function untilExpired(): Promise<void> {
    const expiresAt = Date.parse(login().expiresAt);
    await eventually(() => Date.now() > expiresAt, 'the stored access token to expire', 10_000);
  }

  async function revokeAtIdp(token: string): Promise<void> {
    const { revocation_endpoint: endpoint } = await discover(idp.issuer);
    const response = await fetch(String(endpoint), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token, token_type_hint: 'refresh_token', client_id: 'gatehouse-cli' }),
    });
    expect(response.status).toBe(200);
  }

  it('logs in with the device code as alice: the file is 0600 and no token reaches the terminal', async () => {
    const { status, stdout, stderr } = await deviceLoginAs('alice');

    expect(status).toBe(0);
    expect(stderr).toContain(`Signed in to ${gateway.url} as alice`);
    expect(stderr).toContain(`gatehouse bridge --url ${gateway.url}/mcp`);
    expect(fileMode(credentialsPath(xdg))).toBe(0o600);
    expect(fileMode(join(xdg, 'gatehouse'))).toBe(0o700);
    const stored = login();
    expect(stored).toMatchObject({ issuer: idp.issuer, clientId: 'gatehouse-cli', resource });
    for (const secret of [stored.accessToken, stored.refreshToken as string]) {
      expect(stdout + stderr).not.toContain(secret);
    }
  });

  it('the bridge calls a tool as alice with the stored login, refreshing the short-lived token as it goes', async () => {
    await deviceLoginAs('alice');
    const host = await bridge();

    const first = await host.client.callTool({ name: 'everything__echo', arguments: { message: 'one' } });
    const afterFirst = login();
    await untilExpired();
    const second = await host.client.callTool({ name: 'everything__echo', arguments: { message: 'two' } });
    const afterSecond = login();

    expect(text(first)).toBe('Echo: one');
    expect(text(second)).toBe('Echo: two');
    expect(sessionSubjects().at(-1)).toBe('alice');
    // The refresh token rotates at each refresh, and the bridge saved the new one.
    expect(afterSecond.refreshToken).not.toBe(afterFirst.refreshToken);
    expect(afterSecond.accessToken).not.toBe(afterFirst.accessToken);
    expect(host.stderr()).toContain('access token refreshed');
    for (const secret of [
      afterFirst.accessToken,
      afterSecond.accessToken,
      afterSecond.refreshToken as string,
    ]) {
      expect(host.stderr()).not.toContain(secret);
    }
  });

  it('after a 401 the bridge refreshes once and the request goes through', async () => {
    await deviceLoginAs('alice');
    // A token the bridge believes good but the gateway refuses (say the IdP rotated its keys):
    // the signature is spoilt and the expiry pushed out, so only the gateway's 401 can reveal it.
    const stored = login();
    const [header, payload] = stored.accessToken.split('.');
    const spoilt: StoredLogin = {
      ...stored,
      accessToken: `${header}.${payload}.c3BvaWx0`,
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    };
    const path = credentialsPath(xdg);
    const file = JSON.parse(readFileSync(path, 'utf8')) as { logins: Record<string, StoredLogin> };
    file.logins[gateway.url] = spoilt;
    writeFileSync(path, JSON.stringify(file));

    const host = await bridge();
    const result = await host.client.callTool({
      name: 'everything__echo',
      arguments: { message: 'retried' },
    });

    expect(text(result)).toBe('Echo: retried');
    expect(login().accessToken).not.toBe(spoilt.accessToken);
    expect(host.stderr().match(/access token refreshed/g)).toHaveLength(1);
  });

  it('when the refresh token is revoked, the pending call gets an error naming the command, and stderr says it', async () => {
    await deviceLoginAs('alice');
    const host = await bridge();
    await host.client.callTool({ name: 'everything__echo', arguments: { message: 'before' } });

    await revokeAtIdp(login().refreshToken as string);
    await untilExpired();
    const call = host.client.callTool({ name: 'everything__echo', arguments: { message: 'after' } });

    const remedy = `the login for ${gateway.url} has expired or was revoked: run \`gatehouse login --url ${gateway.url}\``;
    await expect(call).rejects.toMatchObject({ code: -32018 });
    await expect(call).rejects.toThrow(remedy);
    expect(host.stderr()).toContain(remedy);
  });

  it('a new login in another terminal heals the running bridge', async () => {
    await deviceLoginAs('alice');
    const host = await bridge();
    await revokeAtIdp(login().refreshToken as string);
    await untilExpired();
    await expect(
      host.client.callTool({ name: 'everything__echo', arguments: { message: 'refused' } }),
    ).rejects.toMatchObject({ code: -32018 });

    expect((await deviceLoginAs('alice')).status).toBe(0);
    const result = await host.client.callTool({ name: 'everything__echo', arguments: { message: 'healed' } });

    expect(text(result)).toBe('Echo: healed');
    expect(host.stderr()).toContain('using the new login');
  });

  it('falls back to the browser: --no-device --no-browser, the printed address, the loopback redirect', async () => {
    const run = runCli(['login', '--url', gateway.url, '--no-device', '--no-browser'], {
      XDG_CONFIG_HOME: xdg,
    });
    const [, address] = await run.waitFor(/open this page in a browser on this machine:\s+(\S+)/);

    const back = await authorizeAs(address as string, 'bob');
    expect(back.href.startsWith('http://127.0.0.1:')).toBe(true);
    expect((await fetch(back)).status).toBe(200);
    expect(await run.exit).toBe(0);

    const host = await bridge();
    const result = await host.client.callTool({ name: 'everything__echo', arguments: { message: 'bob' } });
    expect(text(result)).toBe('Echo: bob');
    expect(sessionSubjects().at(-1)).toBe('bob');
  });

  it('gatehouse logout removes the entry and revokes the login; the bridge then says how to log in', async () => {
    await deviceLoginAs('alice');
    const { refreshToken } = login();

    const run = runCli(['logout', '--url', `${gateway.url}/mcp`], { XDG_CONFIG_HOME: xdg });

    expect(await run.exit).toBe(0);
    expect(storedLogins(xdg)).toEqual({});
    const { token_endpoint: endpoint } = await discover(idp.issuer);
    const refresh = await fetch(String(endpoint), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: refreshToken as string,
        client_id: 'gatehouse-cli',
      }),
    });
    expect(refresh.status).toBe(400);
    await expect(bridge()).rejects.toThrow(`run \`gatehouse login --url ${gateway.url}\``);
  });

  it('with neither a token nor a login, the bridge says how to log in', async () => {
    const attempt = bridge();

    await expect(attempt).rejects.toMatchObject({ code: -32018 });
    await expect(attempt).rejects.toThrow(
      `the gateway at ${gateway.url} requires sign-in and there is no login for it: run \`gatehouse login --url ${gateway.url}\``,
    );
  });

  it('$GATEHOUSE_TOKEN still wins over a stored login', async () => {
    await deviceLoginAs('alice');

    const host = await bridge({ XDG_CONFIG_HOME: xdg, GATEHOUSE_TOKEN: await devUserToken(idp, 'carol') });
    await host.client.callTool({ name: 'everything__echo', arguments: { message: 'carol' } });

    expect(sessionSubjects().at(-1)).toBe('carol');
  });
});

/**
 * Gateways that refuse what the login carries, each with its own development IdP: the bridge must
 * say which and what to do, not leave the host guessing.
 */
describe('the bridge against a gateway that refuses the login', () => {
  const started: Array<{ close(): Promise<void> }> = [];
  let xdg: string;

  afterEach(async () => {
    for (const thing of started.splice(0).reverse()) await thing.close();
    rmSync(xdg, { recursive: true, force: true });
  });

  /** A gateway whose `auth:` has `extra` keys, and its IdP, with alice logged in to it. */
  async function loggedInTo(extra: string, accessTokenTtlSeconds?: number) {
    xdg = mkdtempSync(join(tmpdir(), 'gatehouse-e2e-refused-'));
    const port = await freePort();
    const idp = await startDevIdp({
      resource: `http://127.0.0.1:${port}/mcp`,
      ...(accessTokenTtlSeconds !== undefined ? { accessTokenTtlSeconds } : {}),
    });
    started.push(idp);
    const gateway = await gatewayWith(
      `auth:\n  issuer: ${idp.issuer}\n${extra}${demoUpstreamsYaml('shared')}`,
      {},
      [`port: ${port}`],
    );
    started.push(gateway);
    const run = runCli(['login', '--url', gateway.url], { XDG_CONFIG_HOME: xdg });
    const [, link] = await run.waitFor(COMPLETE_LINK);
    await approveDevice(link as string, 'alice');
    expect(await run.exit).toBe(0);
    return { gateway, idp };
  }

  it('a token type the gateway does not take: refused even after a refresh, the host is told to log in again', async () => {
    const { gateway } = await loggedInTo('  typ: secevent+jwt\n');

    const attempt = startHost(`${gateway.url}/mcp`, { env: { XDG_CONFIG_HOME: xdg } });
    started.push({ close: async () => (await attempt.catch(() => undefined))?.close() });

    await expect(attempt).rejects.toMatchObject({ code: -32018 });
    await expect(attempt).rejects.toThrow(
      `the gateway refused the login for ${gateway.url} even after refreshing it; run \`gatehouse login --url ${gateway.url}\``,
    );
  });

  it('a scope the IdP does not grant: the host hears which scope and what to run', async () => {
    const { gateway } = await loggedInTo('  requiredScopes: [payroll]\n');

    const attempt = startHost(`${gateway.url}/mcp`, { env: { XDG_CONFIG_HOME: xdg } });
    started.push({ close: async () => (await attempt.catch(() => undefined))?.close() });

    await expect(attempt).rejects.toMatchObject({ code: -32011 });
    await expect(attempt).rejects.toThrow(
      `the gateway requires scopes that the login for ${gateway.url} lacks (Insufficient scope: required "payroll"); run \`gatehouse login --url ${gateway.url}\``,
    );
  });

  it('an IdP that is down when the token expires: the call fails with IDP_UNREACHABLE after the retries', async () => {
    const { gateway, idp } = await loggedInTo('', ACCESS_TOKEN_TTL_S);
    const host = await startHost(`${gateway.url}/mcp`, { env: { XDG_CONFIG_HOME: xdg }, args: FAST_RETRY });
    started.push(host);
    await host.client.callTool({ name: 'everything__echo', arguments: { message: 'up' } });

    await idp.close();
    const expiresAt = Date.parse((storedLogins(xdg)[gateway.url] as StoredLogin).expiresAt);
    await eventually(() => Date.now() > expiresAt, 'the stored access token to expire', 10_000);
    const call = host.client.callTool({ name: 'everything__echo', arguments: { message: 'down' } });

    await expect(call).rejects.toMatchObject({ code: -32019 });
    await expect(call).rejects.toThrow(
      // Whether the bridge had discovered the IdP before it went down depends on when it first refreshed.
      new RegExp(
        `(cannot discover the IdP at ${idp.issuer}|cannot refresh the access token for ${gateway.url} at the IdP ${idp.issuer}): ` +
          `.*ECONNREFUSED.* \\(\\d+ attempts over \\d+ ms\\)`,
      ),
    );
  });
});
