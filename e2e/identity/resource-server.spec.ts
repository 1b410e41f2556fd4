import type { RunningGateway } from '../../apps/gateway/src/bootstrap';
import { ForgedIdp, newKey } from '../support/forged-idp';
import { recordingUpstream } from '../support/recording-upstream';
import { gatewayWith, initializeBody, rawPost } from '../transport/helpers';

/**
 * The gateway as an OAuth 2.1 resource server, end to end through /mcp. Tokens are forged on a
 * loopback key set here because the attack table needs tokens no IdP would sign; the real
 * oidc-provider flows live in e2e/identity/oidc-provider.spec.ts.
 */

const call = (id: number, text = 'hi') =>
  JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name: 'rec__echo', arguments: { text } },
  });

describe('the gateway as an OAuth resource server', () => {
  let idp: ForgedIdp;
  let upstream: Awaited<ReturnType<typeof recordingUpstream>>;
  let gw: RunningGateway & { logs: string[] };
  let audience: string;

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const session = async (token: string): Promise<string> => {
    const res = await rawPost(`${gw.url}/mcp`, initializeBody(), bearer(token));
    expect(res.status).toBe(200);
    return res.headers.get('mcp-session-id') as string;
  };

  beforeAll(async () => {
    idp = await ForgedIdp.start();
    upstream = await recordingUpstream();
    audience = 'https://gatehouse.test/mcp';
    gw = await gatewayWith(
      `auth:
  issuer: ${idp.issuer}
  audience: ${audience}
  algorithms: [RS256]
  requiredScopes: [mcp]
  jwksCooldownSeconds: 1
upstreams:
  rec:
    transport: http
    url: ${upstream.url}
    headers:
      Authorization: Bearer \${UPSTREAM_TOKEN}
`,
      { UPSTREAM_TOKEN: 'gateway-held-upstream-credential' },
    );
  });
  afterAll(async () => {
    await gw.close();
    await idp.stop();
    upstream.server.closeAllConnections();
    await new Promise((ok) => upstream.server.close(ok));
  });

  it('answers a request without a token with 401 and the RFC 9728 challenge', async () => {
    const res = await rawPost(`${gw.url}/mcp`, initializeBody());
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(
      `Bearer scope="mcp", resource_metadata="${gw.url}/.well-known/oauth-protected-resource/mcp"`,
    );
    expect(res.json.error).toMatchObject({
      code: -32001,
      data: { reason: 'UNAUTHENTICATED', auth: 'TOKEN_MISSING' },
    });
  });

  it('publishes protected-resource metadata naming the issuer and the resource', async () => {
    for (const path of [
      '/.well-known/oauth-protected-resource/mcp',
      '/.well-known/oauth-protected-resource',
    ]) {
      const res = await fetch(`${gw.url}${path}`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({
        resource: audience,
        authorization_servers: [idp.issuer],
        bearer_methods_supported: ['header'],
        scopes_supported: ['mcp'],
        gatehouse_cli_client_id: 'gatehouse-cli',
      });
    }
  });

  it('R2: serves a valid token, and the upstream gets the gateway credential, never the client token', async () => {
    const token = await idp.sign(audience);
    const sid = await session(token);
    const seen = upstream.requests.length;
    const res = await rawPost(`${gw.url}/mcp`, call(2, 'through'), {
      ...bearer(token),
      'mcp-session-id': sid,
    });
    expect(res.json.result.content[0].text).toBe('through');
    const after = upstream.requests.slice(seen);
    expect(after.length).toBeGreaterThan(0);
    for (const headers of upstream.requests) {
      expect(headers.authorization).toBe('Bearer gateway-held-upstream-credential');
      expect(JSON.stringify(headers)).not.toContain(token);
    }
  });

  it('R1: a token for another audience gets 401 and no upstream is called', async () => {
    const before = upstream.calls.length;
    const token = await idp.sign('https://other-resource.test/mcp');
    const res = await rawPost(`${gw.url}/mcp`, call(3), bearer(token));
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(
      /^Bearer error="invalid_token", error_description="the token is not meant for this gateway \(aud\)", scope="mcp", resource_metadata="/,
    );
    expect(upstream.calls.length).toBe(before);
  });

  describe('R3–R4 attack table through /mcp', () => {
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const now = () => Math.floor(Date.now() / 1000);
    const cases: Array<[string, () => Promise<string>, string]> = [
      [
        'alg=none',
        async () =>
          `${b64({ alg: 'none', kid: 'k1' })}.${b64({ sub: 'eve', iss: idp.issuer, aud: audience, exp: now() + 60 })}.`,
        'ALGORITHM_NOT_ALLOWED',
      ],
      [
        'stripped signature',
        async () => `${(await idp.sign(audience)).split('.').slice(0, 2).join('.')}.`,
        'SIGNATURE_INVALID',
      ],
      [
        'right kid, wrong key',
        async () => idp.sign(audience, {}, {}, { ...(await newKey('k1')) }),
        'SIGNATURE_INVALID',
      ],
      ['another issuer', async () => idp.sign(audience, { iss: `${idp.issuer}/evil` }), 'ISSUER_MISMATCH'],
      ['expired beyond the 60 s skew', async () => idp.sign(audience, { exp: now() - 61 }), 'EXPIRED'],
      [
        'not valid for more than 60 s yet',
        async () => idp.sign(audience, { nbf: now() + 61 }),
        'NOT_YET_VALID',
      ],
    ];
    it.each(cases)('%s → 401 invalid_token', async (_label, make, auth) => {
      const before = upstream.calls.length;
      const res = await rawPost(`${gw.url}/mcp`, initializeBody(), bearer(await make()));
      expect(res.status).toBe(401);
      expect(res.json.error.data).toMatchObject({ auth });
      expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
      expect(upstream.calls.length).toBe(before);
    });

    it('accepts exp and nbf just inside the skew', async () => {
      const res = await rawPost(
        `${gw.url}/mcp`,
        initializeBody(),
        bearer(await idp.sign(audience, { exp: now() - 50, nbf: now() + 50 })),
      );
      expect(res.status).toBe(200);
    });

    it('refuses a malformed Authorization header', async () => {
      const res = await rawPost(`${gw.url}/mcp`, initializeBody(), { authorization: 'Basic YWxpY2U6cHc=' });
      expect(res.status).toBe(401);
      expect(res.json.error.data.auth).toBe('TOKEN_MALFORMED');
    });
  });

  it('403 insufficient_scope when the token lacks a required scope', async () => {
    const res = await rawPost(
      `${gw.url}/mcp`,
      initializeBody(),
      bearer(await idp.sign(audience, { scope: 'openid' })),
    );
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toMatch(
      /^Bearer error="insufficient_scope", error_description="[^"]+", scope="mcp", resource_metadata="/,
    );
    expect(res.json.error).toMatchObject({
      code: -32003,
      data: { reason: 'FORBIDDEN', auth: 'INSUFFICIENT_SCOPE' },
    });
  });

  describe('R6: sessions belong to their principal', () => {
    it("refuses user B presenting user A's session id, for calls, streams and DELETE", async () => {
      const alice = await idp.sign(audience, { sub: 'alice' });
      const bob = await idp.sign(audience, { sub: 'bob' });
      const sid = await session(alice);
      expect(sid).toMatch(/^[A-Za-z0-9_-]{43}$/); // 256 random bits, base64url
      const stolen = await rawPost(`${gw.url}/mcp`, call(4), { ...bearer(bob), 'mcp-session-id': sid });
      expect(stolen.status).toBe(404);
      expect(stolen.json.error.data.reason).toBe('SESSION_NOT_FOUND');
      const stream = await fetch(`${gw.url}/mcp`, {
        headers: { ...bearer(bob), 'mcp-session-id': sid, accept: 'text/event-stream' },
      });
      expect(stream.status).toBe(404);
      const del = await fetch(`${gw.url}/mcp`, {
        method: 'DELETE',
        headers: { ...bearer(bob), 'mcp-session-id': sid },
      });
      expect(del.status).toBe(404);
      // Alice's session is untouched and still hers.
      const own = await rawPost(`${gw.url}/mcp`, call(5, 'mine'), {
        ...bearer(alice),
        'mcp-session-id': sid,
      });
      expect(own.json.result.content[0].text).toBe('mine');
      expect(gw.logs.join('')).toContain('session id presented by a principal that does not own it');
    });

    it('keeps the session for the same person with a fresh token', async () => {
      const sid = await session(await idp.sign(audience, { sub: 'carol' }));
      const renewed = await idp.sign(audience, { sub: 'carol', jti: 'second' });
      const res = await rawPost(`${gw.url}/mcp`, call(6, 'again'), {
        ...bearer(renewed),
        'mcp-session-id': sid,
      });
      expect(res.json.result.content[0].text).toBe('again');
    });
  });

  it('logs the principal when a session opens', async () => {
    await session(await idp.sign(audience, { sub: 'dave', client_id: 'gatehouse-cli' }));
    const line = gw.logs.find((l) => l.includes('session opened') && l.includes('"subject":"dave"'));
    expect(line).toBeDefined();
    expect(JSON.parse(line as string).principal).toMatchObject({
      kind: 'user',
      subject: 'dave',
      clientId: 'gatehouse-cli',
    });
  });

  describe('R5 through the gateway', () => {
    it('keeps validating with cached keys while the IdP is down, and a rotated key is picked up after one fetch', async () => {
      const warm = await idp.sign(audience, { sub: 'erin' });
      expect((await rawPost(`${gw.url}/mcp`, initializeBody(), bearer(warm))).status).toBe(200);
      idp.up = false;
      try {
        // A token never seen before, signed with the cached key: validated offline.
        const fresh = await idp.sign(audience, { sub: 'erin', jti: 'offline' });
        expect((await rawPost(`${gw.url}/mcp`, initializeBody(), bearer(fresh))).status).toBe(200);
      } finally {
        idp.up = true;
      }
      const rotated = await newKey('k2');
      idp.keys = [rotated, ...idp.keys];
      // The cooldown (1 s here) since the last fetch is what bounds the fetch rate; let it pass.
      await new Promise((r) => setTimeout(r, 1100));
      const fetches = idp.jwksFetches;
      const res = await rawPost(
        `${gw.url}/mcp`,
        initializeBody(),
        bearer(await idp.sign(audience, {}, {}, rotated)),
      );
      expect(res.status).toBe(200);
      expect(idp.jwksFetches).toBe(fetches + 1);
    });

    it('a flood of unknown kids costs at most one key-set fetch', async () => {
      const fetches = idp.jwksFetches;
      const stranger = await newKey('stranger');
      const results = await Promise.all(
        Array.from({ length: 25 }, async (_, i) =>
          rawPost(
            `${gw.url}/mcp`,
            initializeBody(),
            bearer(await idp.sign(audience, {}, { kid: `random-${i}` }, stranger)),
          ),
        ),
      );
      expect(results.every((r) => r.status === 401)).toBe(true);
      expect(idp.jwksFetches - fetches).toBeLessThanOrEqual(1);
    });
  });
});

describe('an IdP that is down when the gateway starts', () => {
  it('answers 503 with Retry-After until the IdP is reachable, then serves', async () => {
    const idp = await ForgedIdp.start();
    idp.up = false;
    const audience = 'https://gatehouse.test/mcp';
    const gw = await gatewayWith(`auth:\n  issuer: ${idp.issuer}\n  audience: ${audience}\n`);
    try {
      const token = await idp.sign(audience);
      const down = await rawPost(`${gw.url}/mcp`, initializeBody(), { authorization: `Bearer ${token}` });
      expect(down.status).toBe(503);
      expect(down.headers.get('retry-after')).toBe('5');
      expect(down.json.error.data).toMatchObject({ reason: 'IDENTITY_UNAVAILABLE', auth: 'IDP_UNAVAILABLE' });
      const ready = await fetch(`${gw.url}/readyz`);
      expect(ready.status).toBe(503);
      idp.up = true;
      const up = await rawPost(`${gw.url}/mcp`, initializeBody(), { authorization: `Bearer ${token}` });
      expect(up.status).toBe(200);
    } finally {
      await gw.close();
      await idp.stop();
    }
  });
});
