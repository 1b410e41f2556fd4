import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { INGEST_PATH, type IngestCall } from '@gatehouse/audit';
import { SEED_POLICY } from '@gatehouse/policy';
import { startDevIdp, type StartedDevIdp } from '../support/dev-idp';
import { recordingUpstream } from '../support/recording-upstream';
import { api, policyApi, policyDir, ROLES, Tokens, type ApiAnswer } from '../policy-lifecycle/support';
import { gatewayWith } from '../transport/helpers';
import { freePort } from '../transport/processes';

/**
 * Issue 13 point 8, the admin surfaces a signed-in user reaches besides /mcp: the bridge's ingest
 * endpoint, break-glass reasons, service-account identities and policy rollback. A real gateway
 * (Fastify, scratch Postgres, Redis), real tokens from the development IdP (`npm run build`
 * first), several people at once, and a real MCP upstream that must never hear of ingested calls.
 */

const REDIS_URL = 'redis://127.0.0.1:6379';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

type Gateway = Awaited<ReturnType<typeof gatewayWith>>;

async function rowsOf(databaseUrl: string, callIds: string[]): Promise<Array<Record<string, unknown>>> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (
      await client.query('SELECT call_id, kind, server FROM audit_event WHERE call_id = ANY($1)', [callIds])
    ).rows as Array<Record<string, unknown>>;
  } finally {
    await client.end();
  }
}

function reported(startedAt: Date, extra: Partial<IngestCall> = {}): IngestCall {
  return {
    id: randomUUID(),
    server: 'postgres-prod',
    method: 'tools/call',
    params: { name: 'query', arguments: { sql: 'SELECT * FROM public.customers' } },
    startedAt: startedAt.toISOString(),
    durationMs: 12,
    status: 'ok',
    ...extra,
  };
}

