import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { RequestMethod } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { POLICY_SOURCE, type CompiledPolicy, type PolicySource } from '@gatehouse/policy';
import { OpenApiController, type Principal } from '@gatehouse/auth';
import { PolicyController } from '../../libs/policy/src/lifecycle/policy.controller';
import { authorizeAs, startDevIdp, type StartedDevIdp } from '../support/dev-idp';
import { gatewayWith } from '../transport/helpers';
import { freePort } from '../transport/processes';
import {
  api,
  policyApi,
  policyDir,
  ROLES,
  SEED_POLICY,
  SEED_POLICY_READ_ONLY_SUPPORT,
  Tokens,
} from './support';

/**
 * The policy lifecycle against a real gateway (Fastify, scratch Postgres), real tokens from the
 * development IdP (oidc-provider from dist/: `npm run build` first) and the real policy parser.
 */

const SUPPORT_RULE = `- id: support-reads-tickets
  subject: { group: support }
  resource: { server: zendesk }
  action: read
`;

const alice: Principal = {
  kind: 'user',
  issuer: 'test',
  subject: 'alice',
  groups: ['data-platform'],
  roles: [],
  scopes: [],
  expiresAt: Number.MAX_SAFE_INTEGER,
};

describe('policy lifecycle API', () => {
  let idp: StartedDevIdp;
  let gw: Awaited<ReturnType<typeof gatewayWith>>;
  let tokens: Tokens;
  let policy: ReturnType<typeof policyApi>;
  let dir: string;
  let source: PolicySource;
  const swaps: Array<number | undefined> = [];

  /** A new approved version: carol drafts and proposes, dave approves. */
  async function approved(files: Record<string, string>, message: string): Promise<number> {
    const draft = await policy.draft('carol', files, message);
    expect(draft.status).toBe(201);
    const n = draft.json.number as number;
    expect((await policy.step('carol', n, 'propose')).status).toBe(200);
    expect((await policy.step('dave', n, 'approve', 'looks right')).status).toBe(200);
    return n;
  }

  const activeNumber = async () => (await policy.get('frank', '/active')).json.version as number | null;

  beforeAll(async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    idp = await startDevIdp({ resource: `${base}/mcp`, consoleBase: base });
    dir = policyDir({
      'seed.yaml': SEED_POLICY,
      'teams/support.yaml': '# nothing yet\n',
      'seed.test.yaml': 'this is a test case file: never imported as policy: [',
      'README.md': 'not policy',
    });
    gw = await gatewayWith(
      `auth:\n  issuer: ${idp.issuer}\n  audience: ${base}/mcp\n${ROLES}  serviceAccounts:\n    ci-bot: { groups: [policy-approver] }\npolicy:\n  dir: ${JSON.stringify(dir)}\n`,
      { PORT: String(port) },
    );
    tokens = new Tokens({ issuer: idp.issuer, secrets: idp.secrets, resource: `${base}/mcp` });
    policy = policyApi(gw.url, tokens);
    source = gw.app.get<PolicySource>(POLICY_SOURCE);
    source.onChange((p: CompiledPolicy | undefined) => swaps.push(p?.version));
  });
  afterAll(async () => {
    await gw?.close();
    await idp?.close();
  });

  it('imports policy.dir as version 1, active, on first start: *.yaml recursively, not *.test.yaml, recorded as import by system naming the dir', async () => {
    const v1 = await policy.get('frank', '/versions/1');
    expect(v1.status).toBe(200);
    expect(v1.json).toMatchObject({
      number: 1,
      status: 'active',
      author: { subject: 'system' },
      activated: { by: { subject: 'system' } },
      paths: ['seed.yaml', 'teams/support.yaml'],
    });
    expect(v1.json.files).toEqual([
      { path: 'seed.yaml', text: SEED_POLICY },
      { path: 'teams/support.yaml', text: '# nothing yet\n' },
    ]);
    expect(v1.json.history).toHaveLength(1);
    expect(v1.json.history[0]).toMatchObject({ action: 'import', actor: { subject: 'system' } });
    expect(v1.json.history[0].comment).toContain(dir);
    expect(gw.logs.join('')).toContain(`imported 2 file(s) from ${dir} as version 1`);
  });

  it('decides with the imported version from the start (the seed policy: alice reads postgres-prod public)', () => {
    const compiled = source.current();
    expect(compiled?.version).toBe(1);
    const decision = compiled?.decide({
      principal: alice,
      server: 'postgres-prod',
      serverTags: {},
      tool: 'query',
      args: {},
      action: 'read',
      touched: ['public.orders'],
      relations: { known: true, relations: [{ schema: 'public', name: 'orders' }] },
      now: new Date(),
    });
    expect(decision).toMatchObject({ allow: true, policyVersion: 1, rateLimitPerMinute: 60 });
  });

  it('runs the lifecycle: carol drafts and proposes, dave approves, carol activates; version 1 is superseded and every replica swaps', async () => {
    const draft = await policy.draft(
      'carol',
      { 'seed.yaml': SEED_POLICY_READ_ONLY_SUPPORT },
      'support reads only',
    );
    expect(draft.status).toBe(201);
    const n = draft.json.number as number;
    expect(draft.json).toMatchObject({
      status: 'draft',
      message: 'support reads only',
      author: { subject: 'carol', name: 'Carol Chen' },
    });

    const proposed = await policy.step('carol', n, 'propose', 'please review');
    expect(proposed.json).toMatchObject({ status: 'proposed', proposed: { by: { subject: 'carol' } } });
    const ok = await policy.step('dave', n, 'approve', 'four eyes ok');
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({
      status: 'approved',
      approved: { by: { subject: 'dave', name: 'Dave Diaz' } },
    });
    expect(await activeNumber()).toBe(1);

    const activated = await policy.step('carol', n, 'activate', 'rolling out');
    expect(activated.status).toBe(200);
    expect(activated.json).toMatchObject({ status: 'active', activated: { by: { subject: 'carol' } } });
    expect(await activeNumber()).toBe(n);
    expect(source.current()?.version).toBe(n);
    expect(swaps.at(-1)).toBe(n);

    const v1 = await policy.get('frank', '/versions/1');
    expect(v1.json).toMatchObject({ status: 'superseded', superseded: { by: n } });
    expect(v1.json.history.at(-1)).toMatchObject({
      action: 'supersede',
      actor: { subject: 'carol' },
      comment: `replaced by version ${n}`,
    });

    // Every step with who, when and why, in order.
    const history = (await policy.get('frank', `/versions/${n}`)).json.history as Array<{
      action: string;
      actor: { subject: string };
      at: string;
      comment: string | null;
    }>;
    expect(history.map((e) => [e.action, e.actor.subject, e.comment])).toEqual([
      ['create', 'carol', 'support reads only'],
      ['propose', 'carol', 'please review'],
      ['approve', 'dave', 'four eyes ok'],
      ['activate', 'carol', 'rolling out'],
    ]);
    const times = history.map((e) => Date.parse(e.at));
    expect(times.every((t, i) => Number.isFinite(t) && (i === 0 || t >= (times[i - 1] as number)))).toBe(
      true,
    );

    const list = await policy.get('dave', '/versions');
    expect(list.status).toBe(200);
    expect(list.json[0]).toMatchObject({ number: n, status: 'active' });
    expect(list.json[0].files).toBeUndefined();
  });

  it('four eyes: the author and the proposer cannot approve (403), an auditor cannot either; another approver can', async () => {
    // dave writes, carol proposes: neither may approve.
    const draft = await policy.draft('dave', { 'seed.yaml': SEED_POLICY }, 'dave wrote this');
    const n = draft.json.number as number;
    expect((await policy.step('carol', n, 'propose')).status).toBe(200);

    const byAuthor = await policy.step('dave', n, 'approve');
    expect(byAuthor.status).toBe(403);
    expect(byAuthor.json.error.code).toBe('APPROVAL_BY_AUTHOR');
    expect(byAuthor.json.error.message).toMatch(/four eyes: dave wrote version \d+ and cannot approve it/);

    const byProposer = await policy.step('carol', n, 'approve');
    expect(byProposer.status).toBe(403);
    expect(byProposer.json.error.code).toBe('APPROVAL_BY_PROPOSER');

    const byAuditor = await policy.step('frank', n, 'approve');
    expect(byAuditor.status).toBe(403);
    expect(byAuditor.json.error.code).toBe('ROLE_REQUIRED');

    expect((await policy.get('frank', `/versions/${n}`)).json.status).toBe('proposed');
    // The CI service account acts with the policy-approver role its groups map to.
    const byCi = await policy.step('ci-bot', n, 'approve', 'CI approval');
    expect(byCi.status).toBe(200);
    expect(byCi.json).toMatchObject({ status: 'approved', approved: { by: { subject: 'ci-bot' } } });
  });

  it('lets the CI service account create and propose a version (what gatehouse policy push does), and a person approve it', async () => {
    const draft = await policy.draft('ci-bot', { 'seed.yaml': SEED_POLICY }, 'from CI: main@abc123');
    expect(draft.status).toBe(201);
    expect(draft.json.author.subject).toBe('ci-bot');
    const n = draft.json.number as number;
    expect((await policy.step('ci-bot', n, 'propose', 'pipeline 42')).json.status).toBe('proposed');
    expect((await policy.step('ci-bot', n, 'approve')).json.error.code).toBe('APPROVAL_BY_AUTHOR');
    expect((await policy.step('dave', n, 'approve')).json.status).toBe('approved');
  });

  it("dave approves carol's draft", async () => {
    const draft = await policy.draft('carol', { 'seed.yaml': SEED_POLICY }, 'carol wrote this');
    const n = draft.json.number as number;
    await policy.step('carol', n, 'propose');
    const res = await policy.step('dave', n, 'approve');
    expect(res.status).toBe(200);
    expect(res.json.status).toBe('approved');
  });

  it('refuses steps that do not fit the status (409) and rejects with a reason', async () => {
    const draft = await policy.draft('carol', { 'seed.yaml': SEED_POLICY }, 'to be rejected');
    const n = draft.json.number as number;
    const early = await policy.step('dave', n, 'approve');
    expect(early.status).toBe(409);
    expect(early.json.error).toMatchObject({ code: 'INVALID_TRANSITION' });
    expect(early.json.error.message).toContain('it is draft');
    expect((await policy.step('carol', n, 'activate')).json.error.code).toBe('INVALID_TRANSITION');

    const noReason = await policy.step('dave', n, 'reject');
    expect(noReason.status).toBe(400);
    expect(noReason.json.error.code).toBe('INVALID_REQUEST');
    const rejected = await policy.step('dave', n, 'reject', 'not needed');
    expect(rejected.json).toMatchObject({ status: 'rejected', rejected: { by: { subject: 'dave' } } });
    expect(rejected.json.history.at(-1)).toMatchObject({ action: 'reject', comment: 'not needed' });
    expect((await policy.step('carol', n, 'propose')).status).toBe(409);
  });

  it('rolls back to an earlier version, recorded as rollback with its comment, and the replica swaps back', async () => {
    // The version to go back to: written by ci-bot, approved by dave, so carol is a second person
    // to both (four eyes on rollback, see below).
    const base = (await policy.draft('ci-bot', { 'seed.yaml': SEED_POLICY }, 'the seed, approved')).json
      .number as number;
    expect((await policy.step('ci-bot', base, 'propose')).status).toBe(200);
    expect((await policy.step('dave', base, 'approve')).status).toBe(200);
    expect((await policy.step('dave', base, 'activate')).status).toBe(200);
    const current = (await activeNumber()) as number;
    expect(current).toBe(base);
    const next = await approved(
      { 'seed.yaml': SEED_POLICY, 'support.yaml': SUPPORT_RULE },
      'add support rule',
    );
    expect((await policy.step('dave', next, 'activate')).status).toBe(200);
    expect(source.current()?.version).toBe(next);

    expect((await policy.step('carol', current, 'rollback')).status).toBe(400);
    const back = await policy.step('carol', current, 'rollback', 'the support rule broke tickets');
    expect(back.status).toBe(200);
    expect(back.json.status).toBe('active');
    expect(back.json.history.at(-1)).toMatchObject({
      action: 'rollback',
      actor: { subject: 'carol' },
      comment: 'the support rule broke tickets',
    });
    expect((await policy.get('frank', `/versions/${next}`)).json).toMatchObject({
      status: 'superseded',
      superseded: { by: current },
    });
    expect(await activeNumber()).toBe(current);
    expect(source.current()?.version).toBe(current);

    // A draft or a rejected version is no rollback target.
    const draft = (await policy.draft('carol', { 'seed.yaml': SEED_POLICY }, 'draft')).json.number as number;
    const refused = await policy.step('carol', draft, 'rollback', 'try');
    expect(refused.status).toBe(409);
  });

  it('diffs any two versions: one unified diff per changed, added or removed file', async () => {
    const a = (await policy.draft('carol', { 'seed.yaml': SEED_POLICY, 'old.yaml': SUPPORT_RULE }, 'a')).json
      .number as number;
    const b = (
      await policy.draft(
        'carol',
        { 'seed.yaml': SEED_POLICY_READ_ONLY_SUPPORT, 'new.yaml': SUPPORT_RULE },
        'b',
      )
    ).json.number as number;
    const diff = await policy.get('frank', `/diff?from=${a}&to=${b}`);
    expect(diff.status).toBe(200);
    expect(diff.json.from).toBe(a);
    expect(diff.json.to).toBe(b);
    expect(diff.json.files.map((f: { path: string; change: string }) => [f.path, f.change])).toEqual([
      ['new.yaml', 'added'],
      ['old.yaml', 'removed'],
      ['seed.yaml', 'modified'],
    ]);
    const seed = diff.json.files[2].patch as string;
    expect(seed).toContain('--- a/seed.yaml');
    expect(seed).toContain('+++ b/seed.yaml');
    expect(seed).toContain("-  action: ['*']");
    expect(seed).toContain('+  action: read');
    expect(diff.json.files[0].patch).toContain('+  action: read');

    expect((await policy.get('frank', `/diff?from=${a}&to=${a}`)).json.files).toEqual([]);
    expect((await policy.get('frank', `/diff?from=${a}&to=99999`)).json.error.code).toBe('VERSION_NOT_FOUND');
    const bad = await policy.get('frank', `/diff?from=${a}`);
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toContain('to must be a policy version number');
  });

  it('refuses a draft with errors with 422 and every file:line:column, and stores nothing', async () => {
    const before = (await policy.get('frank', '/versions')).json.length as number;
    const res = await policy.draft(
      'carol',
      {
        'good.yaml': SEED_POLICY,
        'bad.yaml': '- subject: { group: support }\n  resource: { server: zendesk }\n  acton: read\n',
      },
      'broken',
    );
    expect(res.status).toBe(422);
    expect(res.json.error.code).toBe('POLICY_INVALID');
    expect(res.json.error.problems.length).toBeGreaterThan(0);
    expect(res.json.error.problems[0]).toMatchObject({ file: 'bad.yaml', line: 3, column: 3 });
    expect(res.json.error.message).toContain('bad.yaml:3:3');
    expect((await policy.get('frank', '/versions')).json.length).toBe(before);
  });

  it('refuses malformed requests with 400 naming the field', async () => {
    const cases: Array<[unknown, string]> = [
      [{ message: 'x', files: [] }, 'files'],
      [{ files: [{ path: 'a.yaml', text: '' }] }, 'message'],
      [{ message: 'x', files: [{ path: '../etc/a.yaml', text: '' }] }, 'files.0.path'],
      [{ message: 'x', files: [{ path: 'notes.txt', text: '' }] }, 'files.0.path'],
      [
        {
          message: 'x',
          files: [
            { path: 'a.yaml', text: '' },
            { path: 'a.yaml', text: '' },
          ],
        },
        'each path appears once',
      ],
    ];
    for (const [body, field] of cases) {
      const res = await policy.post('carol', '/versions', body);
      expect([res.status, res.json.error.code]).toEqual([400, 'INVALID_REQUEST']);
      expect(res.json.error.message).toContain(field);
    }
    const badNumber = await policy.get('frank', '/versions/abc');
    expect([badNumber.status, badNumber.json.error.code]).toEqual([400, 'INVALID_REQUEST']);
    const missing = await policy.get('frank', '/versions/424242');
    expect([missing.status, missing.json.error.code]).toEqual([404, 'VERSION_NOT_FOUND']);
  });

  it('guards by role: no token 401, bob (no role) 403, frank (auditor) reads but cannot write', async () => {
    expect((await api(gw.url, '/api/v1/policy/versions')).status).toBe(401);
    const bob = await policy.get('bob', '/versions');
    expect([bob.status, bob.json.error.code]).toEqual([403, 'ROLE_REQUIRED']);
    expect((await policy.get('frank', '/versions')).status).toBe(200);
    const write = await policy.draft('frank', { 'a.yaml': SEED_POLICY });
    expect([write.status, write.json.error.code]).toEqual([403, 'ROLE_REQUIRED']);
    const activate = await policy.step('frank', 1, 'activate');
    expect([activate.status, activate.json.error.code]).toEqual([403, 'ROLE_REQUIRED']);
  });

  it('keeps exactly one active version when two activations race', async () => {
    const [x, y] = [
      await approved({ 'seed.yaml': SEED_POLICY }, 'race x'),
      await approved({ 'seed.yaml': SEED_POLICY_READ_ONLY_SUPPORT }, 'race y'),
    ];
    const results = await Promise.all([
      policy.step('carol', x, 'activate'),
      policy.step('dave', y, 'activate'),
    ]);
    expect(results.map((r) => r.status)).toEqual([200, 200]);
    const rows = await gw.app
      .get(DataSource)
      .query<Array<{ number: number }>>(`SELECT number FROM policy_version WHERE status = 'active'`);
    expect(rows).toHaveLength(1);
    const winner = rows[0]?.number as number;
    const loser = winner === x ? y : x;
    // The one that ran second superseded the first.
    expect((await policy.get('frank', `/versions/${loser}`)).json).toMatchObject({
      status: 'superseded',
      superseded: { by: winner },
    });
    expect(source.current()?.version).toBe(winner);
  });

  it('needs the CSRF token for a cookie-session write (from the guard), not for a bearer token', async () => {
    const jar = new Map<string, string>();
    const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const take = (res: Response) => {
      for (const line of res.headers.getSetCookie()) {
        const [pair = ''] = line.split(';');
        const at = pair.indexOf('=');
        jar.set(pair.slice(0, at), pair.slice(at + 1));
      }
    };
    const login = await fetch(`${gw.url}/auth/login`, { redirect: 'manual' });
    take(login);
    const callback = await authorizeAs(login.headers.get('location') ?? '', 'carol');
    const back = await fetch(new URL(`${callback.pathname}${callback.search}`, gw.url), {
      redirect: 'manual',
      headers: { cookie: cookie() },
    });
    expect(back.status).toBe(302);
    take(back);
    const me = await api(gw.url, '/api/v1/me', { headers: { cookie: cookie() } });
    expect(me.json.authenticatedBy).toBe('session');

    const body = { message: 'from the console', files: [{ path: 'seed.yaml', text: SEED_POLICY }] };
    const without = await api(gw.url, '/api/v1/policy/versions', {
      method: 'POST',
      headers: { cookie: cookie() },
      body,
    });
    expect([without.status, without.json.error.code]).toEqual([403, 'CSRF_TOKEN_MISSING']);
    const withToken = await api(gw.url, '/api/v1/policy/versions', {
      method: 'POST',
      headers: { cookie: cookie(), 'x-csrf-token': me.json.csrfToken as string },
      body,
    });
    expect(withToken.status).toBe(201);
    expect(withToken.json.author.subject).toBe('carol');
    // Reads through the session need no token.
    expect((await api(gw.url, '/api/v1/policy/versions', { headers: { cookie: cookie() } })).status).toBe(
      200,
    );
  });

  it('documents every route of the controller in GET /api/v1/openapi.json, and no other policy route', async () => {
    const res = await api(gw.url, '/api/v1/openapi.json');
    expect(res.status).toBe(200);
    expect(res.json.openapi).toBe('3.1.0');
    const documented = new Set<string>();
    // The console and audit parts are checked against the whole gateway in e2e/audit-admin.
    for (const [path, item] of Object.entries(res.json.paths as Record<string, Record<string, unknown>>)) {
      if (!path.startsWith('/api/v1/policy/') && path !== '/api/v1/openapi.json') continue;
      for (const method of Object.keys(item)) documented.add(`${method.toUpperCase()} ${path}`);
    }
    const routes = new Set<string>();
    for (const controller of [PolicyController, OpenApiController]) {
      const base = Reflect.getMetadata(PATH_METADATA, controller) as string;
      const proto = controller.prototype as unknown as Record<string, unknown>;
      for (const name of Object.getOwnPropertyNames(proto)) {
        const handler = proto[name];
        if (name === 'constructor' || typeof handler !== 'function') continue;
        const path = Reflect.getMetadata(PATH_METADATA, handler) as string | undefined;
        if (path === undefined) continue;
        const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod];
        routes.add(`${method} /${base}/${path}`.replace(/:(\w+)/g, '{$1}'));
      }
    }
    expect(routes.size).toBe(11);
    expect([...documented].sort()).toEqual([...routes].sort());
  });
});
