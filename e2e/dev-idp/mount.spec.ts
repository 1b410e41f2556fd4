import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';

import {
  approveDevice,
  authorizeAs,
  devUserToken,
  serviceToken,
  startMountedDevIdp,
  type MountedDevIdp,
} from '../support/dev-idp';

/**
 * mountDevIdp on a bare Fastify instance (e2e/dev-idp/mounted-idp.ts, run from dist/), the way the
 * gateway serves the IdP under /dev-idp in dev mode.
 */
describe('development IdP mounted under /dev-idp on Fastify', () => {
  let server: MountedDevIdp;

  beforeAll(async () => {
    server = await startMountedDevIdp();
  });
  afterAll(() => server?.close());

  const discover = () =>
    oidc.discovery(new URL(server.issuer), 'gatehouse-cli', undefined, oidc.None(), {
      execute: [oidc.allowInsecureRequests],
    });

  const verify = (token: string) =>
    jwtVerify(token, createRemoteJWKSet(new URL(`${server.issuer}/jwks`)), {
      issuer: server.issuer,
      audience: server.resource,
      typ: 'at+jwt',
    });

  it('serves discovery with the /dev-idp issuer and every endpoint under it', async () => {
    expect(server.issuer).toBe(`${server.url}/dev-idp`);
    const response = await fetch(`${server.url}/dev-idp/.well-known/openid-configuration`);
    expect(response.status).toBe(200);
    const doc = (await response.json()) as Record<string, string>;
    expect(doc.issuer).toBe(server.issuer);
    for (const endpoint of [
      'token_endpoint',
      'authorization_endpoint',
      'device_authorization_endpoint',
      'jwks_uri',
    ]) {
      expect(doc[endpoint]).toMatch(new RegExp(`^${server.url}/dev-idp/`));
    }
  });

  it('passes form bodies through unread: the token endpoint issues dev and service tokens', async () => {
    expect((await verify(await devUserToken(server, 'erin'))).payload).toMatchObject({
      iss: server.issuer,
      sub: 'erin',
      groups: ['incident-responder'],
    });
    expect((await verify(await serviceToken(server))).payload).toMatchObject({ sub: 'ci-bot' });
  });

  it('runs the device flow through the mounted interaction pages', async () => {
    const cli = await discover();
    const device = await oidc.initiateDeviceAuthorization(cli, { scope: 'openid' });
    const polling = oidc.pollDeviceAuthorizationGrant(cli, device);
    await approveDevice(device.verification_uri_complete!, 'alice');
    const tokens = await polling;
    expect((await verify(tokens.access_token)).payload).toMatchObject({
      sub: 'alice',
      groups: ['data-platform'],
    });
  });

  it('signs the console in with code + PKCE, redirecting to the gateway host it shares', async () => {
    const console_ = await oidc.discovery(
      new URL(server.issuer),
      'gatehouse-console',
      undefined,
      oidc.None(),
      {
        execute: [oidc.allowInsecureRequests],
      },
    );
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(console_, {
      redirect_uri: `${server.url}/auth/callback`,
      scope: 'openid profile',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const callback = await authorizeAs(url, 'carol');
    expect(callback.pathname).toBe('/auth/callback');
    const tokens = await oidc.authorizationCodeGrant(console_, callback, {
      pkceCodeVerifier: verifier,
      idTokenExpected: true,
    });
    expect(tokens.claims()).toMatchObject({ sub: 'carol', groups: ['admin'] });
  });

  it('leaves the rest of the app alone: its own JSON parsing and 404s outside the prefix', async () => {
    const echo = await fetch(`${server.url}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ hello: 'world' }),
    });
    expect(await echo.json()).toEqual({ received: { hello: 'world' } });
    expect((await fetch(`${server.url}/dev-idpx/.well-known/openid-configuration`)).status).toBe(404);
  });

  it('answers 503 under the prefix when the IdP failed to start, and the app keeps serving', async () => {
    const broken = await startMountedDevIdp({ broken: true });
    try {
      const response = await fetch(`${broken.url}/dev-idp/.well-known/openid-configuration`);
      expect(response.status).toBe(503);
      expect(await response.text()).toContain('the development IdP did not start');
      const echo = await fetch(`${broken.url}/echo`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"still":"up"}',
      });
      expect(await echo.json()).toEqual({ received: { still: 'up' } });
    } finally {
      await broken.close();
    }
  });

  it('answers 503 once the IdP is closed', async () => {
    const closing = await startMountedDevIdp();
    try {
      expect((await fetch(`${closing.url}/dev-idp/.well-known/openid-configuration`)).status).toBe(200);
      await fetch(`${closing.url}/close-idp`, { method: 'POST' });
      const response = await fetch(`${closing.url}/dev-idp/.well-known/openid-configuration`);
      expect(response.status).toBe(503);
      expect(await response.text()).toContain('shutting down');
    } finally {
      await closing.close();
    }
  });
});
