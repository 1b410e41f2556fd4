import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { discover, startMountedDevIdp, type MountedDevIdp } from '../../../../e2e/support/dev-idp';
import { credentialsPath, deviceLogin, runCli, storedLogins } from './__tests__/cli';
import { CredentialStore } from './credential-store';
import { LoginErrorCode } from './errors';
import { LoginTokenSource, type TokenLog } from './token-source';

/** A TokenLog that keeps its lines. */
function recordingLog(): TokenLog & { lines: string[]; secrets: Set<string> } {
  const lines: string[] = [];
  const secrets = new Set<string>();
  const line = (level: string) => (msg: string, fields?: Record<string, unknown>) =>
    void lines.push(`${level} ${msg}${fields ? ` ${JSON.stringify(fields)}` : ''}`);
  return {
    lines,
    secrets,
    info: line('info'),
    warn: line('warn'),
    error: line('error'),
    redact: (...values) => values.forEach((v) => secrets.add(v)),
  };
}

/** Revokes a refresh token at the IdP the way another device or an administrator would (RFC 7009). */
async function revokeAtIdp(idp: MountedDevIdp, token: string): Promise<void> {
  const { revocation_endpoint: endpoint } = await discover(idp.issuer);
  const response = await fetch(String(endpoint), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token, token_type_hint: 'refresh_token', client_id: 'gatehouse-cli' }),
  });
  expect(response.status).toBe(200);
}

const MINUTE = 60_000;

/**
 * The bridge's token source against the real development IdP (oidc-provider, rotating refresh
 * tokens with replay detection) mounted behind a gateway's RFC 9728 metadata
 * (e2e/dev-idp/mounted-idp.ts). Logins are made with the compiled `gatehouse login`; the clock of
 * the source is moved instead of waiting for tokens to age.
 */