describe('13.8 admin surfaces: ingest, break-glass reasons, service accounts, rollback', () => {
  let idp: StartedDevIdp;
  let gw: Gateway;
  let tokens: Tokens;
  let policy: ReturnType<typeof policyApi>;
  let upstream: Awaited<ReturnType<typeof recordingUpstream>>;
  let upstreamRequestsBefore: number;

  const as = (user: string, path: string, body?: unknown): Promise<ApiAnswer> =>
    tokens
      .as(user)
      .then((headers) => api(gw.url, path, { method: body === undefined ? 'GET' : 'POST', headers, body }));
  const ingest = (user: string, body: unknown) => as(user, INGEST_PATH, body);

  beforeAll(async () => {
    upstream = await recordingUpstream();
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    idp = await startDevIdp({ resource: `${base}/mcp`, consoleBase: base });
    tokens = new Tokens({ issuer: idp.issuer, secrets: idp.secrets, resource: `${base}/mcp` });
    gw = await gatewayWith(
      `auth:
  issuer: ${idp.issuer}
  audience: ${base}/mcp
${ROLES}  serviceAccounts:
    ci-bot: { groups: [policy-approver] }
redis:
  url: ${REDIS_URL}
  keyPrefix: "test-${randomUUID()}:"
audit:
  ingest:
    perPrincipalPerMinute: 5
policy:
  dir: ${JSON.stringify(policyDir({ 'seed.yaml': SEED_POLICY }))}
upstreams:
  postgres-prod:
    transport: http
    url: ${upstream.url}
    tags: { kind: postgres, env: prod }
`,
      { PORT: String(port) },
    );
    policy = policyApi(gw.url, tokens);
    upstreamRequestsBefore = upstream.requests.length;
  });

  afterAll(async () => {
    await gw?.close();
    await idp?.close();
    upstream?.server.closeAllConnections();
    await new Promise((done) => upstream?.server.close(done));
  });

  describe('13.8 ingest', () => {
    it('13.8 R15: bob cannot write a 29-day-old record for a server that does not exist', async () => {
      const forged = reported(new Date(Date.now() - 29 * DAY), { server: 'made-up' });
      const res = await ingest('bob', { mode: 'fallback', calls: [forged] });
      expect(res.status).toBe(400);
      expect(res.json.error.code).toBe('INVALID_REQUEST');
      expect(res.json.error.issues).toEqual(
        expect.arrayContaining([
          { path: 'calls[0].server', message: expect.stringMatching(/no upstream named "made-up"/) },
          { path: 'calls[0].startedAt', message: expect.stringMatching(/older than 7 days/) },
        ]),
      );
      expect(await rowsOf(gw.databaseUrl, [forged.id])).toEqual([]);
    });

    it('13.8: takes a fallback spool within the window (6 days), refuses one past it (8 days), and a call that would end in the future', async () => {
      const spooled = reported(new Date(Date.now() - 6 * DAY));
      const ok = await ingest('erin', { mode: 'fallback', calls: [spooled] });
      expect(ok.status).toBe(200);
      expect(ok.json).toMatchObject({ stored: 1, duplicates: 0 });
      expect(await rowsOf(gw.databaseUrl, [spooled.id])).toHaveLength(2);

      const stale = reported(new Date(Date.now() - 8 * DAY));
      const old = await ingest('erin', { mode: 'fallback', calls: [stale] });
      expect(old.status).toBe(400);
      expect(old.json.error.issues).toEqual([
        { path: 'calls[0].startedAt', message: expect.stringMatching(/older than 7 days/) },
      ]);

      // Its outcome record would be stamped tomorrow.
      const ahead = reported(new Date(Date.now() + 30_000), { durationMs: DAY });
      const future = await ingest('erin', { mode: 'shadow', calls: [ahead] });
      expect(future.status).toBe(400);
      expect(future.json.error.issues).toEqual([
        { path: 'calls[0].durationMs', message: expect.stringMatching(/end more than 60 s in the future/) },
      ]);
      expect(await rowsOf(gw.databaseUrl, [stale.id, ahead.id])).toEqual([]);
    });

    it('13.8 R27: frank is rate-limited per principal with 429 and Retry-After; alice, reporting at the same time, is not', async () => {
      const frank = await Promise.all(
        Array.from({ length: 7 }, () => ingest('frank', { mode: 'shadow', calls: [reported(new Date())] })),
      );
      // Seven at once against 5 a minute and 2 in flight: at least two over the minute window.
      const statuses = frank.map((r) => r.status);
      expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
      expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(2);
      const limited = frank.find((r) => r.status === 429) as ApiAnswer;
      expect(limited.json.error).toMatchObject({
        code: 'RATE_LIMITED',
        message: expect.stringMatching(/retry in \d+ s/),
      });
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

      // Once the in-flight slots are free, the minute window alone decides: frank stays refused.
      const after = await ingest('frank', { mode: 'shadow', calls: [reported(new Date())] });
      expect(after.status).toBe(429);
      expect(after.json.error.message).toMatch(/5 per minute/);
      const call = reported(new Date());
      const alice = await ingest('alice', { mode: 'shadow', calls: [call] });
      expect(alice.status).toBe(200);
      expect(await rowsOf(gw.databaseUrl, [call.id])).toHaveLength(2);
    });

    it('never reaches the upstream', () => {
      expect(upstream.requests.length).toBe(upstreamRequestsBefore);
    });
  });

  describe('13.8 break-glass reasons', () => {
    it.each([
      ['a word repeated', 'please please please please let me in', /one word repeated/],
      ['lorem ipsum', 'Lorem ipsum dolor sit amet, consectetur adipiscing elit', /placeholder text/],
      ['keyboard runs', 'asdf qwer zxcv hjkl uiop', /keyboard runs/],
      ['a mash', 'sdkfj lskdjf qwrtp mnbvc', /keyboard runs/],
    ])('13.8 R51: erin cannot open a grant whose reason is filler (%s)', async (_what, reason, why) => {
      const res = await as('erin', '/api/v1/bypass/grants', { reason, durationSeconds: 60 });
      expect(res.status).toBe(400);
      expect(res.json.error.code).toBe('INVALID_REQUEST');
      expect(res.json.error.problems).toEqual([expect.stringMatching(why)]);
      expect(res.json.error.problems[0]).toMatch(/^body\.reason must /);
    });

    it('13.8 R51: a terse real reason opens the grant', async () => {
      const res = await as('erin', '/api/v1/bypass/grants', {
        reason: 'INC-4521: payments DB failover, deny blocks restore',
        servers: ['postgres-prod'],
        durationSeconds: 60,
      });
      expect(res.status).toBe(201);
      const revoked = await as('erin', `/api/v1/bypass/grants/${res.json.id as string}/revoke`, {
        reason: 'test over',
      });
      expect(revoked.status).toBe(200);
    });
  });

  describe('13.8 break-glass four eyes', () => {
    const REASON = 'INC-4522: orders DB locked, carol must run the unlock tool';

    it('13.8 R51: a person the grant names cannot approve it; someone it does not name can', async () => {
      const forCarol = await as('erin', '/api/v1/bypass/grants', {
        reason: REASON,
        users: ['carol'],
        requireApproval: true,
        durationSeconds: 60,
      });
      expect(forCarol.status).toBe(201);
      expect(forCarol.json.status).toBe('pending-approval');
      const own = await as('carol', `/api/v1/bypass/grants/${forCarol.json.id as string}/approve`, {});
      expect(own.status).toBe(403);
      expect(own.json.error).toMatchObject({
        code: 'SELF_APPROVAL',
        message: expect.stringMatching(/names you/),
      });
      expect((await as('frank', `/api/v1/bypass/grants/${forCarol.json.id as string}`)).json.status).toBe(
        'pending-approval',
      );

      const forBob = await as('erin', '/api/v1/bypass/grants', {
        reason: REASON.replace('carol', 'bob'),
        users: ['bob'],
        requireApproval: true,
        durationSeconds: 60,
      });
      const approved = await as('carol', `/api/v1/bypass/grants/${forBob.json.id as string}/approve`, {});
      expect(approved.status).toBe(200);
      expect(approved.json.status).toBe('active');
      for (const id of [forCarol.json.id as string, forBob.json.id as string]) {
        expect((await as('erin', `/api/v1/bypass/grants/${id}/revoke`, {})).status).toBe(200);
      }
    });

    it('13.8 R51: a person the grant lifted the policy for cannot sign off its review', async () => {
      const grant = await as('erin', '/api/v1/bypass/grants', {
        reason: REASON,
        users: ['carol'],
        durationSeconds: 60,
      });
      expect(grant.json.status).toBe('active');
      const id = grant.json.id as string;
      const note = { note: 'looked at every call carol made under it' };
      const own = await as('carol', `/api/v1/bypass/grants/${id}/review`, note);
      expect(own.status).toBe(403);
      expect(own.json.error.code).toBe('SELF_REVIEW');
      expect((await as('frank', `/api/v1/bypass/grants/${id}/review`, note)).status).toBe(200);
    });
  });

  describe('13.8 rollback', () => {
    /** `author` drafts and proposes `files`, `approver` approves: the version number. */
    async function approvedBy(
      author: string,
      approver: string,
      text: string,
      message: string,
    ): Promise<number> {
      const draft = await policy.draft(author, { 'seed.yaml': text }, message);
      expect(draft.status).toBe(201);
      const n = draft.json.number as number;
      expect((await policy.step(author, n, 'propose')).status).toBe(200);
      expect((await policy.step(approver, n, 'approve', 'reviewed')).status).toBe(200);
      return n;
    }
    const active = async () => (await policy.get('frank', '/active')).json.version as number;
    const BACKDOOR = `${SEED_POLICY}\n# (the rule everyone forgot about)\n`;

    it('13.8: neither the author nor the approver of a superseded version can bring it back alone; a third person can', async () => {
      // dave writes v_bad, carol approves it, dave activates it: four eyes held once.
      const bad = await approvedBy('dave', 'carol', BACKDOOR, 'tidy the seed');
      expect((await policy.step('dave', bad, 'activate')).status).toBe(200);
      // carol replaces it with v_fix (ci-bot approves); v_bad is superseded.
      const fix = await approvedBy('carol', 'ci-bot', SEED_POLICY, 'take the forgotten rule out again');
      expect((await policy.step('carol', fix, 'activate')).status).toBe(200);
      expect((await policy.get('frank', `/versions/${bad}`)).json.status).toBe('superseded');

      // dave alone puts v_bad back: refused, and nothing changes.
      const byAuthor = await policy.step('dave', bad, 'rollback', 'the fix broke tickets');
      expect(byAuthor.status).toBe(403);
      expect(byAuthor.json.error.code).toBe('ROLLBACK_NEEDS_SECOND_PERSON');
      expect(byAuthor.json.error.message).toMatch(/dave wrote version \d+ and cannot bring it back alone/);
      // Nor carol, who approved it then.
      const byApprover = await policy.step('carol', bad, 'rollback', 'the fix broke tickets');
      expect(byApprover.status).toBe(403);
      expect(byApprover.json.error.message).toMatch(/carol approved version \d+/);
      expect(await active()).toBe(fix);

      // ci-bot neither wrote, proposed nor approved it: its rollback is the second person.
      const byThird = await policy.step('ci-bot', bad, 'rollback', 'the fix broke tickets, going back');
      expect(byThird.status).toBe(200);
      expect(await active()).toBe(bad);
    });

    it('13.8: the imported version was never approved by anyone, so nobody rolls back to it alone', async () => {
      const res = await policy.step('carol', 1, 'rollback', 'back to the seed we started with');
      expect(res.status).toBe(403);
      expect(res.json.error.code).toBe('ROLLBACK_NEEDS_SECOND_PERSON');
      expect(res.json.error.message).toMatch(/never approved by a second person/);
      expect(await active()).not.toBe(1);
    });

    it('13.8: an approved version goes active by rollback as by activate (its approval is unspent)', async () => {
      const next = await approvedBy('dave', 'carol', SEED_POLICY, 'seed again');
      expect((await policy.step('dave', next, 'rollback', 'take the approved one')).status).toBe(200);
      expect(await active()).toBe(next);
    });
  });
});

