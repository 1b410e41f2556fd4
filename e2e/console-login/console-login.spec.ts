import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';
import type { RunningGateway } from '../../apps/gateway/src/bootstrap';
import { ConsoleSessions } from '@gatehouse/auth';
import {
  authorizeAs,
  Browser,
  devUserToken,
  discover,
  startDevIdp,
  type StartedDevIdp,
} from '../support/dev-idp';
import { gatewayWith } from '../transport/helpers';
import { freePort, spawnGateway, type GatewayProcess } from '../transport/processes';
import { beginLogin, Jar, signIn, type Served, type SignedIn } from './support';

/**
 * Console sign-in end to end: the real development IdP (oidc-provider, run from dist/, so
 * `npm run build` first), a real gateway on Fastify with a scratch Postgres database, and
 * plain HTTP requests with a cookie jar standing in for the browser.
 */

type Gateway = RunningGateway & { logs: string[] };

/** auth.roles as an organisation would map its IdP groups (the dev IdP's groups carry the role names). */
const ROLES = `  roles:
    admin: [admin]
    policy-approver: [policy-approver]
    incident-responder: [incident-responder]
    auditor: [auditor]
`;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

async function api(
  gw: Served,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON shapes
): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(`${gw.url}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...init.headers,
    },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    redirect: 'manual',
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined, headers: res.headers };
}

const asSession = (s: SignedIn) => ({ cookie: s.jar.header() });

/** The CSRF token of a session, as the console reads it. */
async function csrfOf(gw: Served, s: SignedIn): Promise<string> {
  const me = await api(gw, '/api/v1/me', { headers: asSession(s) });
  expect(me.status).toBe(200);
  return me.json.csrfToken as string;
}

const revoke = (gw: Served, subject: string, headers: Record<string, string>) =>
  api(gw, '/api/v1/admin/console-sessions/revoke', { method: 'POST', headers, body: { subject } });

describe('console sign-in (authorization code + PKCE) against the development IdP', () => {
  let idp: StartedDevIdp;
  let gw: Gateway;
  let db: DataSource;

  beforeAll(async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    idp = await startDevIdp({ resource: `${base}/mcp`, consoleBase: base });
    gw = await gatewayWith(`auth:\n  issuer: ${idp.issuer}\n  audience: ${base}/mcp\n${ROLES}`, {
      PORT: String(port),
    });
    expect(gw.url).toBe(base);
    db = gw.app.get(DataSource);
  });
  afterAll(async () => {
    await gw?.close();
    await idp?.close();
  });

  it('signs carol in: PKCE S256 + state + nonce at the IdP, an HttpOnly SameSite=Lax cookie, and /api/v1/me shows her admin role', async () => {
    const carol = await signIn(gw, 'carol', { returnTo: '/console/sessions?tab=live#top' });
    const authz = carol.authorizationUrl.searchParams;
    expect(carol.authorizationUrl.href.startsWith(`${idp.issuer}/auth`)).toBe(true);
    expect(authz.get('response_type')).toBe('code');
    expect(authz.get('client_id')).toBe('gatehouse-console');
    expect(authz.get('redirect_uri')).toBe(`${gw.url}/auth/callback`);
    expect(authz.get('code_challenge_method')).toBe('S256');
    expect(authz.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(authz.get('state')).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(authz.get('nonce')).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(authz.get('scope')).toBe('openid profile email');

    expect(carol.landing).toBe('/console/sessions?tab=live#top');
    const cookie = carol.jar.line('gatehouse_session') ?? '';
    expect(cookie).toMatch(/^gatehouse_session=[A-Za-z0-9_-]{43};/);
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Lax/);
    expect(cookie).toMatch(/; Path=\/(;|$)/);
    expect(cookie).toMatch(/; Max-Age=28800/);
    expect(cookie).not.toMatch(/Secure|Domain/i);
    // The sign-in-in-progress cookie is gone once the sign-in is done.
    expect(carol.jar.line('gatehouse_login')).toMatch(/^gatehouse_login=;.*Max-Age=0/);
    expect(carol.jar.values.has('gatehouse_login')).toBe(false);

    const me = await api(gw, '/api/v1/me', { headers: asSession(carol) });
    expect(me.status).toBe(200);
    expect(me.headers.get('cache-control')).toBe('no-store');
    expect(me.json).toMatchObject({
      kind: 'user',
      sub: 'carol',
      issuer: idp.issuer,
      name: 'Carol Chen',
      email: 'carol@example.com',
      groups: ['admin'],
      roles: ['admin'],
      authenticatedBy: 'session',
    });
    expect(me.json.csrfToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(me.json.certificate).toBeUndefined();
  });

  it('keeps only the SHA-256 of the session id in Postgres, and the sign-in state only until the callback', async () => {
    const jar = new Jar();
    const started = await beginLogin(gw, jar);
    const loginId = jar.values.get('gatehouse_login') ?? '';
    expect(loginId).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const pending = await db.query<{ id_hash: string; state: Record<string, unknown> }[]>(
      'SELECT id_hash, state FROM console_login WHERE id_hash = $1',
      [sha256(loginId)],
    );
    expect(pending).toHaveLength(1);
    expect(pending[0]?.state).toEqual({
      code_verifier: expect.any(String),
      state: started.searchParams.get('state'),
      nonce: started.searchParams.get('nonce'),
    });

    const callback = await authorizeAs(started, 'dave');
    const res = await fetch(callback, { redirect: 'manual', headers: { cookie: jar.header() } });
    expect(res.status).toBe(302);
    jar.take(res);
    const id = jar.values.get('gatehouse_session') ?? '';
    expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);

    expect(await db.query('SELECT 1 FROM console_login WHERE id_hash = $1', [sha256(loginId)])).toHaveLength(
      0,
    );
    const rows = await db.query<Record<string, unknown>[]>(
      'SELECT * FROM console_session WHERE subject = $1',
      ['dave'],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]?.id_hash).toBe(sha256(id));
    expect(JSON.stringify(rows)).not.toContain(id);
    // The database refuses anything but a digest as the key.
    await expect(
      db.query(`UPDATE console_session SET id_hash = $1 WHERE subject = 'dave'`, [id]),
    ).rejects.toThrow(/CHK_console_session_id_hash/);
  });

  it('refuses a callback that this browser did not start, a replayed one, and one with a forged state', async () => {
    const jar = new Jar();
    const callback = await authorizeAs(await beginLogin(gw, jar), 'carol');

    const stranger = await api(gw, `${callback.pathname}${callback.search}`);
    expect(stranger.status).toBe(400);
    expect(stranger.json.error.code).toBe('LOGIN_STATE_MISSING');

    const first = await api(gw, `${callback.pathname}${callback.search}`, {
      headers: { cookie: jar.header() },
    });
    expect(first.status).toBe(302);
    const replay = await api(gw, `${callback.pathname}${callback.search}`, {
      headers: { cookie: jar.header() },
    });
    expect(replay.status).toBe(400);
    expect(replay.json.error.code).toBe('LOGIN_STATE_MISSING');

    const jar2 = new Jar();
    const forged = await authorizeAs(await beginLogin(gw, jar2), 'carol');
    forged.searchParams.set('state', 'attacker-chosen-state');
    const res = await api(gw, `${forged.pathname}${forged.search}`, { headers: { cookie: jar2.header() } });
    expect(res.status).toBe(403);
    expect(res.json.error.code).toBe('LOGIN_FAILED');
    expect(res.headers.getSetCookie().join('\n')).toMatch(/gatehouse_login=;/);

    const bare = await api(gw, '/auth/callback');
    expect(bare.status).toBe(400);
    expect(bare.json.error.code).toBe('INVALID_REQUEST');
  });

  it('rotates the session id at sign-in: a planted or earlier session id never becomes the new session', async () => {
    const jar = new Jar();
    jar.values.set('gatehouse_session', 'planted-by-an-attacker-0000000000000000000');
    const planted = jar.values.get('gatehouse_session');
    const alice = await signIn(gw, 'alice', { jar });
    expect(alice.id).not.toBe(planted);
    expect((await api(gw, '/api/v1/me', { headers: asSession(alice) })).json.sub).toBe('alice');

    const aliceCookie = alice.jar.header();
    const carol = await signIn(gw, 'carol', { jar: alice.jar });
    expect(carol.id).not.toBe(alice.id);
    expect((await api(gw, '/api/v1/me', { headers: asSession(carol) })).json.sub).toBe('carol');
    // The session the browser had before is over.
    const old = await api(gw, '/api/v1/me', { headers: { cookie: aliceCookie } });
    expect(old.status).toBe(401);
    expect(old.json.error.code).toBe('SESSION_ENDED');
  });

  it('refuses alice (no console role) on the admin endpoints with a 403 naming the role', async () => {
    const alice = await signIn(gw, 'alice');
    const list = await api(gw, '/api/v1/admin/console-sessions', { headers: asSession(alice) });
    expect(list.status).toBe(403);
    expect(list.json.error).toEqual({
      code: 'ROLE_REQUIRED',
      message: 'this needs the console role admin or auditor; you have no console role',
    });
    const csrf = await csrfOf(gw, alice);
    const res = await revoke(gw, 'carol', { ...asSession(alice), 'x-csrf-token': csrf });
    expect(res.status).toBe(403);
    expect(res.json.error.code).toBe('ROLE_REQUIRED');
    expect(res.json.error.message).toMatch(/role admin;/);
  });

  it('lets frank (auditor) list console sessions, without ids, but not revoke them', async () => {
    const carol = await signIn(gw, 'carol');
    const frank = await signIn(gw, 'frank');
    const list = await api(gw, '/api/v1/admin/console-sessions', { headers: asSession(frank) });
    expect(list.status).toBe(200);
    const carolRow = list.json.sessions.find((s: { subject: string }) => s.subject === 'carol');
    expect(carolRow).toEqual({
      subject: 'carol',
      name: 'Carol Chen',
      roles: ['admin'],
      createdAt: expect.any(String),
      lastSeenAt: expect.any(String),
      expiresAt: expect.any(String),
      idleExpiresAt: expect.any(String),
    });
    const listed = JSON.stringify(list.json);
    for (const secret of [carol.id, sha256(carol.id), frank.id, sha256(frank.id)]) {
      expect(listed).not.toContain(secret);
    }

    const res = await revoke(gw, 'carol', { ...asSession(frank), 'x-csrf-token': await csrfOf(gw, frank) });
    expect(res.status).toBe(403);
    expect(res.json.error).toEqual({
      code: 'ROLE_REQUIRED',
      message: 'this needs the console role admin; you have auditor',
    });
    expect((await api(gw, '/api/v1/me', { headers: asSession(carol) })).status).toBe(200);
  });

  it('protects cookie-authenticated writes against CSRF: token missing, wrong, or a cross-site Origin → 403; the right token → 200', async () => {
    const carol = await signIn(gw, 'carol');
    const csrf = await csrfOf(gw, carol);
    const cases: Array<[Record<string, string>, string]> = [
      [{}, 'CSRF_TOKEN_MISSING'],
      [{ 'x-csrf-token': 'not-the-token' }, 'CSRF_TOKEN_INVALID'],
      [{ 'x-csrf-token': `${csrf.slice(0, -1)}${csrf.endsWith('A') ? 'B' : 'A'}` }, 'CSRF_TOKEN_INVALID'],
      [{ 'x-csrf-token': csrf, origin: 'https://evil.example' }, 'CROSS_SITE_REQUEST'],
      [{ 'x-csrf-token': csrf, origin: 'null' }, 'CROSS_SITE_REQUEST'],
      [{ 'x-csrf-token': csrf, 'sec-fetch-site': 'cross-site' }, 'CROSS_SITE_REQUEST'],
      [{ 'x-csrf-token': csrf, 'sec-fetch-site': 'same-site' }, 'CROSS_SITE_REQUEST'],
    ];
    for (const [headers, code] of cases) {
      const res = await revoke(gw, 'nobody', { ...asSession(carol), ...headers });
      expect({ headers, status: res.status, code: res.json.error?.code }).toEqual({
        headers,
        status: 403,
        code,
      });
      expect(res.json.error.message.length).toBeGreaterThan(20);
    }
    const ok = await revoke(gw, 'nobody', {
      ...asSession(carol),
      'x-csrf-token': csrf,
      origin: gw.url,
      'sec-fetch-site': 'same-origin',
    });
    expect(ok.status).toBe(200);
    expect(ok.json).toEqual({ subject: 'nobody', revoked: 0 });
    // Another session's token does not count for this one.
    const other = await signIn(gw, 'carol');
    const crossed = await revoke(gw, 'nobody', {
      ...asSession(carol),
      'x-csrf-token': await csrfOf(gw, other),
    });
    expect(crossed.status).toBe(403);
    expect(crossed.json.error.code).toBe('CSRF_TOKEN_INVALID');
  });

  it("revoking carol's sessions signs her out at once: her cookie then gets 401", async () => {
    const laptop = await signIn(gw, 'carol');
    const phone = await signIn(gw, 'carol');
    const frank = await signIn(gw, 'frank');
    const res = await revoke(gw, 'carol', { ...asSession(phone), 'x-csrf-token': await csrfOf(gw, phone) });
    expect(res.status).toBe(200);
    expect(res.json.subject).toBe('carol');
    expect(res.json.revoked).toBeGreaterThanOrEqual(2);
    for (const session of [laptop, phone]) {
      const me = await api(gw, '/api/v1/me', { headers: asSession(session) });
      expect(me.status).toBe(401);
      expect(me.json.error.code).toBe('SESSION_ENDED');
      expect(me.headers.get('www-authenticate')).toMatch(/^Bearer resource_metadata="/);
      expect(me.headers.getSetCookie().join('\n')).toMatch(/^gatehouse_session=;.*Max-Age=0/);
    }
    expect((await api(gw, '/api/v1/me', { headers: asSession(frank) })).status).toBe(200);
    expect(gw.logs.join('')).toMatch(/"actor":"carol".*"subject":"carol".*console sessions revoked/);
  });

  it("signs out: POST /auth/logout needs the CSRF token, ends the session, clears the cookie and points at the IdP's end-session URL", async () => {
    const browser = new Browser();
    const jar = new Jar();
    const started = await beginLogin(gw, jar);
    const callback = await authorizeAs(started, 'erin', browser);
    const done = await fetch(callback, { redirect: 'manual', headers: { cookie: jar.header() } });
    jar.take(done);
    const erin = {
      jar,
      id: jar.values.get('gatehouse_session') ?? '',
      landing: '',
      authorizationUrl: started,
    };

    const forged = await api(gw, '/auth/logout', { method: 'POST', headers: asSession(erin) });
    expect(forged.status).toBe(403);
    expect(forged.json.error.code).toBe('CSRF_TOKEN_MISSING');
    expect((await api(gw, '/api/v1/me', { headers: asSession(erin) })).status).toBe(200);

    const out = await api(gw, '/auth/logout', {
      method: 'POST',
      headers: { ...asSession(erin), 'x-csrf-token': await csrfOf(gw, erin) },
    });
    expect(out.status).toBe(200);
    expect(out.headers.getSetCookie().join('\n')).toMatch(/^gatehouse_session=;.*Max-Age=0.*HttpOnly/);
    const target = new URL(out.json.redirectTo as string);
    const { end_session_endpoint: endSession } = await discover(idp.issuer);
    expect(`${target.origin}${target.pathname}`).toBe(endSession);
    expect(target.searchParams.get('post_logout_redirect_uri')).toBe(`${gw.url}/`);
    expect(target.searchParams.get('client_id')).toBe('gatehouse-console');
    expect(target.searchParams.get('id_token_hint')?.split('.')).toHaveLength(3);
    expect(
      await db.query('SELECT 1 FROM console_session WHERE id_hash = $1', [sha256(erin.id)]),
    ).toHaveLength(0);
    expect((await api(gw, '/api/v1/me', { headers: asSession(erin) })).status).toBe(401);

    // Signing out again (session already over) still clears the cookie and offers the IdP's logout.
    const again = await api(gw, '/auth/logout', { method: 'POST', headers: asSession(erin) });
    expect(again.status).toBe(200);
    expect(again.headers.getSetCookie().join('\n')).toMatch(/^gatehouse_session=;/);
    expect(new URL(again.json.redirectTo as string).searchParams.has('id_token_hint')).toBe(false);

    // The IdP accepts the hint and the return address: it asks erin to confirm signing out there too.
    const page = await browser.go(target);
    expect(page.status).toBe(200);
    expect(page.html).toMatch(/<form/i);
  });

  it('accepts bearer tokens on /api/v1/me and the admin API, with no CSRF token (no ambient credential)', async () => {
    const carolToken = await devUserToken(idp, 'carol');
    const me = await api(gw, '/api/v1/me', { headers: { authorization: `Bearer ${carolToken}` } });
    expect(me.status).toBe(200);
    expect(me.json).toMatchObject({ sub: 'carol', roles: ['admin'], authenticatedBy: 'bearer' });
    expect(me.json.csrfToken).toBeUndefined();

    const list = await api(gw, '/api/v1/admin/console-sessions', {
      headers: { authorization: `Bearer ${carolToken}` },
    });
    expect(list.status).toBe(200);
    const res = await revoke(gw, 'nobody', { authorization: `Bearer ${carolToken}` });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ subject: 'nobody', revoked: 0 });

    // A bearer token is explicit: it counts, not the cookie that came along.
    const alice = await signIn(gw, 'alice');
    const both = await api(gw, '/api/v1/me', {
      headers: { ...asSession(alice), authorization: `Bearer ${carolToken}` },
    });
    expect(both.json).toMatchObject({ sub: 'carol', authenticatedBy: 'bearer' });

    const aliceToken = await devUserToken(idp, 'alice');
    const denied = await api(gw, '/api/v1/admin/console-sessions', {
      headers: { authorization: `Bearer ${aliceToken}` },
    });
    expect(denied.status).toBe(403);
    expect(denied.json.error.code).toBe('ROLE_REQUIRED');
  });

  it('answers 401 with a Bearer challenge when there is no credential or the token is bad', async () => {
    const none = await api(gw, '/api/v1/me');
    expect(none.status).toBe(401);
    expect(none.json.error.code).toBe('NOT_SIGNED_IN');
    expect(none.headers.get('www-authenticate')).toBe(
      `Bearer resource_metadata="${gw.url}/.well-known/oauth-protected-resource/mcp"`,
    );
    const admin = await api(gw, '/api/v1/admin/console-sessions');
    expect(admin.status).toBe(401);

    const bad = await api(gw, '/api/v1/admin/console-sessions', {
      headers: { authorization: 'Bearer not.a.token' },
    });
    expect(bad.status).toBe(401);
    expect(bad.json.error.code).toBe('TOKEN_REJECTED');
    expect(bad.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);

    const unknown = await api(gw, '/api/v1/me', { headers: { cookie: 'gatehouse_session=never-issued' } });
    expect(unknown.status).toBe(401);
    expect(unknown.json.error.code).toBe('SESSION_ENDED');
  });

  it.each([
    ['an absolute URL', 'https://evil.example/'],
    ['a protocol-relative URL', '//evil.example/console'],
    ['a backslash path browsers read as another host', '/\\evil.example'],
    ['a javascript: URL', 'javascript:alert(1)'],
    ['a relative path', 'console'],
    ['a header-splitting path', '/console\r\nSet-Cookie: x=1'],
  ])('refuses returnTo that is %s (open-redirect guard)', async (_what, returnTo) => {
    const res = await fetch(`${gw.url}/auth/login?returnTo=${encodeURIComponent(returnTo)}`, {
      redirect: 'manual',
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(res.headers.getSetCookie()).toEqual([]);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('RETURN_TO_INVALID');
  });

  it('lands on / when no returnTo is given', async () => {
    expect((await signIn(gw, 'bob')).landing).toBe('/');
  });
});

describe('console sign-in behind https://gatehouse.test with short session lifetimes', () => {
  const base = 'https://gatehouse.test';
  let idp: StartedDevIdp;
  let gw: Gateway;
  let db: DataSource;

  beforeAll(async () => {
    idp = await startDevIdp({ resource: `${base}/mcp`, consoleBase: base });
    // The cookie attributes follow server.publicUrl; no TLS listener is needed to see them.
    gw = await gatewayWith(
      `auth:\n  issuer: ${idp.issuer}\n  audience: ${base}/mcp\n${ROLES}  console:\n    sessionTtlSeconds: 5\n    idleTimeoutSeconds: 2\n`,
      {},
      [`publicUrl: ${base}`],
    );
    db = gw.app.get(DataSource);
  });
  afterAll(async () => {
    await gw?.close();
    await idp?.close();
  });

  /** The session row's deadlines as the database sees them, in seconds from now (negative: past). */
  const deadlines = async (id: string) => {
    const rows = await db.query<{ idle: number; absolute: number; idle_span: number; ttl_span: number }[]>(
      `SELECT extract(epoch FROM idle_expires_at - now())::float AS idle,
              extract(epoch FROM expires_at - now())::float AS absolute,
              extract(epoch FROM idle_expires_at - last_seen_at)::float AS idle_span,
              extract(epoch FROM expires_at - created_at)::float AS ttl_span
         FROM console_session WHERE id_hash = $1`,
      [sha256(id)],
    );
    return rows[0];
  };

  it('names the cookies __Host-… and marks them Secure under HTTPS', async () => {
    const jar = new Jar();
    const started = await beginLogin(gw, jar);
    expect(started.searchParams.get('redirect_uri')).toBe(`${base}/auth/callback`);
    expect(jar.line('__Host-gatehouse_login')).toMatch(
      /^__Host-gatehouse_login=[^;]+; Max-Age=600; Path=\/; HttpOnly; Secure; SameSite=Lax$/,
    );
    const callback = await authorizeAs(started, 'carol');
    const res = await fetch(new URL(`${callback.pathname}${callback.search}`, gw.url), {
      redirect: 'manual',
      headers: { cookie: jar.header() },
    });
    expect(res.status).toBe(302);
    jar.take(res);
    const cookie = jar.line('__Host-gatehouse_session') ?? '';
    expect(cookie).toMatch(
      /^__Host-gatehouse_session=[A-Za-z0-9_-]{43}; Max-Age=5; Path=\/; HttpOnly; Secure; SameSite=Lax$/,
    );
    expect(jar.lines.some((l) => l.startsWith('gatehouse_session='))).toBe(false);

    const me = await api(gw, '/api/v1/me', { headers: { cookie: jar.header() } });
    expect(me.status).toBe(200);
    expect(me.json.sub).toBe('carol');
    // The unprefixed name means nothing here.
    const plain = jar.values.get('__Host-gatehouse_session') ?? '';
    expect((await api(gw, '/api/v1/me', { headers: { cookie: `gatehouse_session=${plain}` } })).status).toBe(
      401,
    );
    // The public origin is the one a write must come from.
    const csrf = me.json.csrfToken as string;
    const fromPublic = await revoke(gw, 'nobody', {
      cookie: jar.header(),
      'x-csrf-token': csrf,
      origin: base,
    });
    expect(fromPublic.status).toBe(200);
    const fromHttp = await revoke(gw, 'nobody', {
      cookie: jar.header(),
      'x-csrf-token': csrf,
      origin: 'http://gatehouse.test',
    });
    expect(fromHttp.status).toBe(403);
  });

  it('ends a session left idle for idleTimeoutSeconds', async () => {
    const carol = await signIn(gw, 'carol');
    expect((await api(gw, '/api/v1/me', { headers: asSession(carol) })).status).toBe(200);
    const first = await deadlines(carol.id);
    expect(first?.idle_span).toBeCloseTo(2, 3);
    expect(first?.ttl_span).toBeCloseTo(5, 3);
    // Wait, without touching the session, until the database says its idle deadline passed.
    for (let d = first; d && d.idle > 0; d = await deadlines(carol.id)) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const me = await api(gw, '/api/v1/me', { headers: asSession(carol) });
    expect(me.status).toBe(401);
    expect(me.json.error.code).toBe('SESSION_ENDED');
  });

  it('ends a session at sessionTtlSeconds even while it is in use', async () => {
    const carol = await signIn(gw, 'carol');
    type Session = { createdAt: string; lastSeenAt: string; idleExpiresAt: string; expiresAt: string };
    let last: { status: number; json: { session?: Session } };
    let lastInUse: Session | undefined;
    // Use the session more often than the idle timeout until it is refused.
    for (let uses = 0; ; uses++) {
      last = await api(gw, '/api/v1/me', { headers: asSession(carol) });
      if (last.status !== 200) break;
      lastInUse = last.json.session;
      expect(Date.parse(lastInUse?.idleExpiresAt ?? '')).toBeLessThanOrEqual(
        Date.parse(lastInUse?.expiresAt ?? ''),
      );
      expect(uses).toBeLessThan(100);
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(last.status).toBe(401);
    // It lived well past the 2 s idle timeout because it was used, and ended at the absolute deadline.
    const lived = Date.parse(lastInUse?.lastSeenAt ?? '') - Date.parse(lastInUse?.createdAt ?? '');
    expect(lived).toBeGreaterThan(3000);
    const d = await deadlines(carol.id);
    expect(d?.absolute).toBeLessThanOrEqual(0);
  });

  it('sweeps expired sessions and abandoned sign-ins from the database', async () => {
    const sessions = gw.app.get(ConsoleSessions, { strict: false });
    const alive = await signIn(gw, 'frank');
    const jar = new Jar();
    await beginLogin(gw, jar);
    const abandoned = sha256(jar.values.get('__Host-gatehouse_login') ?? '');
    const fresh = new Jar();
    await beginLogin(gw, fresh);
    // Ten minutes pass for the abandoned sign-in (the database clock decides expiry).
    await db.query(`UPDATE console_login SET expires_at = now() - interval '1 second' WHERE id_hash = $1`, [
      abandoned,
    ]);
    const expiredBefore = await db.query<{ n: number }[]>(
      'SELECT count(*)::int AS n FROM console_session WHERE NOT (expires_at > now() AND idle_expires_at > now())',
    );
    expect(expiredBefore[0]?.n).toBeGreaterThanOrEqual(2);

    const swept = await sessions.sweep();
    expect(swept.logins).toBeGreaterThanOrEqual(1);
    expect(swept.sessions).toBeGreaterThanOrEqual(2);
    expect(await db.query('SELECT 1 FROM console_login WHERE id_hash = $1', [abandoned])).toHaveLength(0);
    expect(
      await db.query('SELECT 1 FROM console_login WHERE id_hash = $1', [
        sha256(fresh.values.get('__Host-gatehouse_login') ?? ''),
      ]),
    ).toHaveLength(1);
    expect(
      await db.query(
        'SELECT 1 FROM console_session WHERE NOT (expires_at > now() AND idle_expires_at > now())',
      ),
    ).toHaveLength(0);
    expect((await api(gw, '/api/v1/me', { headers: asSession(alive) })).status).toBe(200);
  });

  it('fails a sign-in with a clear page when the IdP goes down mid-way (R33)', async () => {
    const jar = new Jar();
    const callback = await authorizeAs(await beginLogin(gw, jar), 'carol');
    await idp.close();
    const res = await fetch(new URL(`${callback.pathname}${callback.search}`, gw.url), {
      redirect: 'manual',
      headers: { cookie: jar.header(), accept: 'text/html' },
    });
    const html = await res.text();
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(html).toContain('Sign-in is unavailable');
    expect(html).toContain(idp.issuer);
    expect(html).toContain('IDP_UNAVAILABLE');
  });
});

describe('console sign-in without a reachable IdP, and with authentication off', () => {
  let unreachable: Gateway;
  let off: Gateway;

  beforeAll(async () => {
    const closedPort = await freePort();
    unreachable = await gatewayWith(`auth:\n  issuer: http://127.0.0.1:${closedPort}/idp\n`);
    off = await gatewayWith('');
  });
  afterAll(async () => {
    await unreachable?.close();
    await off?.close();
  });

  it('answers /auth/login with 503 and says the IdP cannot be reached (R33)', async () => {
    const res = await api(unreachable, '/auth/login');
    expect(res.status).toBe(503);
    expect(res.json.error.code).toBe('IDP_UNAVAILABLE');
    expect(res.json.error.message).toMatch(
      /sign-in is unavailable: http:\/\/127\.0\.0\.1:\d+\/idp cannot be reached/,
    );
    expect(res.headers.getSetCookie()).toEqual([]);
  });

  it('has no sign-in under auth.mode none, shows the anonymous principal, and keeps admin endpoints closed', async () => {
    const login = await api(off, '/auth/login');
    expect(login.status).toBe(404);
    expect(login.json.error.code).toBe('AUTH_DISABLED');
    const me = await api(off, '/api/v1/me');
    expect(me.status).toBe(200);
    expect(me.json).toMatchObject({ kind: 'anonymous', roles: [], authenticatedBy: 'anonymous' });
    const list = await api(off, '/api/v1/admin/console-sessions');
    expect(list.status).toBe(403);
    expect(list.json.error.code).toBe('ROLE_REQUIRED');
  });
});

