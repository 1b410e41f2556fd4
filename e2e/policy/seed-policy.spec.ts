import { policyWorld, SEED_POLICY, sessionFor, type PolicyWorld } from '../support/policy-world';

describe("the seed's policy, as written, against real upstreams", () => {
  let world: PolicyWorld;
  let alice: Awaited<ReturnType<typeof sessionFor>>;
  let bob: Awaited<ReturnType<typeof sessionFor>>;

  const sql = (call: typeof alice, text: string) =>
    call('tools/call', { name: 'postgres-prod__query', arguments: { sql: text } });

  beforeAll(async () => {
    world = await policyWorld({ 'seed.yaml': SEED_POLICY });
    alice = await sessionFor(world.gw, await world.token('alice'));
    bob = await sessionFor(world.gw, await world.token('bob'));
  });
  afterAll(async () => world.close());

  it('lets data-platform read public and analytics through postgres-prod', async () => {
    const res = await sql(
      alice,
      'SELECT d.amount, c.name FROM analytics.daily_revenue d, customers c WHERE c.id = 1',
    );
    expect(res.json.error).toBeUndefined();
    expect(JSON.stringify(res.json.result.content)).toContain('1200.50');
  });

  it.each([
    ['a schema outside the rule', 'SELECT * FROM secret.api_keys'],
    ['a quoted schema outside the rule', 'SELECT * FROM "secret"."api_keys"'],
    [
      'secret data joined to allowed data',
      'SELECT c.name, k.key FROM customers c JOIN secret.api_keys k ON k.id = c.id',
    ],
    ['a write', "UPDATE customers SET name = 'x'"],
    ['a read hiding a write', 'SELECT 1; DROP TABLE customers'],
    ['a CTE that deletes', 'WITH gone AS (DELETE FROM customers RETURNING *) SELECT * FROM gone'],
    ['search_path games', 'SET search_path TO secret; SELECT * FROM api_keys'],
    ['SQL that does not parse', 'SELEC * FROM customers'],
  ])('denies data-platform %s with -32003 and the reason, before the upstream', async (_label, text) => {
    const res = await sql(alice, text);
    expect(res.status).toBe(200);
    expect(res.json.error).toMatchObject({ code: -32003, data: { reason: 'POLICY_DENIED' } });
    expect(res.json.error.message.length).toBeGreaterThan(10);
    expect(JSON.stringify(res.json)).not.toContain('sk-live-do-not-leak');
  });

  it('names the touched relations and the policy version in the denial', async () => {
    const res = await sql(alice, 'SELECT * FROM secret.api_keys');
    expect(res.json.error.data.decision).toMatchObject({
      outcome: 'deny',
      action: 'read',
      touched: ['secret.api_keys'],
      policyVersion: 1,
    });
  });

  it('lets support use zendesk, and nothing else', async () => {
    const ok = await bob('tools/call', { name: 'zendesk__echo', arguments: { message: 'ticket 42' } });
    expect(JSON.stringify(ok.json.result)).toContain('ticket 42');
    const no = await sql(bob, 'SELECT 1');
    expect(no.json.error).toMatchObject({ code: -32003 });
    const notAlice = await alice('tools/call', { name: 'zendesk__echo', arguments: { message: 'x' } });
    expect(notAlice.json.error).toMatchObject({ code: -32003 });
  });

  it('R12: lists show each person only what they may call', async () => {
    // The aggregated list pages per upstream; a person's pages may be empty after filtering.
    const names = async (call: typeof alice) => {
      const all: string[] = [];
      let cursor: string | undefined;
      do {
        const page = (await call('tools/list', cursor ? { cursor } : {})).json.result;
        all.push(...(page.tools as Array<{ name: string }>).map((t) => t.name));
        cursor = page.nextCursor;
      } while (cursor);
      return all;
    };
    const forAlice = await names(alice);
    const forBob = await names(bob);
    expect(forAlice).toContain('postgres-prod__query');
    expect(forAlice.some((n) => n.startsWith('zendesk__'))).toBe(false);
    expect(forBob).toContain('zendesk__echo');
    expect(forBob.some((n) => n.startsWith('postgres-prod__'))).toBe(false);
  });
});
