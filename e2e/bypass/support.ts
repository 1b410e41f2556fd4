import { Client } from 'pg';
import type { ScratchDatabase } from '@gatehouse/db';
import type { StartedDevIdp } from '../support/dev-idp';
import { api, ROLES, type ApiAnswer, type Tokens } from '../policy-lifecycle/support';
import { rawPost, serverBin } from '../transport/helpers';
import type { GatewayProcess } from '../transport/processes';

export const AUDIENCE = 'http://gatehouse.test/mcp';

/** A reason that passes the meaningful-reason check. */
export const REASON = 'payments API down; the policy blocks the on-call fix on the everything server';

/**
 * Two replicas' configuration: shared database and Redis, the seed policy, server-everything and
 * server-memory, where grants reaching `memory` need approval first.
 */
export function gatewayYaml(
  idp: StartedDevIdp,
  db: ScratchDatabase,
  policyDir: string,
  /** Undefined: no Redis, each replica follows the others through its periodic reload. */
  redisPrefix: string | undefined,
  /** Lines under `bypass:` besides the modes (`  alerts: …`). */
  bypassExtra = '',
): string {
  return [
    `auth:\n  issuer: ${idp.issuer}\n  audience: ${AUDIENCE}\n${ROLES}`,
    `database:\n  url: ${db.url}\n`,
    redisPrefix ? `redis:\n  url: redis://127.0.0.1:6379\n  keyPrefix: "${redisPrefix}"\n` : '',
    `policy:\n  dir: ${JSON.stringify(policyDir)}\n`,
    `bypass:\n  modes:\n    - servers: [memory]\n      mode: approval-first\n    - servers: ['*']\n      mode: immediate\n${bypassExtra}`,
    `upstreams:\n  everything:\n    transport: stdio\n    command: ${JSON.stringify(process.execPath)}\n    args: [${JSON.stringify(serverBin('@modelcontextprotocol/server-everything'))}, stdio]\n`,
    `  memory:\n    transport: stdio\n    command: ${JSON.stringify(process.execPath)}\n    args: [${JSON.stringify(serverBin('@modelcontextprotocol/server-memory'))}]\n`,
  ].join('');
}

/** Rows of one query on the scratch database. */
export async function sql<T>(db: ScratchDatabase, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: db.url });
  await client.connect();
  try {
    return (await client.query(text, values)).rows as T[];
  } finally {
    await client.end();
  }
}

/** `user` calls `everything__<tool>` with a 2026-07-28 request (no session): the JSON-RPC answer. */
export async function callTool(
  gw: GatewayProcess,
  tokens: Tokens,
  user: string,
  tool: string,
  args: Record<string, unknown>,
): Promise<{ result?: unknown; error?: { code: number; message: string } }> {
  const meta = {
    'io.modelcontextprotocol/protocolVersion': '2026-07-28',
    'io.modelcontextprotocol/clientInfo': { name: 'bypass-e2e', version: '1' },
    'io.modelcontextprotocol/clientCapabilities': {},
  };
  const res = await rawPost(
    `${gw.url}/mcp`,
    JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: `everything__${tool}`, arguments: args, _meta: meta },
    }),
    { ...(await tokens.as(user)), 'mcp-protocol-version': '2026-07-28' },
  );
  return res.json as { result?: unknown; error?: { code: number; message: string } };
}

/** A client of the bypass API acting as one user. */
export function bypassApi(base: string, tokens: Tokens) {
  const send = async (user: string, method: string, path: string, body?: unknown): Promise<ApiAnswer> =>
    api(base, `/api/v1/bypass${path}`, {
      method,
      headers: await tokens.as(user),
      ...(body !== undefined ? { body } : {}),
    });
  return {
    get: (user: string, path: string) => send(user, 'GET', path),
    open: (user: string, body: Record<string, unknown>) => send(user, 'POST', '/grants', body),
    step: (user: string, id: string, step: string, body: Record<string, unknown> = {}) =>
      send(user, 'POST', `/grants/${id}/${step}`, body),
    send,
  };
}