describe('console sign-in in the embedded start (auth.mode dev, the IdP under /dev-idp)', () => {
  let gw: GatewayProcess;

  // The built gateway as its own process: oidc-provider does not load inside Jest.
  beforeAll(async () => {
    gw = await spawnGateway('auth:\n  mode: dev\n');
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it("signs carol in through the gateway's own development IdP and signs her out there", async () => {
    const carol = await signIn(gw, 'carol', { returnTo: '/console' });
    expect(carol.authorizationUrl.href.startsWith(`${gw.url}/dev-idp/`)).toBe(true);
    expect(carol.landing).toBe('/console');
    const me = await api(gw, '/api/v1/me', { headers: asSession(carol) });
    expect(me.status).toBe(200);
    expect(me.json).toMatchObject({ sub: 'carol', issuer: `${gw.url}/dev-idp`, roles: ['admin'] });

    const list = await api(gw, '/api/v1/admin/console-sessions', { headers: asSession(carol) });
    expect(list.json.sessions.map((s: { subject: string }) => s.subject)).toEqual(['carol']);

    const out = await api(gw, '/auth/logout', {
      method: 'POST',
      headers: { ...asSession(carol), 'x-csrf-token': me.json.csrfToken as string, origin: gw.url },
    });
    expect(out.status).toBe(200);
    expect(out.json.redirectTo).toMatch(new RegExp(`^${gw.url}/dev-idp/session/end\\?`));
    expect((await api(gw, '/api/v1/me', { headers: asSession(carol) })).status).toBe(401);
  });
});
