import { rmSync } from 'node:fs';
import { Client } from 'pg';
import { devUserToken, startDevIdp, type StartedDevIdp } from '../support/dev-idp';
import { gatewayWith, rawPost, serverBin } from '../transport/helpers';
import { freePort } from '../transport/processes';
import { policyApi, policyDir, ROLES, Tokens } from '../policy-lifecycle/support';

/**
 * Issue 13.3: `tasks/*` crossed users. Every 2026-07-28 client (and every 2025 session on a
 * `sharing: shared` server) reaches one upstream connection, and the upstream's task store is
 * per connection: bob could list alice's task, read its result and cancel it. Two principals at
 * once, the real development IdP, the real `server-everything` (its `simulate-research-query`
 * tool runs as a task for about four seconds), real Redis, Postgres and policy.
 */

const RESEARCH = 'simulate-research-query';
const MODERN = '2026-07-28';

/** v1: everyone may use `everything`; erin's rule allows 3 calls a minute. */
const POLICY_V1 = `rules:
  - id: everyone-uses-everything
    subject: { any: true }
    resource: { server: everything }
    action: '*'
  - id: erin-is-slow
    subject: { user: erin }
    resource: { server: everything }
    action: '*'
    conditions:
      rate_limit_per_minute: 3
`;

/** v2: the same, and alice may no longer run the research tool. */
const POLICY_V2 = `${POLICY_V1}  - id: alice-no-research
    effect: deny
    subject: { user: alice }
    resource: { server: everything, tool: ${RESEARCH} }
    action: '*'
`;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON-RPC shapes
type Answer = { status: number; json: any };
type Caller = (method: string, params?: Record<string, unknown>) => Promise<Answer>;
/** A session's GET stream: every message it received so far. */
type Stream = { messages: Array<Record<string, unknown>>; close(): void };

