import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Client } from 'pg';

import { createScratchDatabase, DEFAULT_SERVER_URL } from '@gatehouse/db';

import { devUserToken, startDevIdp } from '../support/dev-idp';
import { waitFor } from '../support/wait-for';
import { serverBin } from '../transport/helpers';
import { freePort, startGatewayChild, type GatewayProcess } from '../transport/processes';

export type { GatewayProcess };

/**
 * The policy of these suites: anyone may use `memory`, except `create_entities`, which is
 * denied, so a test can tell a Gatehouse refusal from an unreachable gateway.
 */
export const MEMORY_POLICY = `rules:
  - id: memory-use
    subject: { any: true }
    resource: { server: memory }
    action: '*'
  - id: no-new-entities
    effect: deny
    subject: { any: true }
    resource: { server: memory, tool: create_entities }
    action: '*'
`;

/** A Claude Desktop config with the reference `memory` server, its graph in `memoryFile`. */
export function claudeDesktopConfig(dir: string, memoryFile: string): string {
  const file = join(dir, 'claude_desktop_config.json');
  writeFileSync(
    file,
    JSON.stringify({
      mcpServers: {
        memory: {
          command: process.execPath,
          args: [serverBin('@modelcontextprotocol/server-memory')],
          env: { MEMORY_FILE_PATH: memoryFile },
        },
      },
    }),
  );
  return file;
}

export interface GatewaySetup {
  port: number;
  databaseUrl: string;
  issuer: string;
  policyDir: string;
  /** Directory for the config file and GATEHOUSE_DATA_DIR; the same across restarts. */
  dir: string;
}

/**
 * Runs the BUILT gateway (`npm run build` first) on a given port and database, so a test can
 * stop it and start it again where the bridge expects it, with the trail it had.
 */
export async function runGateway(setup: GatewaySetup): Promise<GatewayProcess> {
  const file = join(setup.dir, 'gatehouse.yaml');
  writeFileSync(
    file,
    `server:
  port: ${setup.port}
log:
  level: info
database:
  url: ${JSON.stringify(setup.databaseUrl)}
auth:
  issuer: ${setup.issuer}
  audience: http://127.0.0.1:${setup.port}/mcp
policy:
  dir: ${JSON.stringify(setup.policyDir)}
rateLimit:
  perUserPerMinute: 1000000
  perToolPerMinute: 1000000
  inFlightPerUser: 100000
upstreams:
  memory:
    transport: stdio
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(serverBin('@modelcontextprotocol/server-memory'))}]
    env:
      MEMORY_FILE_PATH: ${JSON.stringify(join(setup.dir, 'gateway-memory.jsonl'))}
`,
  );
  return startGatewayChild(file, setup.port, setup.dir);
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** One audit row, as these suites read it. */
export interface TrailRow {
  kind: string;
  call_id: string | null;
  outcome: string;
  decision: string | null;
  tool: string | null;
  server: string | null;
  method: string;
  principal_subject: string;
  client_bridge_version: string | null;
  at: string;
}

/** The audit rows of `memory` tool calls, oldest first. */
export async function trail(databaseUrl: string): Promise<TrailRow[]> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const result = await client.query<TrailRow>(
      `SELECT kind, call_id, outcome, decision, tool, server, method, principal_subject, client_bridge_version,
              to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at
         FROM audit_event WHERE method = 'tools/call' ORDER BY occurred_at, kind`,
    );
    return result.rows;
  } finally {
    await client.end();
  }
}

/** The text of a tool result's content. */
export function text(result: unknown): string {
  const content = (result as { content: Array<{ type: string; text?: string }> }).content;
  return content.map((c) => c.text ?? '').join('');
}

/** {@link waitFor} with the check first, and 40 s: a bridge reconnecting to a restarted gateway is slow. */
export function until(check: () => Promise<boolean> | boolean, what: string, ms = 40_000): Promise<void> {
  return waitFor(what, check, ms);
}

/** A built gateway for the bridge suites: development IdP, scratch Postgres, the memory policy. */
export interface BridgeGateway {
  /** The gateway now running; {@link restart} replaces it. */
  gateway: GatewayProcess;
  /** What the gateway runs on: the same port, database and data directory across restarts. */
  setup: GatewaySetup;
  databaseUrl: string;
  /** alice's access token for the gateway. */
  token: string;
  /** Starts the gateway again where it was (after the test stopped it). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startBridgeGateway(name: string): Promise<BridgeGateway> {
  const port = await freePort();
  const idp = await startDevIdp({ resource: `http://127.0.0.1:${port}/mcp` });
  const db = await createScratchDatabase(DEFAULT_SERVER_URL, `gatehouse_${name}`);
  const dir = tempDir(`gatehouse-${name}-gw-`);
  const policyDir = join(dir, 'policy');
  mkdirSync(policyDir);
  writeFileSync(join(policyDir, 'memory.yaml'), MEMORY_POLICY);
  const setup = { port, databaseUrl: db.url, issuer: idp.issuer, policyDir, dir };
  const fixture: BridgeGateway = {
    gateway: await runGateway(setup),
    setup,
    databaseUrl: db.url,
    token: await devUserToken(idp, 'alice'),
    restart: async () => {
      fixture.gateway = await runGateway(setup);
    },
    close: async () => {
      await fixture.gateway.stop();
      await idp.close();
      await db.drop();
    },
  };
  return fixture;
}
