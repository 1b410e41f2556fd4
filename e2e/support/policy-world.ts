import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { createScratchDatabase, DEFAULT_SERVER_URL, type ScratchDatabase } from '@gatehouse/db';
import type { RunningGateway } from '../../apps/gateway/src/bootstrap';
import { devUserToken, startDevIdp, type StartedDevIdp } from './dev-idp';
import { gatewayWith, initializeBody, rawPost, serverBin } from '../transport/helpers';
import { freePort } from '../transport/processes';
import { SEED_POLICY } from '@gatehouse/policy';
export { SEED_POLICY };

/**
 * The policy suites' world: a real Postgres "production" database with `public`, `analytics` and
 * `secret` schemas behind the npm `@modelcontextprotocol/server-postgres` (`postgres-prod`), a second
 * real MCP server (`zendesk`), the real development IdP for people, and a gateway whose first start
 * imports the given policy files as the active version.
 */
export async function seedDatabase(url: string): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`
      CREATE SCHEMA analytics;
      CREATE SCHEMA secret;
      CREATE TABLE public.customers (id int PRIMARY KEY, name text);
      CREATE TABLE analytics.daily_revenue (day date PRIMARY KEY, amount numeric);
      CREATE TABLE secret.api_keys (id int PRIMARY KEY, key text);
      INSERT INTO public.customers VALUES (1, 'Acme'), (2, 'Globex');
      INSERT INTO analytics.daily_revenue VALUES ('2026-11-19', 1200.50);
      INSERT INTO secret.api_keys VALUES (1, 'sk-live-do-not-leak');
    `);
  } finally {
    await client.end();
  }
}

export interface PolicyWorld {
  idp: StartedDevIdp;
  gw: RunningGateway & { logs: string[]; databaseUrl: string };
  prod: ScratchDatabase;
  policyDir: string;
  token(user: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * A gateway whose first start imports `files` as the active policy, with the seed's two servers.
 * `extraYaml`: more top-level config sections (e.g. `rateLimit:`), placed before `upstreams:`.
 */
export async function policyWorld(files: Record<string, string>, extraYaml = ''): Promise<PolicyWorld> {
  const prod = await createScratchDatabase(DEFAULT_SERVER_URL, 'gatehouse_prod');
  await seedDatabase(prod.url);
  const policyDir = mkdtempSync(join(tmpdir(), 'gatehouse-policy-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(policyDir, name), text);
  const port = await freePort();
  const resource = `http://127.0.0.1:${port}/mcp`;
  const idp = await startDevIdp({ resource });
  const gw = await gatewayWith(
    `auth:
  issuer: ${idp.issuer}
  roles:
    admin: [admin]
    policy-approver: [policy-approver]
    auditor: [auditor]
policy:
  dir: ${JSON.stringify(policyDir)}
${extraYaml}upstreams:
  postgres-prod:
    transport: stdio
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(serverBin('@modelcontextprotocol/server-postgres'))}, "\${PROD_DATABASE_URL}"]
    tags: { kind: postgres, env: prod }
  zendesk:
    transport: stdio
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(serverBin('@modelcontextprotocol/server-everything'))}, stdio]
    tags: { env: prod }
`,
    { PROD_DATABASE_URL: prod.url },
    [`port: ${port}`],
  );
  return {
    idp,
    gw,
    prod,
    policyDir,
    token: (user) => devUserToken(idp, user),
    close: async () => {
      await gw.close();
      await idp.close();
      await prod.drop();
      rmSync(policyDir, { recursive: true, force: true });
    },
  };
}

/** A 2025-era MCP session for `token` on the aggregated endpoint; returns a caller. */
export async function sessionFor(gw: RunningGateway, token: string) {
  const headers = { authorization: `Bearer ${token}` };
  const init = await rawPost(`${gw.url}/mcp`, initializeBody(), headers);
  if (init.status !== 200) throw new Error(`initialize failed: ${init.status} ${JSON.stringify(init.json)}`);
  const sid = init.headers.get('mcp-session-id') as string;
  let id = 1;
  return (method: string, params: Record<string, unknown> = {}) =>
    rawPost(`${gw.url}/mcp`, JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params }), {
      ...headers,
      'mcp-session-id': sid,
    });
}
