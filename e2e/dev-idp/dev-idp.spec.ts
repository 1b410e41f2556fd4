import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';

import {
  approveDevice,
  authorizeAs,
  Browser,
  DEV_IDP_MAIN,
  devUserToken,
  parseForms,
  serviceToken,
  startDevIdp,
  type StartedDevIdp,
} from '../support/dev-idp';

/** The embedded development IdP (a real oidc-provider, run from dist/ because Jest cannot load it). */
describe('development IdP', () => {
  const resource = 'http://127.0.0.1:18080/mcp';
  const gateway = 'http://127.0.0.1:18080';
  let idp: StartedDevIdp;
  let jwks: ReturnType<typeof createRemoteJWKSet>;

  beforeAll(async () => {
    idp = await startDevIdp({ resource, accessTokenTtlSeconds: 120 });
    jwks = createRemoteJWKSet(new URL(`${idp.issuer}/jwks`));
  });
  afterAll(() => idp?.close());

  const discover = (clientId: string, auth: oidc.ClientAuth = oidc.None()) =>
    oidc.discovery(new URL(idp.issuer), clientId, undefined, auth, { execute: [oidc.allowInsecureRequests] });

  const verify = (token: string) =>
    jwtVerify(token, jwks, { issuer: idp.issuer, audience: resource, typ: 'at+jwt', algorithms: ['RS256'] });

  it('publishes a discovery document with every flow the gateway and its clients use', async () => {
    const response = await fetch(`${idp.issuer}/.well-known/openid-configuration`);
    expect(response.status).toBe(200);
    const doc = (await response.json()) as Record<string, unknown>;
    expect(doc.issuer).toBe(idp.issuer);
    expect(doc.grant_types_supported).toEqual(
      expect.arrayContaining([
        'authorization_code',
        'refresh_token',
        'client_credentials',
        'urn:ietf:params:oauth:grant-type:device_code',
        'urn:gatehouse:params:oauth:grant-type:dev-user',
      ]),
    );
    expect(doc.code_challenge_methods_supported).toEqual(['S256']);
    expect(doc.claims_supported).toEqual(expect.arrayContaining(['groups', 'name', 'email']));
    for (const endpoint of [
      'device_authorization_endpoint',
      'introspection_endpoint',
      'revocation_endpoint',
      'end_session_endpoint',
      'jwks_uri',
    ]) {
      expect(String(doc[endpoint])).toMatch(new RegExp(`^${idp.issuer}/`));
    }
  });

  it('issues a user token through the dev grant that verifies against the JWKS with iss, aud, typ, groups, name and email', async () => {
    const token = await devUserToken(idp, 'alice');
    const { payload, protectedHeader } = await verify(token);
    expect(protectedHeader).toMatchObject({ alg: 'RS256', typ: 'at+jwt' });
    expect(payload).toMatchObject({
      iss: idp.issuer,
      aud: resource,
      sub: 'alice',
      groups: ['data-platform'],
      name: 'Alice Anders',
      email: 'alice@example.com',
      scope: 'mcp',
    });
    expect(payload.exp! - payload.iat!).toBe(120);
  });

  it('refuses the dev grant for an unknown user and names the seeded users', async () => {
    await expect(devUserToken(idp, 'mallory')).rejects.toThrow(
      /unknown user \\"mallory\\"; the seeded users are alice, bob, carol, dave, erin, frank/,
    );
  });

  it('refuses the dev grant to any client but gatehouse-dev-token', async () => {
    const response = await fetch(`${idp.issuer}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`ci-bot:${idp.secrets['ci-bot']}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({
        grant_type: 'urn:gatehouse:params:oauth:grant-type:dev-user',
        username: 'carol',
      }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_request' });
  });

  it('gives the ci-bot service account a client-credentials JWT for the gateway resource', async () => {
    const { payload } = await verify(await serviceToken(idp));
    expect(payload).toMatchObject({ iss: idp.issuer, aud: resource, sub: 'ci-bot', client_id: 'ci-bot' });
    expect(payload.groups).toBeUndefined();
  });

  it('gives opaque-client an opaque token that gatehouse-introspection can introspect, and revocation ends it', async () => {
    const token = await serviceToken(idp, 'opaque-client');
    expect(() => decodeProtectedHeader(token)).toThrow();
    expect(token.split('.')).toHaveLength(1);

    const introspector = await discover(
      'gatehouse-introspection',
      oidc.ClientSecretBasic(idp.secrets['gatehouse-introspection']),
    );
    expect(await oidc.tokenIntrospection(introspector, token)).toMatchObject({
      active: true,
      sub: 'opaque-client',
      client_id: 'opaque-client',
      aud: resource,
      iss: idp.issuer,
    });

    // Other confidential clients may not look at someone else's token.
    const ciBot = await discover('ci-bot', oidc.ClientSecretBasic(idp.secrets['ci-bot']));
    expect(await oidc.tokenIntrospection(ciBot, token)).toEqual({ active: false });

    const owner = await discover('opaque-client', oidc.ClientSecretBasic(idp.secrets['opaque-client']));
    await oidc.tokenRevocation(owner, token);
    expect(await oidc.tokenIntrospection(introspector, token)).toEqual({ active: false });
  });

  it('runs the device flow end to end: openid-client polls while a person approves in the browser pages', async () => {
    const cli = await discover('gatehouse-cli');
    const device = await oidc.initiateDeviceAuthorization(cli, { scope: 'openid profile email' });
    expect(device.verification_uri_complete).toMatch(new RegExp(`^${idp.issuer}/device\\?user_code=`));
    // One-second polling: sign-ins finish quickly for people and tests alike.
    expect(device.interval).toBe(1);
    const polling = oidc.pollDeviceAuthorizationGrant(cli, device);
    await approveDevice(device.verification_uri_complete!, 'bob');
    const tokens = await polling;

    const { payload } = await verify(tokens.access_token);
    expect(payload).toMatchObject({
      sub: 'bob',
      groups: ['support'],
      client_id: 'gatehouse-cli',
      aud: resource,
    });
    expect(tokens.claims()).toMatchObject({ sub: 'bob', groups: ['support'], email: 'bob@example.com' });
    expect(tokens.refresh_token).toEqual(expect.any(String));
  });

  it('shows the development-only banner and every seeded user on the login page', async () => {
    const cli = await discover('gatehouse-cli');
    const device = await oidc.initiateDeviceAuthorization(cli, {});
    const browser = new Browser();
    let page = await browser.go(device.verification_uri_complete!);
    page = await browser.submit(page, parseForms(page.html)[0]!);
    expect(page.html).toContain('Gatehouse development IdP — for development only');
    page = await browser.submit(
      page,
      parseForms(page.html).find((f) => f.id === 'op.deviceConfirmForm')!,
    );
    expect(page.url.pathname).toMatch(/^\/interaction\//);
    expect(page.html).toContain('Gatehouse development IdP — for development only');
    const users = parseForms(page.html).flatMap((f) =>
      f.fields.filter(([n]) => n === 'username').map(([, v]) => v),
    );
    expect(users).toEqual(['alice', 'bob', 'carol', 'dave', 'erin', 'frank']);
  });

  it('accepts the user code typed on the verification page, and says when a code is wrong', async () => {
    const cli = await discover('gatehouse-cli');
    const device = await oidc.initiateDeviceAuthorization(cli, { scope: 'mcp' });
    const browser = new Browser();
    let page = await browser.go(device.verification_uri);
    expect(page.html).toContain('Enter the code shown in your terminal');
    const input = parseForms(page.html).find((f) => f.id === 'op.deviceInputForm')!;
    const wrong = await browser.submit(page, {
      ...input,
      fields: [...input.fields.filter(([n]) => n !== 'user_code'), ['user_code', 'BBBB-BBBB']],
    });
    expect(wrong.html).toContain('Gatehouse development IdP — for development only');
    expect(wrong.html).toContain('the code was not found');

    page = await browser.go(device.verification_uri);
    const form = parseForms(page.html).find((f) => f.id === 'op.deviceInputForm')!;
    page = await browser.submit(page, {
      ...form,
      fields: [...form.fields.filter(([n]) => n !== 'user_code'), ['user_code', device.user_code]],
    });
    expect(page.html).toContain(device.user_code);
    page = await browser.submit(
      page,
      parseForms(page.html).find((f) => f.id === 'op.deviceConfirmForm')!,
    );
    const polling = oidc.pollDeviceAuthorizationGrant(cli, device);
    const login = parseForms(page.html).find((f) =>
      f.fields.some(([n, v]) => n === 'username' && v === 'erin'),
    )!;
    page = await browser.submit(page, login);
    expect(page.html).toContain('Device connected');
    expect((await verify((await polling).access_token)).payload.sub).toBe('erin');
  });

  it('ends a device sign-in with access_denied when the person cancels on the login page', async () => {
    const cli = await discover('gatehouse-cli');
    const device = await oidc.initiateDeviceAuthorization(cli, {});
    const polling = oidc.pollDeviceAuthorizationGrant(cli, device);
    const browser = new Browser();
    let page = await browser.go(device.verification_uri_complete!);
    page = await browser.submit(page, parseForms(page.html)[0]!);
    page = await browser.submit(
      page,
      parseForms(page.html).find((f) => f.id === 'op.deviceConfirmForm')!,
    );
    const cancel = parseForms(page.html).find((f) => f.action.endsWith('/abort'))!;
    await browser.submit(page, cancel);
    await expect(polling).rejects.toMatchObject({ error: 'access_denied' });
  });

  it('refuses a login form for a user who is not seeded', async () => {
    const url = new URL(`${idp.issuer}/auth`);
    url.search = new URLSearchParams({
      client_id: 'gatehouse-console',
      response_type: 'code',
      redirect_uri: `${gateway}/auth/callback`,
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    }).toString();
    const browser = new Browser();
    const page = await browser.go(url);
    const form = parseForms(page.html).find((f) => f.fields.some(([n]) => n === 'username'))!;
    const refused = await browser.submit(page, { ...form, fields: [['username', 'mallory']] });
    expect(refused.status).toBe(400);
    expect(refused.html).toContain('unknown user &quot;mallory&quot;');
  });

  it('signs the console in with authorization code + PKCE; the ID token carries groups, name and email', async () => {
    const console_ = await discover('gatehouse-console');
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const redirectUri = `${gateway}/auth/callback`;
    const url = oidc.buildAuthorizationUrl(console_, {
      redirect_uri: redirectUri,
      scope: 'openid profile email',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });
    const callback = await authorizeAs(url, 'carol');
    expect(`${callback.origin}${callback.pathname}`).toBe(redirectUri);
    expect(callback.searchParams.get('state')).toBe(state);

    const tokens = await oidc.authorizationCodeGrant(console_, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
    });
    expect(tokens.claims()).toMatchObject({
      iss: idp.issuer,
      aud: 'gatehouse-console',
      sub: 'carol',
      groups: ['admin'],
      name: 'Carol Chen',
      email: 'carol@example.com',
    });
    const { payload } = await verify(tokens.access_token);
    expect(payload).toMatchObject({ sub: 'carol', groups: ['admin'], aud: resource });
    expect(tokens.refresh_token).toEqual(expect.any(String));
  });

  it('refuses an authorization request without PKCE', async () => {
    const url = new URL(`${idp.issuer}/auth`);
    url.search = new URLSearchParams({
      client_id: 'gatehouse-console',
      response_type: 'code',
      redirect_uri: `${gateway}/auth/callback`,
      scope: 'openid',
      state: 'xyz',
    }).toString();
    const callback = await authorizeAs(url, 'carol');
    expect(callback.searchParams.get('error')).toBe('invalid_request');
    expect(callback.searchParams.get('error_description')).toMatch(/requires PKCE/);
  });

  it('refuses the plain PKCE method', async () => {
    const url = new URL(`${idp.issuer}/auth`);
    url.search = new URLSearchParams({
      client_id: 'gatehouse-console',
      response_type: 'code',
      redirect_uri: `${gateway}/auth/callback`,
      scope: 'openid',
      code_challenge: oidc.randomPKCECodeVerifier(),
      code_challenge_method: 'plain',
    }).toString();
    const callback = await authorizeAs(url, 'carol');
    expect(callback.searchParams.get('error')).toBe('invalid_request');
  });

  async function cliLogin(user: string) {
    const cli = await discover('gatehouse-cli');
    const verifier = oidc.randomPKCECodeVerifier();
    // RFC 8252: the CLI listens on any loopback port; the registered URI has none.
    const url = oidc.buildAuthorizationUrl(cli, {
      redirect_uri: 'http://127.0.0.1:49152/callback',
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const callback = await authorizeAs(url, user);
    expect(callback.origin).toBe('http://127.0.0.1:49152');
    const tokens = await oidc.authorizationCodeGrant(cli, callback, {
      pkceCodeVerifier: verifier,
      idTokenExpected: true,
    });
    return { cli, tokens };
  }

  it('rotates the CLI refresh token on every use and refuses the old one afterwards', async () => {
    const { cli, tokens } = await cliLogin('dave');
    const first = tokens.refresh_token!;
    const refreshed = await oidc.refreshTokenGrant(cli, first);
    expect(refreshed.refresh_token).toEqual(expect.any(String));
    expect(refreshed.refresh_token).not.toBe(first);
    expect((await verify(refreshed.access_token)).payload).toMatchObject({
      sub: 'dave',
      groups: ['policy-approver'],
      aud: resource,
    });

    await expect(oidc.refreshTokenGrant(cli, first)).rejects.toMatchObject({ error: 'invalid_grant' });
    // Reusing a rotated token is treated as theft: the whole grant is revoked, the new token too.
    await expect(oidc.refreshTokenGrant(cli, refreshed.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  });

  it('revokes a refresh token at the revocation endpoint', async () => {
    const { cli, tokens } = await cliLogin('erin');
    await oidc.tokenRevocation(cli, tokens.refresh_token!);
    await expect(oidc.refreshTokenGrant(cli, tokens.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  });

  it('logs the console out (RP-initiated) back to the gateway, and the next sign-in asks again', async () => {
    const console_ = await discover('gatehouse-console');
    const browser = new Browser();
    const authorize = async () => {
      const verifier = oidc.randomPKCECodeVerifier();
      const url = oidc.buildAuthorizationUrl(console_, {
        redirect_uri: `${gateway}/auth/callback`,
        scope: 'openid',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      });
      return { url, verifier };
    };
    const first = await authorize();
    const tokens = await oidc.authorizationCodeGrant(
      console_,
      await authorizeAs(first.url, 'frank', browser),
      {
        pkceCodeVerifier: first.verifier,
        idTokenExpected: true,
      },
    );

    // Signed in at the IdP: a second authorization comes straight back without the login page.
    const again = await browser.go((await authorize()).url, {
      stopAt: (u) => u.pathname === '/auth/callback',
    });
    expect(again.stoppedAt?.searchParams.get('code')).toEqual(expect.any(String));

    const logoutUrl = oidc.buildEndSessionUrl(console_, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: `${gateway}/`,
      state: 'bye',
    });
    const page = await browser.go(logoutUrl);
    expect(page.html).toContain('Gatehouse development IdP — for development only');
    const form = parseForms(page.html).find((f) => f.id === 'op.logoutForm')!;
    const done = await browser.submit(page, form, ['logout', 'yes'], (u) => u.origin === gateway);
    expect(done.stoppedAt?.href).toBe(`${gateway}/?state=bye`);

    const afterLogout = await browser.go((await authorize()).url, { stopAt: (u) => u.origin === gateway });
    expect(afterLogout.stoppedAt).toBeUndefined();
    expect(afterLogout.url.pathname).toMatch(/^\/interaction\//);
  });

  it('refuses to start without --resource and says how to call it', () => {
    const result = spawnSync(process.execPath, [DEV_IDP_MAIN, '--port', '0'], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('--resource is required');
    expect(result.stderr).toContain('usage: node dist/libs/auth/src/dev-idp/main.js');
  });

  it('registers the console redirect URIs under --console-base, names itself by loopback on 0.0.0.0, and exits cleanly on SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      [
        DEV_IDP_MAIN,
        '--port',
        '0',
        '--host',
        '0.0.0.0',
        '--resource',
        resource,
        '--console-base',
        'http://localhost:19090/',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_ENV: 'test' } },
    );
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    const line = await new Promise<string>((done) => {
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if (out.includes('\n')) done(out);
      });
    });
    const { issuer } = JSON.parse(line) as { issuer: string };
    // Listening on every interface, it still names itself by the loopback address.
    expect(issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const authorize = async (redirectUri: string) => {
      const url = new URL(`${issuer}/auth`);
      url.search = new URLSearchParams({
        client_id: 'gatehouse-console',
        response_type: 'code',
        redirect_uri: redirectUri,
        scope: 'openid',
        code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
      }).toString();
      return fetch(url, { redirect: 'manual' });
    };
    expect((await authorize('http://localhost:19090/auth/callback')).status).toBe(303);
    expect((await authorize(`${gateway}/auth/callback`)).status).toBe(400);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('refuses to start when NODE_ENV=production', () => {
    const result = spawnSync(process.execPath, [DEV_IDP_MAIN, '--resource', resource], {
      env: { ...process.env, NODE_ENV: 'production' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.status).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('refuses to start when NODE_ENV=production');
  });

  it('keeps its signing key under the data directory (0600), so tokens survive a restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-dev-idp-'));
    const first = await startDevIdp({ resource, dataDir });
    let token: string;
    try {
      token = await devUserToken(first, 'alice');
    } finally {
      await first.close();
    }
    const jwksFile = join(dataDir, 'dev-idp', 'jwks.json');
    const secretsFile = join(dataDir, 'dev-idp', 'secrets.json');
    expect(statSync(jwksFile).mode & 0o777).toBe(0o600);
    expect(statSync(secretsFile).mode & 0o777).toBe(0o600);

    const second = await startDevIdp({ resource, dataDir });
    try {
      const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(`${second.issuer}/jwks`)), {
        audience: resource,
      });
      expect(payload.sub).toBe('alice');
      // Secrets are new on every start, and the file says which issuer they belong to.
      expect(second.secrets['ci-bot']).not.toBe(first.secrets['ci-bot']);
      expect(JSON.parse(readFileSync(secretsFile, 'utf8'))).toEqual({
        issuer: second.issuer,
        secrets: second.secrets,
      });
    } finally {
      await second.close();
    }
  });
});
