import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { closedPort } from '../../../../e2e/support/closed-port';
import { authorizeAs, startMountedDevIdp, type MountedDevIdp } from '../../../../e2e/support/dev-idp';
import { eventually } from '../bridge/__tests__/host';
import {
  COMPLETE_LINK,
  credentialsPath,
  deviceLogin,
  fileMode,
  runCli,
  storedLogins,
} from '../auth/__tests__/cli';

/**
 * `gatehouse login`, the compiled binary, against the real development IdP (oidc-provider) mounted
 * under /dev-idp of a bare Fastify server that serves a gateway's RFC 9728 metadata
 * (e2e/dev-idp/mounted-idp.ts). The same flows against the real gateway, followed by the bridge,
 * are in e2e/bridge-login.
 */
describe('gatehouse login', () => {
  let gateway: MountedDevIdp;
  let xdg: string;

  beforeAll(async () => {
    gateway = await startMountedDevIdp();
  });
  afterAll(() => gateway?.close());

  beforeEach(() => {
    xdg = mkdtempSync(join(tmpdir(), 'gatehouse-login-'));
  });

  /**
   * A stand-in `xdg-open` first on PATH that writes the address it was given to a file: the
   * desktop's opener is the one part with no real counterpart here.
   */
  function fakeOpener(): { env: Record<string, string>; opened: string } {
    const bin = join(xdg, 'bin');
    mkdirSync(bin);
    const opened = join(xdg, 'opened-url');
    writeFileSync(join(bin, 'xdg-open'), `#!/bin/sh\nprintf '%s' "$1" > '${opened}'\n`, { mode: 0o755 });
    return { env: { PATH: `${bin}:${process.env.PATH ?? ''}`, XDG_CONFIG_HOME: xdg }, opened };
  }
  afterEach(() => rmSync(xdg, { recursive: true, force: true }));

  it('signs in with the device code, stores the tokens 0600 under the gateway, and never prints one', async () => {
    const { status, stdout, stderr } = await deviceLogin(gateway.url, 'alice', { XDG_CONFIG_HOME: xdg });

    expect(status).toBe(0);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/open this page in a browser on any device:\s+\S+\/device/);
    expect(stderr).toMatch(/and enter the code:\s+[A-Z]{4}-[A-Z]{4}/);
    expect(stderr).toContain(`Signed in to ${gateway.url} as alice`);
    expect(fileMode(credentialsPath(xdg))).toBe(0o600);
    expect(fileMode(join(xdg, 'gatehouse'))).toBe(0o700);
    const login = storedLogins(xdg)[gateway.url];
    expect(login).toMatchObject({
      gateway: gateway.url,
      issuer: gateway.issuer,
      clientId: 'gatehouse-cli',
      resource: gateway.resource,
      refreshToken: expect.any(String),
      accessToken: expect.any(String),
    });
    expect(stderr).not.toContain(login?.accessToken);
    expect(stderr).not.toContain(login?.refreshToken);
    // The access token is for the gateway (RFC 8707), not for the IdP.
    const claims = JSON.parse(
      Buffer.from((login?.accessToken ?? '').split('.')[1] ?? '', 'base64url').toString(),
    ) as { aud: string; sub: string };
    expect(claims).toMatchObject({ aud: gateway.resource, sub: 'alice' });
  });

  it('finds the gateway from its /mcp URL and keeps one entry per gateway', async () => {
    const other = await startMountedDevIdp();
    try {
      await deviceLogin(`${gateway.url}/mcp`, 'alice', { XDG_CONFIG_HOME: xdg });
      await deviceLogin(other.url, 'bob', { XDG_CONFIG_HOME: xdg });

      const logins = storedLogins(xdg);
      expect(Object.keys(logins).sort()).toEqual([gateway.url, other.url].sort());
      expect(logins[other.url]?.issuer).toBe(other.issuer);
    } finally {
      await other.close();
    }
  });

  it('falls back to the browser with a loopback redirect: --no-device --no-browser prints the address', async () => {
    const opener = fakeOpener();
    const run = runCli(['login', '--url', gateway.url, '--no-device', '--no-browser'], opener.env);
    const [, address] = await run.waitFor(/open this page in a browser on this machine:\s+(\S+)/);
    const authorization = new URL(address as string);
    expect(authorization.href.startsWith(`${gateway.issuer}/`)).toBe(true);
    expect(authorization.searchParams.get('redirect_uri')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    expect(authorization.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorization.searchParams.get('resource')).toBe(gateway.resource);

    const back = await authorizeAs(authorization, 'bob');
    const page = await fetch(back);

    expect(page.status).toBe(200);
    expect(await run.exit).toBe(0);
    expect(run.stderr()).toContain(`Signed in to ${gateway.url} as bob`);
    expect(storedLogins(xdg)[gateway.url]?.refreshToken).toEqual(expect.any(String));
    expect(existsSync(opener.opened)).toBe(false);
  });

  it('opens the system browser on the authorization address unless told not to, and prints it too', async () => {
    const opener = fakeOpener();
    const run = runCli(['login', '--url', gateway.url, '--no-device'], opener.env);

    await eventually(() => existsSync(opener.opened), 'xdg-open to be run');
    const address = readFileSync(opener.opened, 'utf8');
    const [, printed] = await run.waitFor(/finish in your browser; if no window opened, [^:]+:\s+(\S+)/);
    expect(printed).toBe(address);
    await fetch(await authorizeAs(address, 'carol'));

    expect(await run.exit).toBe(0);
    expect(run.stderr()).toContain(`Signed in to ${gateway.url} as carol`);
  });

  it('gives up on a browser that never comes back, saying what to run', async () => {
    const run = runCli(['login', '--url', gateway.url, '--no-device', '--no-browser', '--timeout', '1'], {
      XDG_CONFIG_HOME: xdg,
    });

    expect(await run.exit).toBe(1);
    expect(run.stderr()).toContain(
      `no sign-in came back from the browser within 1 s; run \`gatehouse login --url ${gateway.url}\` again`,
    );
  });

  it('stops on Ctrl-C while waiting for the device approval, storing nothing', async () => {
    const run = runCli(['login', '--url', gateway.url], { XDG_CONFIG_HOME: xdg });
    await run.waitFor(COMPLETE_LINK);

    run.child.kill('SIGINT');

    expect(await run.exit).toBe(130);
    expect(run.stderr()).toContain('login stopped; nothing was stored');
    expect(() => storedLogins(xdg)).toThrow(/ENOENT/);
  });

  it('says the gateway does not ask for sign-in when it publishes no metadata', async () => {
    const bare = await startMountedDevIdp({ withoutMetadata: true });
    try {
      const run = runCli(['login', '--url', bare.url], { XDG_CONFIG_HOME: xdg });

      expect(await run.exit).toBe(1);
      expect(run.stderr()).toContain(`the gateway at ${bare.url} does not ask for sign-in`);
    } finally {
      await bare.close();
    }
  });

  it('says the gateway cannot be reached', async () => {
    const port = await closedPort();
    const run = runCli(['login', '--url', `http://127.0.0.1:${port}`], { XDG_CONFIG_HOME: xdg });

    expect(await run.exit).toBe(1);
    expect(run.stderr()).toMatch(/cannot reach the gateway at http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
  });

  it('refuses, before any sign-in, to add a login to a credentials file other users can read', async () => {
    await deviceLogin(gateway.url, 'alice', { XDG_CONFIG_HOME: xdg });
    chmodSync(credentialsPath(xdg), 0o644);

    const run = runCli(['login', '--url', gateway.url], { XDG_CONFIG_HOME: xdg });

    expect(await run.exit).toBe(1);
    expect(run.stderr()).toContain(`chmod 600 ${credentialsPath(xdg)}`);
    // Refused before the person is sent to sign in for nothing.
    expect(run.stderr()).not.toMatch(COMPLETE_LINK);
  });

  it.each([
    [['login'], /required option '--url <url>'/],
    [['login', '--url', 'ftp://example.com'], /http:\/\/ or https:\/\//],
    [['login', '--url', 'http://127.0.0.1:1', '--timeout', '0'], /whole number of seconds/],
    [['login', '--url', 'http://127.0.0.1:1', '--cert', '/nonexistent.pem'], /--cert and --key go together/],
  ])('refuses %j before any request', async (args, message) => {
    const run = runCli(args, { XDG_CONFIG_HOME: xdg });

    expect(await run.exit).not.toBe(0);
    expect(run.stderr()).toMatch(message);
  });
});
