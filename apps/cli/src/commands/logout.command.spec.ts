import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { discover, startMountedDevIdp, type MountedDevIdp } from '../../../../e2e/support/dev-idp';
import { deviceLogin, runCli, storedLogins } from '../auth/__tests__/cli';

/** What the IdP's token endpoint says to a refresh with `refreshToken` (as the CLI's public client). */
async function refreshAnswer(
  idp: MountedDevIdp,
  refreshToken: string,
): Promise<{ status: number; error?: string }> {
  const { token_endpoint: endpoint } = await discover(idp.issuer);
  const response = await fetch(String(endpoint), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: 'gatehouse-cli',
    }),
  });
  const body = (await response.json()) as { error?: string };
  return { status: response.status, ...(body.error !== undefined ? { error: body.error } : {}) };
}

/**
 * `gatehouse logout`, the compiled binary, against the real development IdP mounted under /dev-idp
 * of a bare Fastify server that serves a gateway's RFC 9728 metadata (e2e/dev-idp/mounted-idp.ts).
 */
describe('gatehouse logout', () => {
  let first: MountedDevIdp;
  let second: MountedDevIdp;
  let xdg: string;

  beforeAll(async () => {
    [first, second] = await Promise.all([startMountedDevIdp(), startMountedDevIdp()]);
  });
  afterAll(async () => {
    await first?.close();
    await second?.close();
  });

  beforeEach(() => {
    xdg = mkdtempSync(join(tmpdir(), 'gatehouse-logout-'));
  });
  afterEach(() => rmSync(xdg, { recursive: true, force: true }));

  it('revokes the refresh token at the IdP (RFC 7009) and removes the entry', async () => {
    await deviceLogin(first.url, 'alice', { XDG_CONFIG_HOME: xdg });
    await deviceLogin(second.url, 'bob', { XDG_CONFIG_HOME: xdg });
    const { refreshToken } = storedLogins(xdg)[first.url] ?? {};

    const run = runCli(['logout', '--url', `${first.url}/mcp`], { XDG_CONFIG_HOME: xdg });

    expect(await run.exit).toBe(0);
    expect(run.stderr()).toContain(`Logged out of ${first.url}; the refresh token is revoked at the IdP.`);
    expect(Object.keys(storedLogins(xdg))).toEqual([second.url]);
    expect(await refreshAnswer(first, refreshToken as string)).toEqual({
      status: 400,
      error: 'invalid_grant',
    });
  });

  it('without --url, logs out of the only gateway', async () => {
    await deviceLogin(first.url, 'alice', { XDG_CONFIG_HOME: xdg });

    const run = runCli(['logout'], { XDG_CONFIG_HOME: xdg });

    expect(await run.exit).toBe(0);
    expect(storedLogins(xdg)).toEqual({});
  });

  it('without --url, asks which when there are several, and changes nothing', async () => {
    await deviceLogin(first.url, 'alice', { XDG_CONFIG_HOME: xdg });
    await deviceLogin(second.url, 'bob', { XDG_CONFIG_HOME: xdg });

    const run = runCli(['logout'], { XDG_CONFIG_HOME: xdg });

    expect(await run.exit).toBe(1);
    expect(run.stderr()).toMatch(/logged in to several gateways \(.+\); say which with --url, or use --all/);
    expect(Object.keys(storedLogins(xdg))).toHaveLength(2);
  });

  it('--all revokes and removes every login', async () => {
    await deviceLogin(first.url, 'alice', { XDG_CONFIG_HOME: xdg });
    await deviceLogin(second.url, 'bob', { XDG_CONFIG_HOME: xdg });
    const before = storedLogins(xdg);

    const run = runCli(['logout', '--all'], { XDG_CONFIG_HOME: xdg });

    expect(await run.exit).toBe(0);
    expect(storedLogins(xdg)).toEqual({});
    expect(await refreshAnswer(first, before[first.url]?.refreshToken as string)).toMatchObject({
      error: 'invalid_grant',
    });
    expect(await refreshAnswer(second, before[second.url]?.refreshToken as string)).toMatchObject({
      error: 'invalid_grant',
    });
  });

  it('removes the entry even when the IdP is gone, saying the token stays valid there', async () => {
    const doomed = await startMountedDevIdp();
    await deviceLogin(doomed.url, 'alice', { XDG_CONFIG_HOME: xdg });
    await doomed.close();

    const run = runCli(['logout', '--url', doomed.url], { XDG_CONFIG_HOME: xdg });

    expect(await run.exit).toBe(0);
    expect(run.stderr()).toMatch(/could not revoke the refresh token at the IdP: .*; it stays valid there/);
    expect(storedLogins(xdg)).toEqual({});
  });

  it.each([
    [['logout', '--url', 'https://nowhere.example.com'], 'Not logged in to https://nowhere.example.com'],
    [['logout'], 'Not logged in anywhere'],
  ])('%j with nothing stored says so and succeeds', async (args, message) => {
    const run = runCli(args, { XDG_CONFIG_HOME: xdg });

    expect(await run.exit).toBe(0);
    expect(run.stderr()).toContain(message);
  });

  it('refuses --url with --all', async () => {
    const run = runCli(['logout', '--url', first.url, '--all'], { XDG_CONFIG_HOME: xdg });

    expect(await run.exit).toBe(2);
    expect(run.stderr()).toContain('--url and --all exclude each other');
  });
});
