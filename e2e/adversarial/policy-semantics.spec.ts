import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { createScratchDatabase, DEFAULT_SERVER_URL, type ScratchDatabase } from '@gatehouse/db';
import type { RunningGateway } from '../../apps/gateway/src/bootstrap';
import { devUserToken, startDevIdp, type StartedDevIdp } from '../support/dev-idp';
import { seedDatabase, sessionFor } from '../support/policy-world';
import { gatewayWith, serverBin } from '../transport/helpers';
import { freePort } from '../transport/processes';

/**
 * Issue 13 points 2, 4 and 8 (policy semantics), attacked end to end: alice (data-platform) and
 * bob (support) at once against the real npm server-postgres (read-only), a writable SQL server
 * on the same scratch database, and the npm server-everything's resources.
 */
const SQL_WRITER = resolve(__dirname, '../../dist/e2e/fixtures/sql-writer-server.js');
const SECRET = 'sk-live-do-not-leak';

const POLICY = `- id: alice-reads-public
  subject: { group: data-platform }
  resource: { server: postgres-prod }
  action: read
  conditions:
    schemas: [public, analytics]
- id: bob-reads
  subject: { group: support }
  resource: { server: postgres-prod }
  action: read
- id: bob-never-secret
  effect: deny
  subject: { group: support }
  resource: { server: [postgres-prod, pg-rw] }
  action: '*'
  conditions:
    schemas: [secret]
- id: bob-writes-public
  subject: { group: support }
  resource: { server: pg-rw }
  action: write
  conditions:
    schemas: [public]
- id: alice-writes
  subject: { group: data-platform }
  resource: { server: pg-rw }
  action: write
- id: everyone-uses-demo
  subject: { any: true }
  resource: { server: everything }
  action: '*'
- id: bob-not-text-1
  effect: deny
  subject: { group: support }
  resource: { server: everything, tool: 'demo://resource/dynamic/text/1' }
  action: read
`;

type Caller = Awaited<ReturnType<typeof sessionFor>>;

