import { policyWorld, sessionFor, type PolicyWorld } from '../support/policy-world';

/**
 * Staged enforcement, the seed's migration path: non-prod enforced, prod reads enforced, prod
 * writes in shadow. A shadow-deny is logged and the call proceeds to the upstream.
 */
const POLICY = `rules:
  - id: data-platform-reads-prod
    subject: { group: data-platform }
    resource: { server: postgres-prod }
    action: read
    conditions:
      schemas: [public, analytics]
enforcement:
  - tags: { env: prod }
    action: write
    mode: shadow
  - tags: { env: prod }
    action: read
    mode: enforce
`;

describe('staged enforcement', () => {
  let world: PolicyWorld;
  let alice: Awaited<ReturnType<typeof sessionFor>>;

  beforeAll(async () => {
    world = await policyWorld({ 'staged.yaml': POLICY });
    alice = await sessionFor(world.gw, await world.token('alice'));
  });
  afterAll(async () => world.close());

  const sql = (text: string) =>
    alice('tools/call', { name: 'postgres-prod__query', arguments: { sql: text } });

  it('enforces prod reads: a read of a forbidden schema is denied', async () => {
    const res = await sql('SELECT * FROM secret.api_keys');
    expect(res.json.error).toMatchObject({ code: -32003, data: { reason: 'POLICY_DENIED' } });
  });

  it('shadows prod writes: the would-deny is logged as shadow-deny and the call reaches the upstream', async () => {
    const res = await sql("UPDATE customers SET name = 'shadowed' WHERE id = 1");
    // server-postgres runs every query in a read-only transaction: its own refusal proves the call got there.
    expect(res.json.error?.code).not.toBe(-32003);
    expect(JSON.stringify(res.json)).toMatch(/read-only transaction/);
    const line = world.gw.logs.find((l) => l.includes('shadow-deny'));
    expect(line).toBeDefined();
    expect(JSON.parse(line as string)).toMatchObject({
      principal: 'alice',
      server: 'postgres-prod',
      tool: 'query',
    });
  });
});