describe('bridge token source (stored login)', () => {
  let idp: MountedDevIdp;
  let xdg: string;
  let store: CredentialStore;

  beforeAll(async () => {
    idp = await startMountedDevIdp();
  });
  afterAll(() => idp?.close());

  beforeEach(() => {
    xdg = mkdtempSync(join(tmpdir(), 'gatehouse-tokens-'));
    store = new CredentialStore(credentialsPath(xdg));
  });
  afterEach(() => rmSync(xdg, { recursive: true, force: true }));

  function source(log = recordingLog(), skewMs = 0, gateway = idp.url) {
    return {
      log,
      tokens: new LoginTokenSource({ store, gateway, log, now: () => Date.now() + skewMs }),
    };
  }

  async function loggedIn(user = 'alice', gateway: MountedDevIdp = idp) {
    const { status, stderr } = await deviceLogin(gateway.url, user, { XDG_CONFIG_HOME: xdg });
    expect({ status, stderr }).toMatchObject({ status: 0 });
    return storedLogins(xdg)[gateway.url];
  }

  it('sends the stored access token while it is fresh, without a refresh', async () => {
    const stored = await loggedIn();
    const { tokens, log } = source();
    await tokens.load();

    expect(await tokens.token()).toBe(stored?.accessToken);
    expect(storedLogins(xdg)[idp.url]).toEqual(stored);
    expect(log.secrets).toEqual(new Set([stored?.accessToken, stored?.refreshToken]));
  });

  it('refreshes shortly before expiry and stores the rotated refresh token', async () => {
    const stored = await loggedIn();
    // Four and a half minutes into a five-minute token: inside the refresh margin.
    const { tokens, log } = source(recordingLog(), 4.5 * MINUTE);
    await tokens.load();

    const token = await tokens.token();

    const now = storedLogins(xdg)[idp.url];
    expect(token).not.toBe(stored?.accessToken);
    expect(now?.accessToken).toBe(token);
    expect(now?.refreshToken).not.toBe(stored?.refreshToken);
    expect(log.secrets.has(token as string)).toBe(true);
    expect(log.lines.filter((l) => l.startsWith('info access token refreshed'))).toHaveLength(1);
  });

  it('two bridges sharing a login refresh once; the second adopts the tokens instead of replaying the refresh token', async () => {
    await loggedIn();
    const first = source(recordingLog(), 10 * MINUTE);
    const second = source(recordingLog(), 10 * MINUTE);
    await first.tokens.load();
    await second.tokens.load();

    const [a, b] = await Promise.all([first.tokens.token(), second.tokens.token()]);

    expect(a).toBe(b);
    const refreshes = [...first.log.lines, ...second.log.lines].filter((l) =>
      l.includes('access token refreshed'),
    );
    expect(refreshes).toHaveLength(1);
    // oidc-provider revokes the whole grant when a rotated refresh token is replayed; it was not.
    const third = source(recordingLog(), 20 * MINUTE);
    await third.tokens.load();
    await expect(third.tokens.token()).resolves.toEqual(expect.any(String));
  });

  it('after a 401, gets a new token even while the old one looks fresh, once for concurrent 401s', async () => {
    const stored = await loggedIn();
    const { tokens, log } = source();
    await tokens.load();

    await Promise.all([tokens.onUnauthorized(), tokens.onUnauthorized(), tokens.onUnauthorized()]);

    expect(await tokens.token()).not.toBe(stored?.accessToken);
    expect(log.lines.filter((l) => l.includes('access token refreshed'))).toHaveLength(1);
  });

  it('a revoked login: says once what to run, fails every request, and never sends the dead refresh token again', async () => {
    const stored = await loggedIn();
    await revokeAtIdp(idp, stored?.refreshToken as string);
    const { tokens, log } = source(recordingLog(), 10 * MINUTE);
    await tokens.load();
    const remedy = `the login for ${idp.url} has expired or was revoked: run \`gatehouse login --url ${idp.url}\``;

    await expect(tokens.token()).rejects.toMatchObject({
      code: LoginErrorCode.LOGIN_REQUIRED,
      message: remedy,
    });
    await expect(tokens.token()).rejects.toThrow(remedy);
    await expect(tokens.onUnauthorized()).rejects.toThrow(remedy);

    expect(log.lines.filter((l) => l.startsWith('error'))).toEqual([`error ${remedy}`]);
    expect(log.lines.filter((l) => l.includes('the IdP refused the refresh token'))).toHaveLength(1);
  });

  it('picks up a login made meanwhile in another terminal, without a restart', async () => {
    const stored = await loggedIn();
    await revokeAtIdp(idp, stored?.refreshToken as string);
    const { tokens, log } = source(recordingLog(), 10 * MINUTE);
    await tokens.load();
    await expect(tokens.token()).rejects.toMatchObject({ code: LoginErrorCode.LOGIN_REQUIRED });

    const renewed = await loggedIn('alice');
    const token = await tokens.token();

    expect(token).toEqual(expect.any(String));
    expect(storedLogins(xdg)[idp.url]?.refreshToken).not.toBe(renewed?.refreshToken);
    expect(log.lines).toContain(`info using the new login {"gateway":"${idp.url}"}`);
  });

  it('with no login sends no token, and a 401 says how to log in', async () => {
    const { tokens, log } = source();
    expect(await tokens.load()).toBeUndefined();

    expect(await tokens.token()).toBeUndefined();
    await expect(tokens.onUnauthorized()).rejects.toThrow(
      `the gateway at ${idp.url} requires sign-in and there is no login for it: run \`gatehouse login --url ${idp.url}\` (or set a token in $GATEHOUSE_TOKEN)`,
    );
    expect(log.lines.filter((l) => l.startsWith('error'))).toHaveLength(1);
  });

  it('after a logout elsewhere, a 401 says how to log in again', async () => {
    await loggedIn();
    const { tokens } = source();
    await tokens.load();
    expect(await runCli(['logout', '--url', idp.url], { XDG_CONFIG_HOME: xdg }).exit).toBe(0);

    await expect(tokens.onUnauthorized()).rejects.toThrow(/there is no login for it: run `gatehouse login/);
  });

  it('keeps using an unexpired token while the IdP is down, then says the IdP is unreachable', async () => {
    const doomed = await startMountedDevIdp();
    try {
      await loggedIn('alice', doomed);
    } finally {
      await doomed.close();
    }
    const stored = storedLogins(xdg)[doomed.url];
    const almost = source(recordingLog(), 4.5 * MINUTE, doomed.url);
    const expired = source(recordingLog(), 6 * MINUTE, doomed.url);
    await almost.tokens.load();
    await expired.tokens.load();

    expect(await almost.tokens.token()).toBe(stored?.accessToken);
    expect(await almost.tokens.token()).toBe(stored?.accessToken);
    expect(
      almost.log.lines.filter((l) => l.startsWith('warn cannot refresh the access token yet')),
    ).toHaveLength(1);
    await expect(expired.tokens.token()).rejects.toMatchObject({ code: LoginErrorCode.IDP_UNREACHABLE });
    await expect(expired.tokens.token()).rejects.toThrow(
      new RegExp(`cannot discover the IdP at ${doomed.issuer}: .*ECONNREFUSED`),
    );
  });
});