describe('13 adversarial: policy semantics (schemas, catalog names, quoted names, resource URIs)', () => {
  let idp: StartedDevIdp;
  let gw: RunningGateway & { logs: string[] };
  let prod: ScratchDatabase;
  let policyDir: string;
  let alice: Caller;
  let bob: Caller;

  beforeAll(async () => {
    prod = await createScratchDatabase(DEFAULT_SERVER_URL, 'gatehouse_adv_policy');
    await seedDatabase(prod.url);
    await sql(`
      CREATE TABLE public."secret.keys" (id int PRIMARY KEY, note text);
      INSERT INTO public."secret.keys" VALUES (1, 'a public table with a dotted name');
      CREATE TABLE secret."x.y" (id int PRIMARY KEY, key text);
      INSERT INTO secret."x.y" VALUES (1, '${SECRET}-dotted');
      CREATE PROCEDURE public.wipe() LANGUAGE sql AS $$ DELETE FROM secret.api_keys $$;
    `);
    policyDir = mkdtempSync(join(tmpdir(), 'gatehouse-adv-policy-'));
    writeFileSync(join(policyDir, 'policy.yaml'), POLICY);
    const port = await freePort();
    idp = await startDevIdp({ resource: `http://127.0.0.1:${port}/mcp` });
    gw = await gatewayWith(
      `auth:
  issuer: ${idp.issuer}
policy:
  dir: ${JSON.stringify(policyDir)}
upstreams:
  postgres-prod:
    transport: stdio
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(serverBin('@modelcontextprotocol/server-postgres'))}, "\${PROD_DATABASE_URL}"]
    tags: { kind: postgres, env: prod }
  pg-rw:
    transport: stdio
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(SQL_WRITER)}]
    env: { SQL_WRITER_URL: "\${PROD_DATABASE_URL}" }
    tags: { kind: postgres, env: prod }
    sql: { tools: [execute] }
  everything:
    transport: stdio
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(serverBin('@modelcontextprotocol/server-everything'))}, stdio]
`,
      { PROD_DATABASE_URL: prod.url },
      [`port: ${port}`],
    );
    alice = await sessionFor(gw, await devUserToken(idp, 'alice'));
    bob = await sessionFor(gw, await devUserToken(idp, 'bob'));
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await idp?.close();
    await prod?.drop();
    if (policyDir) rmSync(policyDir, { recursive: true, force: true });
  });

  async function sql(text: string): Promise<Record<string, unknown>[]> {
    const client = new Client({ connectionString: prod.url });
    await client.connect();
    try {
      return (await client.query(text)).rows as Record<string, unknown>[];
    } finally {
      await client.end();
    }
  }

  const query = (who: Caller, text: string) =>
    who('tools/call', { name: 'postgres-prod__query', arguments: { sql: text } });
  const execute = (who: Caller, text: string) =>
    who('tools/call', { name: 'pg-rw__execute', arguments: { sql: text } });
  const readResource = (who: Caller, uri: string) => who('resources/read', { uri: `everything+${uri}` });

  it('13.2: a deny scoped to secret applies to a query that also touches public (bob), while alice and bob both read public', async () => {
    const joined = 'SELECT k.key FROM secret.api_keys k JOIN public.customers c ON c.id = k.id';
    const [bobJoined, bobPublic, alicePublic] = await Promise.all([
      query(bob, joined),
      query(bob, 'SELECT name FROM public.customers WHERE id = 2'),
      query(alice, 'SELECT name FROM customers WHERE id = 1'),
    ]);
    expect(bobJoined.json.error).toMatchObject({
      code: -32003,
      data: { reason: 'POLICY_DENIED', decision: { matchedRules: ['bob-never-secret'] } },
    });
    expect(JSON.stringify(bobJoined.json)).not.toContain(SECRET);
    expect(JSON.stringify(bobPublic.json.result)).toContain('Globex');
    expect(JSON.stringify(alicePublic.json.result)).toContain('Acme');
  });

  it('13.8: a quoted table name with a dot is read as one name: bob cannot reach secret."x.y", alice may read public."secret.keys"', async () => {
    const [bobSecret, alicePublic, bobPublic] = await Promise.all([
      query(bob, 'SELECT key FROM secret."x.y"'),
      query(alice, 'SELECT note FROM "secret.keys"'),
      query(bob, 'SELECT note FROM public."secret.keys"'),
    ]);
    expect(bobSecret.json.error).toMatchObject({ code: -32003, data: { reason: 'POLICY_DENIED' } });
    expect(JSON.stringify(bobSecret.json)).not.toContain(SECRET);
    expect(JSON.stringify(alicePublic.json.result)).toContain('dotted name');
    expect(JSON.stringify(bobPublic.json.result)).toContain('dotted name');
  });

  it('13.8: unqualified catalog views resolve to pg_catalog, so alice (public, analytics) cannot list the secret schema through pg_class', async () => {
    const listing =
      "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'secret'";
    const [aliceCatalog, aliceStats, bobCatalog] = await Promise.all([
      query(alice, listing),
      query(alice, "SELECT attname FROM pg_stats WHERE schemaname = 'secret'"),
      query(bob, listing),
    ]);
    expect(aliceCatalog.json.error).toMatchObject({ code: -32003, data: { reason: 'POLICY_DENIED' } });
    expect(aliceCatalog.json.error.message).toContain('pg_catalog.pg_class');
    expect(aliceCatalog.json.error.data.decision.touched).toEqual([
      'pg_catalog.pg_class',
      'pg_catalog.pg_namespace',
    ]);
    expect(aliceStats.json.error.data.decision.touched).toEqual(['pg_catalog.pg_stats']);
    // bob's deny is on secret, not on pg_catalog: the catalog is his to read.
    expect(JSON.stringify(bobCatalog.json.result)).toContain('api_keys');
  });

  it.each([
    ['a DO block deleting from secret.*', 'DO $$ BEGIN DELETE FROM secret.api_keys; END $$'],
    [
      'CREATE FUNCTION',
      'CREATE FUNCTION public.leak() RETURNS SETOF text LANGUAGE sql AS $$ SELECT key FROM secret.api_keys $$',
    ],
    ['GRANT … ON SCHEMA secret', 'GRANT USAGE ON SCHEMA secret TO PUBLIC'],
    ['CALL', 'CALL public.wipe()'],
  ])('13.2: bob, limited to writing public, may not run %s', async (_shape, text) => {
    const denied = await execute(bob, text);
    expect(denied.json.error).toMatchObject({ code: -32003, data: { reason: 'POLICY_DENIED' } });
    expect(denied.json.error.message).toContain('cannot be known');
    expect(await sql('SELECT key FROM secret.api_keys')).toEqual([{ key: SECRET }]);
  });

  it('13.2: the write server really runs what it is given: bob writes public, alice runs a DO block', async () => {
    const [bobInsert, aliceDo] = await Promise.all([
      execute(bob, "INSERT INTO public.customers VALUES (3, 'Initech')"),
      execute(alice, "DO $$ BEGIN INSERT INTO public.customers VALUES (4, 'Hooli'); END $$"),
    ]);
    expect(bobInsert.json.error).toBeUndefined();
    expect(bobInsert.json.result.isError).toBeFalsy();
    expect(aliceDo.json.error).toBeUndefined();
    expect(aliceDo.json.result.isError).toBeFalsy();
    const names = (await sql('SELECT name FROM public.customers ORDER BY id')).map((r) => r.name);
    expect(names).toEqual(['Acme', 'Globex', 'Initech', 'Hooli']);
    const mixed = await execute(bob, 'INSERT INTO public.customers SELECT 5, key FROM secret.api_keys');
    expect(mixed.json.error).toMatchObject({
      code: -32003,
      data: { decision: { matchedRules: ['bob-never-secret'] } },
    });
  });

  it.each([
    'demo://resource/dynamic/text/01',
    'DEMO://resource/dynamic/text/1',
    'demo://RESOURCE/dynamic/text/1',
    'demo://resource/dynamic/./text/1',
    'demo://resource/dynamic/blob/../text/1',
    'demo://resource/dynamic/text/%31',
  ])("13.4: bob's deny on demo://resource/dynamic/text/1 covers %s", async (uri) => {
    const [bobRead, aliceRead] = await Promise.all([
      readResource(bob, uri),
      readResource(alice, 'demo://resource/dynamic/text/1'),
    ]);
    expect(bobRead.json.error).toMatchObject({
      code: -32003,
      data: { reason: 'POLICY_DENIED', decision: { matchedRules: ['bob-not-text-1'] } },
    });
    expect(JSON.stringify(aliceRead.json.result)).toContain('Resource 1');
  });

  it.each([
    ['an encoded slash', 'demo://resource/dynamic/text%2F1'],
    ['an encoded backslash', 'demo://resource/dynamic/text%5C1'],
    ['a backslash', 'demo://resource/dynamic\\text/1'],
    ['a NUL', 'demo://resource/dynamic/text/1%00'],
  ])('13.4: a URI with %s is refused as ambiguous (-32602), for alice too', async (_what, uri) => {
    const refused = await readResource(alice, uri);
    expect(refused.json.error).toMatchObject({ code: -32602 });
    expect(refused.json.error.message).toContain('ambiguous');
  });

  it('13.4 sibling: a denied resource does not arrive embedded in a tool result or a prompt instead (bob), while alice gets it', async () => {
    const viaTool = {
      name: 'everything__get-resource-reference',
      arguments: { resourceType: 'Text', resourceId: 1 },
    };
    const viaPrompt = {
      name: 'everything__resource-prompt',
      arguments: { resourceType: 'Text', resourceId: '1' },
    };
    const [bobTool, aliceTool, bobPrompt, alicePrompt, bobOther] = await Promise.all([
      bob('tools/call', viaTool),
      alice('tools/call', viaTool),
      bob('prompts/get', viaPrompt),
      alice('prompts/get', viaPrompt),
      bob('tools/call', { ...viaTool, arguments: { resourceType: 'Text', resourceId: 2 } }),
    ]);
    const embedded = 'Resource 1: This is a plaintext resource';
    expect(JSON.stringify(bobTool.json.result)).not.toContain(embedded);
    expect(JSON.stringify(bobTool.json.result)).toContain('withheld by the gateway');
    expect(JSON.stringify(bobPrompt.json.result)).not.toContain(embedded);
    expect(JSON.stringify(bobPrompt.json.result)).toContain('bob-not-text-1');
    expect(JSON.stringify(aliceTool.json.result)).toContain(embedded);
    expect(JSON.stringify(alicePrompt.json.result)).toContain(embedded);
    expect(JSON.stringify(bobOther.json.result)).toContain('Resource 2: This is a plaintext resource');
  });

  it('13.4: what was decided is what is forwarded: alice reads text/%32 as the canonical text/2', async () => {
    const read = await readResource(alice, 'DEMO://resource/dynamic/text/%32');
    expect(read.json.error).toBeUndefined();
    expect(read.json.result.contents[0]).toMatchObject({ text: expect.stringContaining('Resource 2') });
  });
});
