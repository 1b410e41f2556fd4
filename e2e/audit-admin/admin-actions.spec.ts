import { DataSource } from 'typeorm';
import { verifyChains } from '@gatehouse/audit';
import { authorizeAs, startDevIdp, type StartedDevIdp } from '../support/dev-idp';
import { auditGateway, type AuditGateway } from '../audit-query/support';
import { beginLogin, Jar, signIn, type SignedIn } from '../console-login/support';
import { api, policyApi, policyDir, ROLES, SEED_POLICY, Tokens } from '../policy-lifecycle/support';
import { freePort } from '../transport/processes';
import { adminRows, attemptAndEnd, breakAuditStore } from './support';

/**
 * Admin actions in the audit trail (issue 5 point 5) against a real gateway (the gateway's root
 * module on Fastify, scratch Postgres), real tokens and console sign-ins from the development IdP
 * (`npm run build` first). Each action gets an attempt record committed before it takes effect
 * and an end record after; with the audit table refusing inserts the action is refused with 503
 * AUDIT_UNAVAILABLE and nothing changes.
 */

const SUPPORT_RULE = `- id: support-reads-tickets
  subject: { group: support }
  resource: { server: zendesk }
  action: read
`;

describe('admin actions in the audit trail', () => {
  let idp: StartedDevIdp;
  let gw: AuditGateway;
  let db: DataSource;
  let tokens: Tokens;
  let policy: ReturnType<typeof policyApi>;
  let dir: string;

  const draft = async (user: string, message: string): Promise<number> => {
    const res = await policy.draft(
      user,
      { 'seed.yaml': SEED_POLICY, 'teams/support.yaml': SUPPORT_RULE },
      message,
    );
    expect(res.status).toBe(201);
    return res.json.number as number;
  };
  /** carol drafts and proposes, dave approves. */
  const approved = async (message: string): Promise<number> => {
    const n = await draft('carol', message);
    expect((await policy.step('carol', n, 'propose')).status).toBe(200);
    expect((await policy.step('dave', n, 'approve')).status).toBe(200);
    return n;
  };
  const statusOf = async (n: number) => (await policy.get('frank', `/versions/${n}`)).json.status as string;
  const activeNumber = async () => (await policy.get('frank', '/active')).json.version as number | null;
  const csrfOf = async (s: SignedIn) =>
    (await api(gw.url, '/api/v1/me', { headers: { cookie: s.jar.header() } })).json.csrfToken as string;

  beforeAll(async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    idp = await startDevIdp({ resource: `${base}/mcp`, consoleBase: base });
    dir = policyDir({ 'seed.yaml': SEED_POLICY });
    gw = await auditGateway(
      `auth:\n  issuer: ${idp.issuer}\n  audience: ${base}/mcp\n${ROLES}policy:\n  dir: ${JSON.stringify(dir)}\n`,
      port,
    );
    db = gw.app.get(DataSource);
    tokens = new Tokens({ issuer: idp.issuer, secrets: idp.secrets, resource: `${base}/mcp` });
    policy = policyApi(gw.url, tokens);
  });
  afterAll(async () => {
    await gw?.close();
    await idp?.close();
  });

  it('records the first-start import of policy.dir as policy.import by the system, ending with the version', async () => {
    const { attempt, end } = await attemptAndEnd(db, 'policy.import', () => true);
    expect(attempt).toMatchObject({
      principal_subject: 'system',
      principal_kind: 'system',
      method: 'startup',
      admin_target: 'policy/versions',
      arguments: { policyDir: dir, files: ['seed.yaml'] },
    });
    expect(end).toMatchObject({ outcome: 'ok', admin_target: 'policy/versions/1', arguments: null });
  });

  it('records each policy step by its caller: an attempt with the request details, then its end', async () => {
    const n = await draft('carol', 'support reads tickets');
    expect((await policy.step('carol', n, 'propose', 'please look')).status).toBe(200);
    expect((await policy.step('dave', n, 'approve', 'looks right')).status).toBe(200);
    expect((await policy.step('carol', n, 'activate')).status).toBe(200);

    const created = await attemptAndEnd(
      db,
      'policy.create',
      (r) => r.arguments?.message === 'support reads tickets',
    );
    expect(created.attempt).toMatchObject({
      principal_subject: 'carol',
      principal_kind: 'user',
      principal_name: 'Carol Chen',
      method: 'POST',
      admin_target: 'policy/versions',
      client_ip: '127.0.0.1',
    });
    // What was uploaded, by size and hash: the texts themselves are in the version.
    const files = created.attempt.arguments?.files as Array<{ path: string; bytes: number; sha256: string }>;
    expect(files.map((f) => f.path)).toEqual(['seed.yaml', 'teams/support.yaml']);
    expect(files[1]).toEqual({
      path: 'teams/support.yaml',
      bytes: Buffer.byteLength(SUPPORT_RULE),
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(created.end).toMatchObject({ outcome: 'ok', admin_target: `policy/versions/${n}` });

    const target = `policy/versions/${n}`;
    for (const [action, who, details] of [
      ['policy.propose', 'carol', { comment: 'please look' }],
      ['policy.approve', 'dave', { comment: 'looks right' }],
      ['policy.activate', 'carol', undefined],
    ] as const) {
      const { attempt, end } = await attemptAndEnd(db, action, (r) => r.admin_target === target);
      expect(attempt).toMatchObject({ principal_subject: who, outcome: 'allowed', method: 'POST' });
      expect(attempt.arguments).toMatchObject({
        params: { number: String(n) },
        ...(details ? { body: details } : {}),
      });
      expect(end).toMatchObject({
        principal_subject: who,
        outcome: 'ok',
        admin_target: target,
        error_code: null,
      });
      expect(end.occurred_at.getTime()).toBeGreaterThanOrEqual(attempt.occurred_at.getTime());
    }
  });

  it('records a four-eyes refusal as an error with the code, and a role refusal as denied', async () => {
    const n = await draft('carol', 'carol approves her own');
    expect((await policy.step('carol', n, 'propose')).status).toBe(200);
    const own = await policy.step('carol', n, 'approve');
    expect(own.status).toBe(403);
    expect(own.json.error.code).toBe('APPROVAL_BY_AUTHOR');
    const { attempt, end } = await attemptAndEnd(
      db,
      'policy.approve',
      (r) => r.admin_target === `policy/versions/${n}` && r.principal_subject === 'carol',
    );
    expect(attempt.outcome).toBe('allowed');
    expect(end).toMatchObject({ outcome: 'error', error_code: 403 });
    expect(end.error_message).toMatch(/^APPROVAL_BY_AUTHOR: /);

    // frank is an auditor: the guard refuses him before the step runs, and the trail says who tried.
    const frank = await policy.step('frank', n, 'approve');
    expect(frank.status).toBe(403);
    expect(frank.json.error.code).toBe('ROLE_REQUIRED');
    const denied = (await adminRows(db, 'policy.approve')).filter((r) => r.principal_subject === 'frank');
    expect(denied).toEqual([
      expect.objectContaining({
        outcome: 'denied',
        admin_target: `policy/versions/${n}`,
        error_code: 403,
        error_message: expect.stringMatching(/^ROLE_REQUIRED: this needs the console role/),
      }),
    ]);
    expect(await statusOf(n)).toBe('proposed');

    expect((await policy.step('dave', n, 'reject', 'four eyes, please')).status).toBe(200);
    const rejected = await attemptAndEnd(
      db,
      'policy.reject',
      (r) => r.admin_target === `policy/versions/${n}`,
    );
    expect(rejected.attempt).toMatchObject({
      principal_subject: 'dave',
      arguments: { params: { number: String(n) }, body: { comment: 'four eyes, please' } },
    });
    expect(rejected.end.outcome).toBe('ok');
  });

  it('R20: keeps secrets out of the attempt and ends a malformed request as an error with its code', async () => {
    const n = await draft('carol', 'proposed with a stray field');
    const res = await policy.post('carol', `/versions/${n}/propose`, { comment: 'ok', token: 'hunter2' });
    expect(res.status).toBe(400);
    const { attempt, end } = await attemptAndEnd(
      db,
      'policy.propose',
      (r) => r.admin_target === `policy/versions/${n}`,
    );
    expect(attempt.arguments).toEqual({
      params: { number: String(n) },
      body: { comment: 'ok', token: '[redacted]' },
    });
    expect(JSON.stringify([attempt, end])).not.toContain('hunter2');
    expect(end).toMatchObject({ outcome: 'error', error_code: 400 });
    expect(end.error_message).toMatch(/^INVALID_REQUEST: /);
    expect(await statusOf(n)).toBe('draft');
  });

  it('records console sign-in, sign-out and session revocation, and a refused revocation', async () => {
    const carol = await signIn(gw, 'carol');
    const dave = await signIn(gw, 'dave');
    const login = await attemptAndEnd(db, 'console.login', (r) => r.principal_subject === 'carol');
    expect(login.attempt).toMatchObject({
      admin_target: 'console-sessions/carol',
      method: 'GET',
      client_ip: '127.0.0.1',
      arguments: { roles: ['admin'], returnTo: '/' },
    });
    expect(login.end.outcome).toBe('ok');

    const revoked = await api(gw.url, '/api/v1/admin/console-sessions/revoke', {
      method: 'POST',
      headers: { cookie: carol.jar.header(), 'x-csrf-token': await csrfOf(carol), origin: gw.url },
      body: { subject: 'dave' },
    });
    expect(revoked.json).toEqual({ subject: 'dave', revoked: 1 });
    const revoke = await attemptAndEnd(db, 'console.sessions.revoke', (r) => r.principal_subject === 'carol');
    expect(revoke.attempt).toMatchObject({
      admin_target: 'console-sessions/dave',
      arguments: { body: { subject: 'dave' } },
    });
    expect(revoke.end.outcome).toBe('ok');
    expect((await api(gw.url, '/api/v1/me', { headers: { cookie: dave.jar.header() } })).status).toBe(401);

    const frank = await api(gw.url, '/api/v1/admin/console-sessions/revoke', {
      method: 'POST',
      headers: await tokens.as('frank'),
      body: { subject: 'carol' },
    });
    expect(frank.status).toBe(403);
    expect(
      (await adminRows(db, 'console.sessions.revoke')).filter((r) => r.principal_subject === 'frank'),
    ).toEqual([
      expect.objectContaining({ outcome: 'denied', admin_target: 'console-sessions/carol', error_code: 403 }),
    ]);

    const out = await api(gw.url, '/auth/logout', {
      method: 'POST',
      headers: { cookie: carol.jar.header(), 'x-csrf-token': await csrfOf(carol), origin: gw.url },
    });
    expect(out.status).toBe(200);
    const logout = await attemptAndEnd(db, 'console.logout', (r) => r.principal_subject === 'carol');
    expect(logout.attempt).toMatchObject({ admin_target: 'console-sessions/carol', method: 'POST' });
    expect(logout.end.outcome).toBe('ok');
  });

  it('records audit queries: an export ends ok once sent whole, an unreadable period ends as error 400', async () => {
    const csv = await fetch(`${gw.url}/api/v1/audit/events.csv?kind=admin`, {
      headers: await tokens.as('frank'),
    });
    expect(csv.status).toBe(200);
    // The export lists admin records written before it, its own attempt among them.
    const lines = (await csv.text()).trimEnd().split('\r\n');
    expect(lines.length).toBeGreaterThan(1);
    const exported = await attemptAndEnd(
      db,
      'audit.query',
      (r) => r.admin_target === 'events.csv' && r.principal_subject === 'frank',
    );
    expect(exported.attempt.arguments).toEqual({ kind: 'admin' });
    expect(exported.end.outcome).toBe('ok');
    expect(lines.some((l) => l.includes(exported.attempt.call_id))).toBe(true);

    const bad = await api(gw.url, '/api/v1/audit/users/alice/summary?period=whenever%20you%20like', {
      headers: await tokens.as('frank'),
    });
    expect(bad.status).toBe(400);
    const refused = await attemptAndEnd(
      db,
      'audit.query',
      (r) => r.admin_target === 'users/alice/summary' && r.principal_subject === 'frank',
    );
    expect(refused.attempt.arguments).toMatchObject({ query: { period: 'whenever you like' } });
    expect(refused.end).toMatchObject({ outcome: 'error', error_code: 400 });
    // An unreadable phrase has its own code (issue 15: the answer carries suggestions).
    expect(refused.end.error_message).toMatch(
      /^PERIOD_UNREADABLE: cannot read the period "whenever you like"/,
    );
  });

  describe('with the audit store refusing inserts', () => {
    let n: number;
    let active: number | null;
    let erinLoggedIn: SignedIn;
    let repair: (() => Promise<void>) | undefined;

    beforeAll(async () => {
      n = await approved('waits for activation');
      active = await activeNumber();
      erinLoggedIn = await signIn(gw, 'erin');
      repair = await breakAuditStore(db);
    });
    afterAll(async () => {
      await repair?.();
    });

    it('R15: refuses a policy activation with 503 AUDIT_UNAVAILABLE and the version does not change', async () => {
      const res = await policy.step('carol', n, 'activate');
      expect(res.status).toBe(503);
      expect(res.json).toEqual({
        error: { code: 'AUDIT_UNAVAILABLE', message: expect.stringContaining('policy.activate') },
      });
      expect(await statusOf(n)).toBe('approved');
      expect(await activeNumber()).toBe(active);
      const events = await db.query<Array<{ action: string }>>(
        `SELECT action FROM policy_event WHERE version = $1 ORDER BY at`,
        [n],
      );
      expect(events.map((e) => e.action)).not.toContain('activate');
    });

    it('R15: refuses a new draft, a revocation, an audit query and a sign-out the same way', async () => {
      const count = async () =>
        Number((await db.query<Array<{ n: string }>>('SELECT count(*) AS n FROM policy_version'))[0]?.n);
      const versions = await count();
      const created = await policy.draft('carol', { 'seed.yaml': SEED_POLICY }, 'must not be stored');
      expect(created.status).toBe(503);
      expect(await count()).toBe(versions);

      const revoke = await api(gw.url, '/api/v1/admin/console-sessions/revoke', {
        method: 'POST',
        headers: await tokens.as('carol'),
        body: { subject: 'erin' },
      });
      expect(revoke.status).toBe(503);
      expect(revoke.json.error.code).toBe('AUDIT_UNAVAILABLE');

      const query = await api(gw.url, '/api/v1/audit/events?limit=1', { headers: await tokens.as('frank') });
      expect(query.status).toBe(503);
      expect(query.json.error.code).toBe('AUDIT_UNAVAILABLE');

      const out = await api(gw.url, '/auth/logout', {
        method: 'POST',
        headers: {
          cookie: erinLoggedIn.jar.header(),
          'x-csrf-token': await csrfOf(erinLoggedIn),
          origin: gw.url,
        },
      });
      expect(out.status).toBe(503);
      expect(out.json.error.code).toBe('AUDIT_UNAVAILABLE');
      // Neither the revocation nor the sign-out ended erin's session.
      expect(
        (await api(gw.url, '/api/v1/me', { headers: { cookie: erinLoggedIn.jar.header() } })).status,
      ).toBe(200);
    });

    it('R15: refuses a console sign-in: 503, no session cookie and no session', async () => {
      const jar = new Jar();
      const callback = await authorizeAs(await beginLogin(gw, jar), 'frank');
      const res = await fetch(new URL(`${callback.pathname}${callback.search}`, gw.url), {
        redirect: 'manual',
        headers: { cookie: jar.header(), accept: 'text/html' },
      });
      expect(res.status).toBe(503);
      expect(await res.text()).toContain('AUDIT_UNAVAILABLE');
      expect(res.headers.getSetCookie().some((c) => /^gatehouse_session=[^;]/.test(c))).toBe(false);
      expect(await db.query(`SELECT 1 FROM console_session WHERE subject = 'frank'`)).toEqual([]);
    });

    it('works again once the store is repaired, and the chains still verify', async () => {
      await repair?.();
      repair = undefined;
      expect((await policy.step('carol', n, 'activate')).status).toBe(200);
      expect(await activeNumber()).toBe(n);
      const { end } = await attemptAndEnd(
        db,
        'policy.activate',
        (r) => r.admin_target === `policy/versions/${n}`,
      );
      expect(end.outcome).toBe('ok');
      // And a rollback (to another approved version: the imported one was never approved by a
      // second person, so it is no rollback target) is recorded like any step.
      expect(active).not.toBeNull();
      const back = await approved('the one to go back to');
      expect((await policy.step('carol', back, 'rollback', 'back to the previous one')).status).toBe(200);
      const rollback = await attemptAndEnd(
        db,
        'policy.rollback',
        (r) => r.admin_target === `policy/versions/${back}`,
      );
      expect(rollback.attempt.arguments).toMatchObject({ body: { comment: 'back to the previous one' } });
      expect(rollback.end.outcome).toBe('ok');
      expect(await activeNumber()).toBe(back);
      const report = await verifyChains((sql, params) => db.query(sql, params));
      expect(report.ok).toBe(true);
    });
  });
});