describe("13.8 a person's token and the service account of the client it was issued to", () => {
  let idp: StartedDevIdp;
  let gw: Gateway;
  let tokens: Tokens;

  beforeAll(async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    idp = await startDevIdp({ resource: `${base}/mcp`, consoleBase: base });
    tokens = new Tokens({ issuer: idp.issuer, secrets: idp.secrets, resource: `${base}/mcp` });
    // gatehouse-dev-token is the client people's tokens are issued to here (devUserToken), listed
    // as a service account as an organisation might list a client that has both grants.
    gw = await gatewayWith(
      `auth:
  issuer: ${idp.issuer}
  audience: ${base}/mcp
${ROLES}  serviceAccounts:
    ci-bot: { groups: [policy-approver] }
    gatehouse-dev-token: { groups: [admin] }
`,
      { PORT: String(port) },
    );
  });

  afterAll(async () => {
    await gw?.close();
    await idp?.close();
  });

  const me = async (user: string) => api(gw.url, '/api/v1/me', { headers: await tokens.as(user) });

  it("13.8: a person's token issued to a listed service-account client gets none of its groups", async () => {
    const bob = await me('bob');
    expect(bob.status).toBe(200);
    expect(bob.json).toMatchObject({ kind: 'user', sub: 'bob', groups: ['support'], roles: [] });
    const versions = await api(gw.url, '/api/v1/policy/versions', { headers: await tokens.as('bob') });
    expect(versions.status).toBe(403);
    expect(versions.json.error.code).toBe('ROLE_REQUIRED');
  });

  it("13.8: the client's own client-credentials token still gets them", async () => {
    const bot = await me('ci-bot');
    expect(bot.json).toMatchObject({ kind: 'service', sub: 'ci-bot', roles: ['policy-approver'] });
    expect(bot.json.groups).toContain('policy-approver');
    const versions = await api(gw.url, '/api/v1/policy/versions', { headers: await tokens.as('ci-bot') });
    expect(versions.status).toBe(200);
  });
});
