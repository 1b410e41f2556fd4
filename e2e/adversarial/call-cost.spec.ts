import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { rawPost } from '../transport/helpers';
import { waitFor } from '../support/wait-for';
import { policyWorld, sessionFor, SEED_POLICY, type PolicyWorld } from '../support/policy-world';

/**
 * Issue 13 point 5, what a call may cost the gateway: a signed-in user must not be able to buy
 * event-loop time or metric series for free. The seed policy lets alice (data-platform) read
 * `postgres-prod`'s public and analytics schemas; bob (support) has no rule on it at all.
 */
const PER_USER = 12;
const LIMITS = `rateLimit:
  perUserPerMinute: ${PER_USER}
  perToolPerMinute: 100000
`;

/** A 3.8 MB statement: long enough that parsing it holds the event loop for a noticeable time. */
const HUGE_SQL = `SELECT ${'1+'.repeat(1_900_000)}1`;

type Caller = Awaited<ReturnType<typeof sessionFor>>;

describe('13.5 call cost: cheap checks before expensive ones, denied calls rate-limited', () => {
  let world: PolicyWorld;
  let alice: Caller;
  let bob: Caller;

  beforeAll(async () => {
    world = await policyWorld({ 'seed.yaml': SEED_POLICY }, LIMITS);
    alice = await sessionFor(world.gw, await world.token('alice'));
    bob = await sessionFor(world.gw, await world.token('bob'));
  }, 60_000);
  afterAll(async () => world?.close());

  const query = (who: Caller, sql: string) =>
    who('tools/call', { name: 'postgres-prod__query', arguments: { sql } });
  const customers = (who: Caller) => query(who, 'SELECT name FROM public.customers ORDER BY id');

  it('13.5 R42: bob’s multi-MB SQL that no rule could allow is denied without being parsed; alice is served meanwhile', async () => {
    const [bobs, alices] = await Promise.all([
      Promise.all([1, 2, 3].map(() => query(bob, HUGE_SQL))),
      Promise.all([1, 2, 3].map(() => customers(alice))),
    ]);
    for (const res of bobs) {
      expect(res.json.error).toMatchObject({ code: -32003, data: { reason: 'POLICY_DENIED' } });
      // The deny was decided on principal × server × tool alone: the SQL was never inspected.
      expect(res.json.error.message).toMatch(/no rule could allow .*arguments were not inspected/);
      expect(res.json.error.message).not.toMatch(/SQL|parse/);
    }
    for (const res of alices) {
      expect(res.json.error).toBeUndefined();
      expect(JSON.stringify(res.json.result)).toMatch(/Acme.*Globex/);
    }
  }, 60_000);

  it('13.5 R42: SQL over policy.maxInspectedSqlBytes is denied with the bound as its reason, even where a rule could allow it', async () => {
    // A read of public.customers alice's rule allows, padded past the default 256 KiB bound.
    const long = `SELECT name FROM public.customers WHERE id IN (${'1,'.repeat(200_000)}1)`;
    const res = await query(alice, long);
    expect(res.json.error).toMatchObject({ code: -32003, data: { reason: 'POLICY_DENIED' } });
    expect(res.json.error.message).toMatch(
      /SQL of 400,\d{3} bytes.*at most 262,144 bytes.*policy\.maxInspectedSqlBytes/,
    );
    // A query under the bound is still inspected and allowed.
    const ok = await customers(alice);
    expect(JSON.stringify(ok.json.result)).toMatch(/Acme.*Globex/);
  }, 60_000);

  it('13.5 R27: denied calls count against bob’s limit: past it he is rate_limited (-32029, 429, Retry-After), audited; alice is still served', async () => {
    // bob has used 3 of his PER_USER calls above; his next denied calls use up the rest.
    let limitedAt = 0;
    for (let i = 1; i <= PER_USER + 3 && limitedAt === 0; i++) {
      const res = await query(bob, 'SELECT 1');
      if (res.json.error?.code === -32029) limitedAt = i;
      else expect(res.json.error).toMatchObject({ code: -32003 });
    }
    // The budget may run out one call late (a denied call is counted just after its answer).
    expect(limitedAt).toBeGreaterThanOrEqual(PER_USER - 3);
    expect(limitedAt).toBeLessThanOrEqual(PER_USER - 3 + 2);
    // Refused now before the policy looks at anything, multi-MB SQL included.
    for (const sql of ['SELECT 1', HUGE_SQL]) {
      const res = await query(bob, sql);
      expect(res.status).toBe(429);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(res.json.error).toMatchObject({ code: -32029 });
    }
    const served = await customers(alice);
    expect(JSON.stringify(served.json.result)).toMatch(/Acme.*Globex/);

    const db = new Client({ connectionString: world.gw.databaseUrl });
    await db.connect();
    try {
      await waitFor('bob’s rate-limited calls in the audit trail', async () => {
        const { rows } = await db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM audit_event
            WHERE kind = 'outcome' AND principal_subject = 'bob' AND outcome = 'rate_limited'`,
        );
        return (rows[0]?.n ?? 0) >= 2;
      });
    } finally {
      await db.end();
    }
  }, 60_000);
});

describe('13.5 metric labels a client can choose are bounded', () => {
  let world: PolicyWorld;

  beforeAll(async () => {
    world = await policyWorld({ 'seed.yaml': SEED_POLICY });
  }, 60_000);
  afterAll(async () => world?.close());

  /** The set of series (metric name and labels, without values) /metrics shows now. */
  async function series(): Promise<Set<string>> {
    const text = await (await fetch(`${world.gw.url}/metrics`)).text();
    return new Set(
      text
        .split('\n')
        .filter((line) => line.startsWith('gatehouse_') && !line.startsWith('gatehouse_process_'))
        .map((line) => line.slice(0, line.lastIndexOf(' '))),
    );
  }

  it('13.5 R35: 1,000 2026-07-28 calls to made-up server names add no metric series', async () => {
    const token = await world.token('carol');
    const meta = {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientInfo': { name: 'call-cost', version: '1' },
      'io.modelcontextprotocol/clientCapabilities': {},
    };
    const headers = { authorization: `Bearer ${token}`, 'mcp-protocol-version': '2026-07-28' };
    const madeUp = (i: number) => {
      const server = `x${randomBytes(6).toString('hex')}`;
      const params = { name: `${server}__t`, arguments: {}, _meta: meta };
      const body = JSON.stringify({ jsonrpc: '2.0', id: i, method: 'tools/call', params });
      // Half on the aggregated endpoint, half on a made-up pass-through path.
      return i % 2 === 0
        ? rawPost(`${world.gw.url}/mcp`, body, headers)
        : rawPost(
            `${world.gw.url}/mcp/servers/${server}`,
            JSON.stringify({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { ...params, name: 't' } }),
            headers,
          );
    };
    // The first few may add the one series unknown servers share.
    for (let i = 0; i < 4; i++) await madeUp(i);
    const before = await series();
    for (let i = 0; i < 1000; i += 50) {
      const answers = await Promise.all(Array.from({ length: 50 }, (_, j) => madeUp(i + j)));
      for (const a of answers) expect(a.json?.error ?? a.status).toBeDefined();
    }
    const after = await series();
    // Configured upstreams' series may appear meanwhile (their connections come up lazily).
    const added = [...after].filter((s) => !before.has(s) && !/server="(postgres-prod|zendesk)"/.test(s));
    expect(added).toEqual([]);
    expect([...after].filter((s) => /server="x[0-9a-f]{12}"/.test(s))).toEqual([]);
  }, 120_000);
});
