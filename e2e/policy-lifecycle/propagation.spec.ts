import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { createScratchDatabase, DEFAULT_SERVER_URL, type ScratchDatabase } from '@gatehouse/db';
import { startDevIdp, type StartedDevIdp } from '../support/dev-idp';
import { rawPost, serverBin } from '../transport/helpers';
import { spawnGateway, type GatewayProcess } from '../transport/processes';
import {
  eventually,
  policyApi,
  policyDir,
  ROLES,
  SEED_POLICY,
  SEED_POLICY_READ_ONLY_SUPPORT,
  Tokens,
} from './support';

/**
 * Two built gateway processes (`npm run build` first) on one scratch Postgres database, with and
 * without a shared Redis, and real tokens from the development IdP. Both replicas share the
 * audience, as replicas behind one load balancer do.
 */

const AUDIENCE = 'http://gatehouse.test/mcp';

async function sql<T>(db: ScratchDatabase, text: string): Promise<T[]> {
  const client = new Client({ connectionString: db.url });
  await client.connect();
  try {
    return (await client.query(text)).rows as T[];
  } finally {
    await client.end();
  }
}

function yaml(idp: StartedDevIdp, db: ScratchDatabase, dir: string, redisPrefix?: string): string {
  return [
    `auth:\n  issuer: ${idp.issuer}\n  audience: ${AUDIENCE}\n${ROLES}`,
    `database:\n  url: ${db.url}\n`,
    redisPrefix ? `redis:\n  url: redis://127.0.0.1:6379\n  keyPrefix: "${redisPrefix}"\n` : '',
    `policy:\n  dir: ${JSON.stringify(dir)}\n`,
    // A real upstream, so decisions (and their cache) can be watched on each replica.
    `upstreams:\n  everything:\n    transport: stdio\n    command: ${JSON.stringify(process.execPath)}\n    args: [${JSON.stringify(serverBin('@modelcontextprotocol/server-everything'))}, stdio]\n`,
  ].join('');
}

/** alice calls everything__echo with a 2026-07-28 request (no session): the JSON-RPC answer. */
async function aliceEchoes(gw: GatewayProcess, tokens: Tokens): Promise<{ error?: { code: number } }> {
  const meta = {
    'io.modelcontextprotocol/protocolVersion': '2026-07-28',
    'io.modelcontextprotocol/clientInfo': { name: 'propagation', version: '1' },
    'io.modelcontextprotocol/clientCapabilities': {},
  };
  const body = { name: 'everything__echo', arguments: { message: 'hi' }, _meta: meta };
  const res = await rawPost(
    `${gw.url}/mcp`,
    JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: body }),
    {
      ...(await tokens.as('alice')),
      'mcp-protocol-version': '2026-07-28',
    },
  );
  return res.json as { error?: { code: number } };
}

