import { policyWorld, SEED_POLICY, sessionFor, type PolicyWorld } from '../support/policy-world';

/**
 * The question the product started from: "what did this user touch today?". alice works through
 * the gateway (the seed policy, server-postgres on a real database, a second server), then frank,
 * the auditor, asks the audit API — and gets the servers, tools and tables, with refusals counted.
 */
describe('what did alice touch today', () => {
  let world: PolicyWorld;

  beforeAll(async () => {
    world = await policyWorld({
      'seed.yaml': `${SEED_POLICY}
- id: data-platform-tickets
  subject: { group: data-platform }
  resource: { server: zendesk, tool: echo }
  action: '*'
`,
    });
    const alice = await sessionFor(world.gw, await world.token('alice'));
    const sql = (text: string) =>
      alice('tools/call', { name: 'postgres-prod__query', arguments: { sql: text } });
    expect((await sql('SELECT * FROM analytics.daily_revenue')).json.result).toBeDefined();
    expect(
      (await sql('SELECT name FROM customers c JOIN analytics.daily_revenue d ON true')).json.result,
    ).toBeDefined();
    expect((await sql('SELECT * FROM secret.api_keys')).json.error.code).toBe(-32003);
    expect(
      (await alice('tools/call', { name: 'zendesk__echo', arguments: { message: 'ticket' } })).json.result,
    ).toBeDefined();
  });
  afterAll(async () => world.close());

  it('answers with the servers, tools and tables, counting what was refused', async () => {
    const res = await fetch(`${world.gw.url}/api/v1/audit/users/alice/summary?period=today`, {
      headers: { authorization: `Bearer ${await world.token('frank')}` },
    });
    expect(res.status).toBe(200);
    const summary = (await res.json()) as {
      servers: Array<{ server: string; calls: number; refused: number }>;
      tools: Array<{ server: string; tool: string; calls: number }>;
      resources: Array<{ server: string; resource: string; calls: number }>;
    };
    expect(summary.servers).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ server: 'postgres-prod', calls: 3, refused: 1 }),
        expect.objectContaining({ server: 'zendesk', calls: 1, refused: 0 }),
      ]),
    );
    expect(summary.tools.map((t) => `${t.server}/${t.tool}`).sort()).toEqual([
      'postgres-prod/query',
      'zendesk/echo',
    ]);
    expect(summary.resources.map((r) => r.resource).sort()).toEqual([
      'analytics.daily_revenue',
      'public.customers',
      'secret.api_keys',
    ]);
  });

  it('refuses the question to alice herself (auditor or admin only)', async () => {
    const res = await fetch(`${world.gw.url}/api/v1/audit/users/alice/summary?period=today`, {
      headers: { authorization: `Bearer ${await world.token('alice')}` },
    });
    expect(res.status).toBe(403);
  });
});