describe('13.3 tasks are their creator’s', () => {
  let idp: StartedDevIdp;
  let gw: Awaited<ReturnType<typeof gatewayWith>>;
  /** A second replica on the same Redis (its own database, the same policy). */
  let gw2: Awaited<ReturnType<typeof gatewayWith>>;
  let dir: string;
  const prefix = `gh-adv-tasks-${process.pid}-${Date.now()}:`;
  const tokens = new Map<string, string>();

  const token = async (user: string): Promise<string> => {
    let t = tokens.get(user);
    if (!t) tokens.set(user, (t = await devUserToken(idp, user)));
    return t;
  };

  /** A 2026-07-28 client: no session, the version in every request's _meta. */
  const modern = async (
    user: string,
    path = '/mcp/servers/everything',
    base = (): string => gw.url,
  ): Promise<Caller> => {
    const auth = { authorization: `Bearer ${await token(user)}`, 'mcp-protocol-version': MODERN };
    let id = 0;
    return (method, params = {}) =>
      rawPost(
        `${base()}${path}`,
        JSON.stringify({
          jsonrpc: '2.0',
          id: ++id,
          method,
          params: {
            ...params,
            _meta: {
              'io.modelcontextprotocol/protocolVersion': MODERN,
              'io.modelcontextprotocol/clientInfo': { name: `${user}-modern`, version: '1.0.0' },
              'io.modelcontextprotocol/clientCapabilities': {},
            },
          },
        }),
        auth,
      );
  };

  /** A 2025-11-25 session (the first era with tasks). */
  const legacy = async (
    user: string,
    path = '/mcp/servers/everything',
  ): Promise<Caller & { listen(): Promise<Stream> }> => {
    const auth = { authorization: `Bearer ${await token(user)}` };
    const init = await rawPost(
      `${gw.url}${path}`,
      JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: '2025-11-25',
          capabilities: {},
          clientInfo: { name: `${user}-legacy`, version: '1.0.0' },
        },
      }),
      auth,
    );
    if (init.status !== 200) throw new Error(`initialize failed: ${JSON.stringify(init.json)}`);
    const sid = init.headers.get('mcp-session-id') as string;
    let id = 1;
    const call: Caller = (method, params = {}) =>
      rawPost(`${gw.url}${path}`, JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params }), {
        ...auth,
        'mcp-session-id': sid,
      });
    /** Opens the session's GET stream; resolves once the gateway answered it. */
    const listen = async (): Promise<Stream> => {
      const abort = new AbortController();
      const res = await fetch(`${gw.url}${path}`, {
        headers: { ...auth, 'mcp-session-id': sid, accept: 'text/event-stream' },
        signal: abort.signal,
      });
      if (res.status !== 200 || !res.body) throw new Error(`GET stream refused: ${res.status}`);
      const messages: Array<Record<string, unknown>> = [];
      const decoder = new TextDecoder();
      let buffer = '';
      void (async () => {
        try {
          for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
            buffer += decoder.decode(chunk, { stream: true });
            const lines = buffer.split('\n');
            buffer = lines.pop() ?? '';
            for (const line of lines) {
              if (line.startsWith('data: ')) messages.push(JSON.parse(line.slice(6)));
            }
          }
        } catch {
          // closed by the test
        }
      })();
      return { messages, close: () => abort.abort() };
    };
    return Object.assign(call, { listen });
  };

  /** Starts a research task and returns its id as the caller sees it. */
  const research = async (call: Caller, name = RESEARCH): Promise<string> => {
    const res = await call('tools/call', { name, arguments: { topic: 'gateways' }, task: { ttl: 60_000 } });
    const id = res.json?.result?.task?.taskId;
    if (typeof id !== 'string') throw new Error(`no task created: ${JSON.stringify(res.json)}`);
    return id;
  };

  /** What a caller learns about a task id: the error, without the request's own id. */
  const errorOf = (res: Answer) => ({ status: res.status, error: res.json?.error });

  const auditRows = async (sql: string, values: unknown[], atLeast: number, databaseUrl = gw.databaseUrl) => {
    const db = new Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const { rows } = await db.query(sql, values);
        if (rows.length >= atLeast || Date.now() > deadline) return rows;
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await db.end();
    }
  };

  beforeAll(async () => {
    dir = policyDir({ 'tasks.yaml': POLICY_V1 });
    const port = await freePort();
    idp = await startDevIdp({ resource: `http://127.0.0.1:${port}/mcp` });
    const yaml = (audience: string) => `auth:
  issuer: ${idp.issuer}
  audience: ${audience}
${ROLES}policy:
  dir: ${JSON.stringify(dir)}
redis:
  url: redis://127.0.0.1:6379
  keyPrefix: "${prefix}"
upstreams:
  everything:
    transport: stdio
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(serverBin('@modelcontextprotocol/server-everything'))}, stdio]
    sharing: shared
`;
    gw = await gatewayWith(yaml(idp.resource), {}, [`port: ${port}`]);
    // The same resource: one token is good on both replicas, as behind one load balancer.
    gw2 = await gatewayWith(yaml(idp.resource));
  });

  afterAll(async () => {
    await gw2?.close();
    await gw?.close();
    await idp?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe.each([
    ['2026-07-28', modern],
    ['2025-11-25', legacy],
  ])('pass-through endpoint, %s', (_era, client) => {
    it('13.3: bob cannot get, read, cancel or list alice’s task, and learns nothing an unknown id would not tell him', async () => {
      const alice = await client('alice');
      const bob = await client('bob');
      const id = await research(alice);

      const unknown = errorOf(await bob('tasks/get', { taskId: 'f'.repeat(32) }));
      expect(unknown.error).toMatchObject({ code: -32602 });
      for (const method of ['tasks/get', 'tasks/result', 'tasks/cancel']) {
        expect(errorOf(await bob(method, { taskId: id }))).toEqual(unknown);
        // Someone else's id is exactly as unknown as an id nobody has.
        expect(errorOf(await bob(method, { taskId: `${id}0` }))).toEqual(unknown);
      }
      const bobs = await bob('tasks/list');
      expect(bobs.json.result.tasks.map((t: { taskId: string }) => t.taskId)).not.toContain(id);

      // Alice's task is untouched by bob's cancel, and hers to use.
      const got = await alice('tasks/get', { taskId: id });
      expect(got.json.result).toMatchObject({ taskId: id });
      expect(got.json.result.status).not.toBe('cancelled');
      const hers = await alice('tasks/list');
      expect(hers.json.result.tasks.map((t: { taskId: string }) => t.taskId)).toContain(id);
      const result = await alice('tasks/result', { taskId: id });
      expect(JSON.stringify(result.json.result.content)).toContain('Research Report: gateways');
    });

    it('13.3: bob’s own tasks work, and alice cannot reach them either', async () => {
      const alice = await client('alice');
      const bob = await client('bob');
      const id = await research(bob);
      expect(errorOf(await alice('tasks/cancel', { taskId: id })).error).toMatchObject({ code: -32602 });
      const cancelled = await bob('tasks/cancel', { taskId: id });
      expect(cancelled.json.result).toMatchObject({ taskId: id, status: 'cancelled' });
      const bobs = await bob('tasks/list');
      expect(bobs.json.result.tasks.map((t: { taskId: string }) => t.taskId)).toEqual(
        expect.arrayContaining([id]),
      );
      const hers = await alice('tasks/list');
      expect(hers.json.result.tasks.map((t: { taskId: string }) => t.taskId)).not.toContain(id);
    });
  });

  describe.each([
    ['2026-07-28', modern],
    ['2025-11-25', legacy],
  ])('aggregated endpoint, %s', (_era, client) => {
    it('13.3: task ids are <server>__<id>, and bob cannot get, read, cancel or list alice’s task', async () => {
      const alice = await client('alice', '/mcp');
      const bob = await client('bob', '/mcp');
      const id = await research(alice, `everything__${RESEARCH}`);
      expect(id).toMatch(/^everything__/);

      const unknown = errorOf(await bob('tasks/get', { taskId: `everything__${'f'.repeat(32)}` }));
      expect(unknown.error).toMatchObject({ code: -32602 });
      for (const method of ['tasks/get', 'tasks/result', 'tasks/cancel']) {
        expect(errorOf(await bob(method, { taskId: id }))).toEqual(unknown);
      }
      // The upstream's own id is no way around the owner check.
      expect(errorOf(await bob('tasks/get', { taskId: id.slice('everything__'.length) }))).toEqual(unknown);
      const bobs = await bob('tasks/list');
      expect(bobs.json.result.tasks.map((t: { taskId: string }) => t.taskId)).not.toContain(id);

      const got = await alice('tasks/get', { taskId: id });
      expect(got.json.result).toMatchObject({ taskId: id });
      const hers = await alice('tasks/list');
      expect(hers.json.result.tasks.map((t: { taskId: string }) => t.taskId)).toContain(id);
      const result = await alice('tasks/result', { taskId: id });
      expect(JSON.stringify(result.json.result.content)).toContain('Research Report: gateways');
      expect(result.json.result._meta?.['io.modelcontextprotocol/related-task']?.taskId).toBe(id);
    });
  });

  it('13.3: a task’s status notifications reach only its owner’s streams, not every stream on a shared upstream', async () => {
    const alice = await legacy('alice');
    const aliceAggregated = await legacy('alice', '/mcp');
    const bob = await legacy('bob');
    const bobAggregated = await legacy('bob', '/mcp');
    const streams = {
      alice: await alice.listen(),
      aliceAggregated: await aliceAggregated.listen(),
      bob: await bob.listen(),
      bobAggregated: await bobAggregated.listen(),
    };
    try {
      const id = await research(alice);
      // tasks/result answers once the task is done: every status change has been sent by then.
      await alice('tasks/result', { taskId: id });
      await new Promise((r) => setTimeout(r, 300));
      const statuses = (messages: Array<Record<string, unknown>>) =>
        messages
          .filter((m) => m.method === 'notifications/tasks/status')
          .map((m) => (m.params as { taskId: string }).taskId);
      expect(statuses(streams.alice.messages)).toContain(id);
      expect(statuses(streams.aliceAggregated.messages)).toContain(`everything__${id}`);
      expect(statuses(streams.bob.messages)).toEqual([]);
      expect(statuses(streams.bobAggregated.messages)).toEqual([]);
    } finally {
      for (const stream of Object.values(streams)) stream.close();
    }
  });

  it('13.3: a task id the gateway never saw created is refused like an unknown one, on both endpoints', async () => {
    const alice = await modern('alice');
    const aggregated = await modern('alice', '/mcp');
    const id = await research(alice);
    // Recorded for the pass-through server: the aggregated endpoint only knows qualified ids.
    const unknown = errorOf(await aggregated('tasks/get', { taskId: 'everything__never-created' }));
    expect(unknown.error).toMatchObject({ code: -32602 });
    expect(errorOf(await aggregated('tasks/get', { taskId: id }))).toEqual(unknown);
    expect(errorOf(await aggregated('tasks/get', { taskId: 'no-server-part' }))).toEqual(unknown);
    const bad = await alice('tasks/get', { taskId: 42 });
    expect(bad.json.error).toMatchObject({ code: -32602, message: expect.stringContaining('taskId') });
  });

  it('13.3: task calls are decided by the policy and audited, refused ones included', async () => {
    const alice = await modern('alice');
    const bob = await modern('bob');
    const id = await research(alice);
    await alice('tasks/get', { taskId: id });
    await bob('tasks/get', { taskId: id });
    const rows = await auditRows(
      `SELECT kind, outcome, principal_subject, tool, matched_rules, error_code
         FROM audit_event WHERE method = 'tasks/get' AND arguments->>'taskId' = $1 ORDER BY occurred_at, kind`,
      [id],
      4,
    );
    const alices = rows.filter((r) => r.principal_subject === 'alice');
    expect(alices).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          kind: 'intent',
          outcome: 'allowed',
          tool: RESEARCH,
          matched_rules: ['everyone-uses-everything'],
        }),
        expect.objectContaining({ kind: 'outcome', outcome: 'ok', tool: RESEARCH }),
      ]),
    );
    const bobs = rows.filter((r) => r.principal_subject === 'bob');
    expect(bobs).toEqual(
      // Refused before the policy: nothing about alice's task (not even its tool) is in bob's record.
      expect.arrayContaining([
        expect.objectContaining({ kind: 'outcome', outcome: 'error', tool: null, error_code: -32602 }),
      ]),
    );
  });

  it('13.3: task calls count against the rate limits of the call that created the task', async () => {
    const erin = await modern('erin');
    const id = await research(erin); // 1 of erin's 3 a minute
    expect((await erin('tasks/get', { taskId: id })).json.result).toMatchObject({ taskId: id }); // 2
    expect((await erin('tasks/get', { taskId: id })).json.result).toMatchObject({ taskId: id }); // 3
    const limited = await erin('tasks/get', { taskId: id });
    expect(limited.json.error).toMatchObject({ code: -32029, data: { limit: { name: 'rule' } } });
    expect((await erin('tasks/result', { taskId: id })).json.error).toMatchObject({ code: -32029 });
  });

  it('13.3: another replica checks the owner recorded by the first (Redis), before its own upstream is asked', async () => {
    const alice = await modern('alice');
    const id = await research(alice);
    const aliceThere = await modern('alice', '/mcp/servers/everything', () => gw2.url);
    const bobThere = await modern('bob', '/mcp/servers/everything', () => gw2.url);
    const unknown = errorOf(await bobThere('tasks/get', { taskId: 'f'.repeat(32) }));
    expect(errorOf(await bobThere('tasks/get', { taskId: id }))).toEqual(unknown);
    // The second replica found alice's record and let her call through, decided as her
    // research call; its own stdio upstream process does not hold the task, and says so.
    const hers = await aliceThere('tasks/get', { taskId: id });
    expect(hers.json.error?.message).not.toEqual(unknown.error.message);
    const rows = await auditRows(
      `SELECT principal_subject, tool, matched_rules FROM audit_event
         WHERE kind = 'intent' AND method = 'tasks/get' AND arguments->>'taskId' = $1`,
      [id],
      2,
      gw2.databaseUrl,
    );
    expect(rows).toEqual(
      expect.arrayContaining([
        { principal_subject: 'alice', tool: RESEARCH, matched_rules: ['everyone-uses-everything'] },
        { principal_subject: 'bob', tool: null, matched_rules: [] },
      ]),
    );
  });

  // Last: it activates a policy version that changes what alice may do.
  it('13.3: once the policy denies the tool that created a task, its creator’s task calls are denied too', async () => {
    const alice = await modern('alice');
    const aliceLegacy = await legacy('alice');
    const id = await research(alice);
    const legacyId = await research(aliceLegacy);

    const lifecycle = policyApi(gw.url, new Tokens({ issuer: idp.issuer, secrets: idp.secrets }));
    const draft = await lifecycle.draft('carol', { 'tasks.yaml': POLICY_V2 }, 'alice stops researching');
    expect(draft.status).toBe(201);
    const n = draft.json.number as number;
    expect((await lifecycle.step('carol', n, 'propose')).status).toBe(200);
    expect((await lifecycle.step('dave', n, 'approve', 'ok')).status).toBe(200);
    expect((await lifecycle.step('carol', n, 'activate', 'now')).status).toBe(200);

    for (const [call, taskId] of [
      [alice, id],
      [aliceLegacy, legacyId],
    ] as const) {
      for (const method of ['tasks/get', 'tasks/result', 'tasks/cancel']) {
        const res = await call(method, { taskId });
        expect(res.json.error).toMatchObject({
          code: -32003,
          data: { reason: 'POLICY_DENIED', decision: { matchedRules: ['alice-no-research'] } },
        });
      }
    }
    const rows = await auditRows(
      `SELECT outcome FROM audit_event WHERE kind = 'intent' AND method LIKE 'tasks/%' AND arguments->>'taskId' = $1`,
      [id],
      3,
    );
    expect(rows.map((r) => r.outcome)).toEqual(['denied', 'denied', 'denied']);
  });
});