describe('active policy on every replica', () => {
  let idp: StartedDevIdp;
  let tokens: Tokens;

  beforeAll(async () => {
    idp = await startDevIdp({ resource: AUDIENCE });
    tokens = new Tokens({ issuer: idp.issuer, secrets: idp.secrets, resource: AUDIENCE });
  });
  afterAll(async () => {
    await idp?.close();
  });

  /** carol drafts and proposes on `gw`, dave approves: the version number. */
  async function approvedOn(gw: GatewayProcess, text: string): Promise<number> {
    const policy = policyApi(gw.url, tokens);
    const n = (await policy.draft('carol', { 'seed.yaml': text }, 'replica test')).json.number as number;
    expect((await policy.step('carol', n, 'propose')).status).toBe(200);
    expect((await policy.step('dave', n, 'approve')).status).toBe(200);
    return n;
  }

  const enforced = async (gw: GatewayProcess) =>
    (await policyApi(gw.url, tokens).get('frank', '/active')).json.version as number | null;

  describe('with Redis', () => {
    let db: ScratchDatabase;
    let a: GatewayProcess;
    let b: GatewayProcess;

    beforeAll(async () => {
      db = await createScratchDatabase(DEFAULT_SERVER_URL, 'gh_policy_prop');
      const config = yaml(idp, db, policyDir({ 'seed.yaml': SEED_POLICY }), `test-${randomUUID()}:`);
      // Both start at once on the empty database: they race for the first-start import.
      [a, b] = await Promise.all([spawnGateway(config), spawnGateway(config)]);
    });
    afterAll(async () => {
      await Promise.all([a?.stop(), b?.stop()]);
      await db?.drop();
    });

    it('imports policy.dir once when two replicas start together on an empty database', async () => {
      const versions = await sql<{ number: number; status: string }>(
        db,
        'SELECT number, status FROM policy_version',
      );
      expect(versions).toEqual([{ number: 1, status: 'active' }]);
      const events = await sql<{ action: string; actor_subject: string }>(
        db,
        'SELECT action, actor_subject FROM policy_event',
      );
      expect(events).toEqual([{ action: 'import', actor_subject: 'system' }]);
      const importers = [a, b].filter((gw) => gw.output.join('').includes('as version 1 (active)'));
      expect(importers).toHaveLength(1);
      expect(await enforced(a)).toBe(1);
      expect(await enforced(b)).toBe(1);
    });

    it('activating on one replica reaches the other within 2 s (Redis pub/sub), and so does a rollback', async () => {
      const n = await approvedOn(a, SEED_POLICY_READ_ONLY_SUPPORT);
      expect((await policyApi(a.url, tokens).step('carol', n, 'activate', 'go')).status).toBe(200);
      expect(await enforced(a)).toBe(n);
      await eventually(
        async () => ((await enforced(b)) === n ? true : undefined),
        2_000,
        `replica B enforcing ${n}`,
      );
      // Told by the announcement, not found by the 5 s check.
      expect(b.output.join('')).toContain(
        `policy: version ${n} is active on this replica (announcement of version ${n})`,
      );

      // The import was never approved by a second person, so the rollback goes to an approved version.
      const back = await approvedOn(b, SEED_POLICY);
      expect(
        (await policyApi(b.url, tokens).step('carol', back, 'rollback', 'back to the seed')).status,
      ).toBe(200);
      expect(await enforced(b)).toBe(back);
      await eventually(
        async () => ((await enforced(a)) === back ? true : undefined),
        2_000,
        `replica A enforcing ${back}`,
      );
    });
  });

  describe('decisions follow an activation on another replica', () => {
    let db: ScratchDatabase;
    let a: GatewayProcess;
    let b: GatewayProcess;

    beforeAll(async () => {
      db = await createScratchDatabase(DEFAULT_SERVER_URL, 'gh_policy_decide');
      const config = yaml(idp, db, policyDir({ 'seed.yaml': SEED_POLICY }), `test-${randomUUID()}:`);
      a = await spawnGateway(config);
      b = await spawnGateway(config);
    });
    afterAll(async () => {
      await Promise.all([a?.stop(), b?.stop()]);
      await db?.drop();
    });

    it('a decision cached on replica B gives way within 2 s to a version activated on replica A', async () => {
      // Denied under version 1, twice, so replica B has the decision cached (policy.decisionCacheSeconds).
      expect((await aliceEchoes(b, tokens)).error?.code).toBe(-32003);
      expect((await aliceEchoes(b, tokens)).error?.code).toBe(-32003);
      const n = await approvedOn(
        a,
        `${SEED_POLICY}\n- subject: { group: data-platform }\n  resource: { server: everything }\n  action: '*'\n`,
      );
      expect((await policyApi(a.url, tokens).step('carol', n, 'activate', 'open everything')).status).toBe(
        200,
      );
      const started = Date.now();
      await eventually(
        async () => ((await aliceEchoes(b, tokens)).error === undefined ? true : undefined),
        2_000,
        'alice allowed on replica B',
      );
      expect(Date.now() - started).toBeLessThan(2_000);
    });
  });

  describe('without Redis (the periodic check)', () => {
    let db: ScratchDatabase;
    let a: GatewayProcess;
    let b: GatewayProcess;

    beforeAll(async () => {
      db = await createScratchDatabase(DEFAULT_SERVER_URL, 'gh_policy_poll');
      const config = yaml(idp, db, policyDir({ 'seed.yaml': SEED_POLICY }));
      a = await spawnGateway(config);
      b = await spawnGateway(config);
    });
    afterAll(async () => {
      await Promise.all([a?.stop(), b?.stop()]);
      await db?.drop();
    });

    it('a replica that hears no announcement still follows the active version at its next check (every 5 s)', async () => {
      expect(b.output.join('')).not.toContain('as version 1 (active)');
      const n = await approvedOn(a, SEED_POLICY_READ_ONLY_SUPPORT);
      expect((await policyApi(a.url, tokens).step('dave', n, 'activate')).status).toBe(200);
      expect(await enforced(a)).toBe(n);
      await eventually(
        async () => ((await enforced(b)) === n ? true : undefined),
        7_000,
        `replica B enforcing ${n}`,
      );
      expect(b.output.join('')).toContain(`policy: version ${n} is active on this replica (periodic check)`);
    });
  });
});
