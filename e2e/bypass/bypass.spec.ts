import { randomUUID } from 'node:crypto';
import { createScratchDatabase, DEFAULT_SERVER_URL, type ScratchDatabase } from '@gatehouse/db';
import { startDevIdp, type StartedDevIdp } from '../support/dev-idp';
import { eventually, policyDir, SEED_POLICY, Tokens } from '../policy-lifecycle/support';
import { spawnGateway, type GatewayProcess } from '../transport/processes';
import { AUDIENCE, bypassApi, callTool, gatewayYaml, REASON, sql } from './support';

/**
 * Break glass (issue 7, R51) on two built gateway processes (`npm run build` first) sharing one
 * scratch Postgres database and Redis, with real tokens from the development IdP and the real
 * `server-everything` upstream. Under the seed policy nobody may call `everything`, so every call
 * here is a policy deny unless a grant lifts it. erin is the incident responder, carol an admin,
 * frank an auditor, alice and bob plain users.
 */

const DENIED = -32003;

describe('break-glass grants on two replicas', () => {
  let idp: StartedDevIdp;
  let tokens: Tokens;
  let db: ScratchDatabase;
  let a: GatewayProcess;
  let b: GatewayProcess;
  let onA: ReturnType<typeof bypassApi>;
  let onB: ReturnType<typeof bypassApi>;

  const echo = (gw: GatewayProcess, user = 'alice') => callTool(gw, tokens, user, 'echo', { message: 'hi' });
  const allowedOn = async (gw: GatewayProcess, user = 'alice') => (await echo(gw, user)).error === undefined;
  /** Waits (at most 2 s) until the call's fate on `gw` is `allowed`. */
  const within2s = (gw: GatewayProcess, allowed: boolean, what: string) =>
    eventually(async () => ((await allowedOn(gw)) === allowed ? true : undefined), 2_000, what);

  beforeAll(async () => {
    idp = await startDevIdp({ resource: AUDIENCE });
    tokens = new Tokens({ issuer: idp.issuer, secrets: idp.secrets, resource: AUDIENCE });
    db = await createScratchDatabase(DEFAULT_SERVER_URL, 'gh_bypass');
    const config = gatewayYaml(idp, db, policyDir({ 'seed.yaml': SEED_POLICY }), `test-${randomUUID()}:`);
    a = await spawnGateway(config);
    b = await spawnGateway(config);
    onA = bypassApi(a.url, tokens);
    onB = bypassApi(b.url, tokens);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await db?.drop();
    await idp?.close();
  });

  it('lets a denied call through only inside the grant scope and window, on both replicas, until it expires', async () => {
    expect((await echo(a)).error?.code).toBe(DENIED);
    expect((await echo(b)).error?.code).toBe(DENIED);

    const opened = await onA.open('erin', {
      reason: REASON,
      incident: 'INC-4711',
      servers: ['everything'],
      tools: ['echo'],
      users: ['alice'],
      durationSeconds: 10,
    });
    expect(opened.status).toBe(201);
    expect(opened.json).toMatchObject({
      status: 'active',
      effective: true,
      mode: 'immediate',
      scope: { servers: ['everything'], tools: ['echo'] },
      covers: { everyone: false, users: ['alice'], groups: [] },
      lifts: { policyDenies: true, rateLimits: false },
      openedBy: { subject: 'erin' },
      review: { required: true, overdue: false },
    });
    const id = opened.json.id as string;
    // Break glass owes a review by someone else within bypass.reviewWindowHours (72 h by default).
    expect(Date.parse(opened.json.review.dueAt as string) - Date.parse(opened.json.openedAt as string)).toBe(
      72 * 3_600_000,
    );

    expect(await allowedOn(a)).toBe(true);
    await within2s(b, true, 'alice allowed on replica B');
    expect(await (await fetch(`${b.url}/metrics`)).text()).toMatch(/^gatehouse_bypass_grants_active 1$/m);
    // Outside the scope: another tool, another person.
    expect((await callTool(b, tokens, 'alice', 'get-sum', { a: 1, b: 2 })).error?.code).toBe(DENIED);
    expect((await echo(b, 'bob')).error?.code).toBe(DENIED);

    // Recorded as a bypass of the policy's deny, with the grant's id: intent `bypassed`, outcome `ok`.
    const intents = await sql<{ decision: string; outcome: string; bypass_id: string | null }>(
      db,
      `SELECT decision, outcome, bypass_id FROM audit_event WHERE kind = 'intent' AND principal_subject = 'alice' AND tool = 'echo'`,
    );
    expect(intents).toContainEqual({ decision: 'bypass', outcome: 'bypassed', bypass_id: id });
    expect(intents).toContainEqual({ decision: 'deny', outcome: 'denied', bypass_id: null });
    // The review lists the calls made under the grant: intent and outcome, nothing outside its scope.
    await eventually(
      async () => {
        const under = (await onB.get('frank', `/grants/${id}/calls`)).json as {
          calls: Array<{ kind: string; outcome: string; tool: string; principal: { subject: string } }>;
        };
        const kinds = under.calls.map((c) => `${c.kind}:${c.outcome}`);
        return kinds.includes('intent:bypassed') && kinds.includes('outcome:ok') ? under : undefined;
      },
      5_000,
      'the calls under the grant',
    ).then((under) => {
      expect(under.calls.every((c) => c.tool === 'echo' && c.principal.subject === 'alice')).toBe(true);
    });

    // The server ends it at expiresAt, on both replicas, with no one doing anything.
    const expiresAt = Date.parse(opened.json.expiresAt as string);
    await eventually(async () => (Date.now() >= expiresAt ? true : undefined), 15_000, 'the grant expiry');
    expect((await echo(a)).error?.code).toBe(DENIED);
    expect((await echo(b)).error?.code).toBe(DENIED);
    expect((await onB.get('frank', `/grants/${id}`)).json.status).toBe('expired');
    // The sweep records the expiry in the history.
    await eventually(
      async () => {
        const history = (await onB.get('frank', `/grants/${id}`)).json.history as Array<{ action: string }>;
        return history.some((e) => e.action === 'expire') ? true : undefined;
      },
      // The sweep runs every 5 s on each replica.
      8_000,
      'the expire event',
    );
  });

  it('a revocation on one replica ends the grant on the other within 2 s', async () => {
    const opened = await onA.open('erin', { reason: REASON, servers: ['everything'], everyone: true });
    expect(opened.status).toBe(201);
    const id = opened.json.id as string;
    await within2s(b, true, 'alice allowed on replica B');
    expect(await allowedOn(a, 'bob')).toBe(true);

    const revoked = await onB.step('carol', id, 'revoke', { reason: 'incident resolved' });
    expect(revoked.status).toBe(200);
    expect(revoked.json).toMatchObject({
      status: 'revoked',
      effective: false,
      revokedBy: { subject: 'carol' },
    });
    expect(await allowedOn(b)).toBe(false);
    await within2s(a, false, 'alice denied again on replica A');

    const ids = async (query: string) =>
      ((await onA.get('frank', `/grants?${query}`)).json as Array<{ id: string }>).map((g) => g.id);
    expect(await ids('status=revoked')).toContain(id);
    expect(await ids('status=active')).not.toContain(id);
    expect((await onA.get('frank', '/grants?status=gone')).status).toBe(400);

    const again = await onA.step('erin', id, 'revoke');
    expect(again.status).toBe(409);
    expect(again.json.error.code).toBe('INVALID_TRANSITION');
  });

  it('a call already running when its grant is revoked finishes; the next one is denied', async () => {
    const opened = await onA.open('erin', { reason: REASON, servers: ['everything'], users: ['alice'] });
    expect(opened.status).toBe(201);
    await within2s(b, true, 'alice allowed on replica B');
    let settled = false;
    const running = callTool(b, tokens, 'alice', 'trigger-long-running-operation', {
      duration: 3,
      steps: 3,
    }).finally(() => (settled = true));
    // The call is past the policy stage once the upstream has started it; give it a moment to get there.
    await new Promise((r) => setTimeout(r, 500));
    expect((await onA.step('carol', opened.json.id as string, 'revoke')).status).toBe(200);
    expect(settled).toBe(false);
    await within2s(b, false, 'alice denied on replica B after the revocation');
    const finished = await running;
    expect(finished.error).toBeUndefined();
    expect(JSON.stringify(finished.result)).toContain('Long running operation completed');
  });

  it('an approval-first grant takes effect only once someone else approves it; self-approval is refused', async () => {
    const opened = await onA.open('erin', {
      reason: REASON,
      servers: ['everything'],
      users: ['alice'],
      requireApproval: true,
    });
    expect(opened.status).toBe(201);
    expect(opened.json).toMatchObject({
      status: 'pending-approval',
      mode: 'approval-first',
      effective: false,
    });
    const id = opened.json.id as string;
    expect((await echo(a)).error?.code).toBe(DENIED);
    expect((await echo(b)).error?.code).toBe(DENIED);

    const self = await onB.step('erin', id, 'approve');
    expect(self.status).toBe(403);
    expect(self.json.error.code).toBe('SELF_APPROVAL');
    expect((await echo(a)).error?.code).toBe(DENIED);

    const approved = await onB.step('carol', id, 'approve', { comment: 'confirmed with the incident lead' });
    expect(approved.status).toBe(200);
    expect(approved.json).toMatchObject({
      status: 'active',
      effective: true,
      approvedBy: { subject: 'carol' },
    });
    await within2s(a, true, 'alice allowed on replica A after the approval on B');

    expect((await onA.step('erin', id, 'revoke')).status).toBe(200);
    await within2s(b, false, 'alice denied on replica B after the revocation on A');
  });

  it('flags an overdue review in the API and the metric, refuses self-review, and records the sign-off', async () => {
    const opened = await onA.open('erin', { reason: REASON, servers: ['everything'] });
    expect(opened.status).toBe(201);
    const id = opened.json.id as string;
    // The review window is 72 h by default: move this grant's due time into the past instead of waiting.
    await sql(db, `UPDATE bypass_grant SET review_due_at = now() - interval '1 hour' WHERE id = $1`, [id]);

    const overdue = await onB.get('frank', '/grants?overdue=true');
    expect(overdue.status).toBe(200);
    expect((overdue.json as Array<{ id: string }>).map((g) => g.id)).toContain(id);
    expect((await onB.get('frank', `/grants/${id}`)).json.review).toMatchObject({
      required: true,
      overdue: true,
    });
    await eventually(
      async () => {
        const text = await (await fetch(`${b.url}/metrics`)).text();
        const value = /^gatehouse_bypass_reviews_overdue (\d+)/m.exec(text)?.[1];
        return value !== undefined && Number(value) >= 1 ? true : undefined;
      },
      8_000,
      'gatehouse_bypass_reviews_overdue at 1',
    );

    const self = await onA.step('erin', id, 'review', { note: 'used for the payments fix only' });
    expect(self.status).toBe(403);
    expect(self.json.error.code).toBe('SELF_REVIEW');

    const signed = await onA.step('frank', id, 'review', { note: 'used for the payments fix only' });
    expect(signed.status).toBe(200);
    expect(signed.json.review).toMatchObject({
      overdue: false,
      reviewedBy: { subject: 'frank' },
      note: 'used for the payments fix only',
    });
    expect((signed.json.history as Array<{ action: string }>).map((e) => e.action)).toEqual([
      'open',
      'review',
    ]);
    const stillOverdue = (await onB.get('frank', '/grants?overdue=true')).json as Array<{ id: string }>;
    expect(stillOverdue.map((g) => g.id)).not.toContain(id);

    const calls = await onB.get('frank', `/grants/${id}/calls`);
    expect(calls.status).toBe(200);
    expect(calls.json).toMatchObject({ grantId: id, truncated: false });
    expect(Array.isArray(calls.json.calls)).toBe(true);
    await onA.step('erin', id, 'revoke');
  });

  it('follows bypass.modes: a grant reaching an approval-first server waits; the one button covers its opener alone', async () => {
    const oneButton = await onA.open('erin', { reason: REASON });
    expect(oneButton.status).toBe(201);
    expect(oneButton.json).toMatchObject({
      status: 'pending-approval',
      mode: 'approval-first',
      scope: { servers: ['*'], tools: ['*'] },
      covers: { everyone: false, users: ['erin'], groups: [] },
      durationSeconds: 3600,
      review: { required: false },
    });
    const onlyEverything = await onA.open('erin', {
      reason: REASON,
      servers: ['every*'],
      durationSeconds: 60,
    });
    expect(onlyEverything.json.mode).toBe('immediate');
    for (const id of [oneButton.json.id as string, onlyEverything.json.id as string])
      expect((await onA.step('erin', id, 'revoke')).status).toBe(200);
  });

  it('refuses weak requests, changes to a grant, and callers without the role, each with a coded reason', async () => {
    const weak = await onA.open('erin', { reason: 'aaaaaaaaaaaaaaaaaaaaaaaaa' });
    expect(weak.status).toBe(400);
    expect(weak.json.error.code).toBe('INVALID_REQUEST');
    expect(weak.json.error.problems.join('\n')).toMatch(/body\.reason/);

    const long = await onA.open('erin', { reason: REASON, durationSeconds: 9 * 3600 });
    expect(long.status).toBe(400);
    expect(long.json.error.message).toMatch(/over the maximum of 28800 s/);

    const nowhere = await onA.open('erin', { reason: REASON, servers: ['no-such-server'] });
    expect(nowhere.status).toBe(400);
    expect(nowhere.json.error.message).toMatch(/match no upstream/);

    const opened = await onA.open('carol', { reason: REASON, durationSeconds: 60 });
    expect(opened.status).toBe(201);
    const id = opened.json.id as string;
    const widen = await onA.send('carol', 'PATCH', `/grants/${id}`, {
      servers: ['*'],
      durationSeconds: 28800,
    });
    expect(widen.status).toBe(405);
    expect(widen.json.error.code).toBe('GRANT_IMMUTABLE');
    expect(widen.headers.get('allow')).toBe('GET');
    expect(widen.headers.get('cache-control')).toBe('no-store');
    expect((await onA.get('frank', `/grants/${id}`)).json.durationSeconds).toBe(60);

    const plain = await onA.open('alice', { reason: REASON });
    expect(plain.status).toBe(403);
    const auditor = await onA.open('frank', { reason: REASON });
    expect(auditor.status).toBe(403);
    expect((await onA.get('bob', '/grants')).status).toBe(403);
    expect((await onA.get('frank', '/grants/not-a-grant')).status).toBe(404);
    // Approving and revoking take an incident responder or an admin: not an auditor, not a user.
    const waiting = await onA.open('carol', { reason: REASON, durationSeconds: 60, requireApproval: true });
    expect(waiting.status).toBe(201);
    const waitingId = waiting.json.id as string;
    for (const [user, step] of [
      ['frank', 'approve'],
      ['frank', 'revoke'],
      ['alice', 'approve'],
      ['alice', 'revoke'],
    ] as const) {
      const refused = await onA.step(user, waitingId, step);
      expect([user, step, refused.status, refused.json.error.code]).toEqual([
        user,
        step,
        403,
        'ROLE_REQUIRED',
      ]);
    }
    expect((await onA.get('frank', `/grants/${waitingId}`)).json.status).toBe('pending-approval');
    // Any incident responder may revoke a grant someone else opened.
    const byResponder = await onA.step('erin', waitingId, 'revoke', { reason: 'not needed any more' });
    expect(byResponder.status).toBe(200);
    expect(byResponder.json).toMatchObject({ status: 'revoked', revokedBy: { subject: 'erin' } });

    // Every step above is an admin action in the audit trail.
    const admin = await sql<{ admin_action: string }>(
      db,
      `SELECT DISTINCT admin_action FROM audit_event WHERE kind = 'admin' AND admin_action LIKE 'bypass.%'`,
    );
    expect(admin.map((r) => r.admin_action).sort()).toEqual(
      expect.arrayContaining(['bypass.approve', 'bypass.open', 'bypass.review', 'bypass.revoke']),
    );
    await onA.step('carol', id, 'revoke');
  });

  it('documents every bypass route in the OpenAPI document, with the one-button body needing only a reason', async () => {
    const doc = (await fetch(`${a.url}/api/v1/openapi.json`).then((r) => r.json())) as {
      paths: Record<string, Record<string, unknown>>;
      components: {
        schemas: Record<
          string,
          { required?: string[]; properties?: Record<string, { description?: string }> }
        >;
      };
    };
    const operations = Object.entries(doc.paths)
      .filter(([path]) => path.startsWith('/api/v1/bypass/'))
      .flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`));
    expect(operations.sort()).toEqual(
      [
        'GET /api/v1/bypass/grants',
        'POST /api/v1/bypass/grants',
        'GET /api/v1/bypass/grants/{id}',
        'PATCH /api/v1/bypass/grants/{id}',
        'PUT /api/v1/bypass/grants/{id}',
        'GET /api/v1/bypass/grants/{id}/calls',
        'POST /api/v1/bypass/grants/{id}/approve',
        'POST /api/v1/bypass/grants/{id}/revoke',
        'POST /api/v1/bypass/grants/{id}/review',
        'GET /api/v1/bypass/settings',
      ].sort(),
    );
    const open = doc.components.schemas.OpenBypassGrant;
    expect(open?.required).toEqual(['reason']);
    // The documented default is the one the server applies with the default settings (the one
    // button above got 3600 s). The maximum is a setting (bypass.maxDurationMinutes, up to 24 h),
    // so the schema states none that a configured server would contradict; the text names it.
    expect(open?.properties?.durationSeconds).toMatchObject({ default: 3600, minimum: 10 });
    expect(open?.properties?.durationSeconds).not.toHaveProperty('maximum');
    expect(open?.properties?.durationSeconds?.description).toContain('configured maximum');
    expect(open?.properties?.liftRateLimits).toMatchObject({ default: false });
  });
});

describe('break-glass grants on two replicas without Redis (the periodic reload)', () => {
  let idp: StartedDevIdp;
  let tokens: Tokens;
  let db: ScratchDatabase;
  let a: GatewayProcess;
  let b: GatewayProcess;

  beforeAll(async () => {
    idp = await startDevIdp({ resource: AUDIENCE });
    tokens = new Tokens({ issuer: idp.issuer, secrets: idp.secrets, resource: AUDIENCE });
    db = await createScratchDatabase(DEFAULT_SERVER_URL, 'gh_bypass_poll');
    const config = gatewayYaml(idp, db, policyDir({ 'seed.yaml': SEED_POLICY }), undefined);
    a = await spawnGateway(config);
    b = await spawnGateway(config);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await db?.drop();
    await idp?.close();
  });

  it('opening and revoking on one replica still reach the other within 2 s', async () => {
    const allowedOnB = async () =>
      (await callTool(b, tokens, 'alice', 'echo', { message: 'hi' })).error === undefined;
    expect(await allowedOnB()).toBe(false);
    const api = bypassApi(a.url, tokens);
    const opened = await api.open('erin', { reason: REASON, servers: ['everything'], everyone: true });
    expect(opened.status).toBe(201);
    await eventually(
      async () => ((await allowedOnB()) ? true : undefined),
      2_000,
      'alice allowed on replica B',
    );
    expect((await api.step('erin', opened.json.id as string, 'revoke')).status).toBe(200);
    await eventually(
      async () => ((await allowedOnB()) ? undefined : true),
      2_000,
      'alice denied on replica B',
    );
    expect(b.output.join('')).toContain('(periodic check)');
  });
});
