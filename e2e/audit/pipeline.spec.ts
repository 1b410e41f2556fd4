import { Client } from 'pg';
import type { RunningGateway } from '../../apps/gateway/src/bootstrap';
import { recordingUpstream } from '../support/recording-upstream';
import { gatewayWith, initializeBody, rawPost } from '../transport/helpers';

/**
 * The audit trail in the pipeline, on a real gateway with a real Postgres and a real HTTP MCP
 * upstream that counts the calls it receives.
 */
const ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

async function admin<T = Record<string, unknown>>(
  sql: string,
  params: unknown[] = [],
  url = ADMIN_URL,
): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

describe('audit records in the call pipeline', () => {
  let upstream: Awaited<ReturnType<typeof recordingUpstream>>;
  let gw: RunningGateway & { logs: string[]; databaseUrl: string };
  let database: string;
  let sid: string;

  const call = (id: number, text: string, extra: Record<string, unknown> = {}) =>
    rawPost(
      `${gw.url}/mcp`,
      JSON.stringify({
        jsonrpc: '2.0',
        id,
        method: 'tools/call',
        params: { name: 'rec__echo', arguments: { text, ...extra } },
      }),
      { 'mcp-session-id': sid },
    );

  const rows = (callIdText: string) =>
    admin<{ kind: string; outcome: string; tool: string; arguments: Record<string, unknown> }>(
      `SELECT kind, outcome, tool, arguments FROM audit_event WHERE arguments->>'text' = $1 ORDER BY kind`,
      [callIdText],
      gw.databaseUrl,
    ).catch(() => []);

  beforeAll(async () => {
    upstream = await recordingUpstream();
    gw = await gatewayWith(
      `audit:\n  redactPaths: [note]\nupstreams:\n  rec:\n    transport: http\n    url: ${upstream.url}\n`,
    );
    database = new URL(gw.databaseUrl).pathname.slice(1);
    const init = await rawPost(`${gw.url}/mcp`, initializeBody());
    sid = init.headers.get('mcp-session-id') as string;
  });
  afterAll(async () => {
    await admin(`ALTER DATABASE "${database}" ALLOW_CONNECTIONS true`).catch(() => undefined);
    await gw.close();
    upstream.server.closeAllConnections();
    await new Promise((ok) => upstream.server.close(ok));
  });

  it('writes an intent before forwarding and an outcome after, with redacted arguments', async () => {
    const res = await call(2, 'audited once', { note: 'private', token: 'abc', dsn: 'postgres://u:pw@h/db' });
    expect(res.json.result).toBeDefined();
    let found: Awaited<ReturnType<typeof rows>> = [];
    for (let i = 0; i < 50 && found.length < 2; i++) {
      found = await rows('audited once');
      if (found.length < 2) await new Promise((r) => setTimeout(r, 20));
    }
    expect(found.map((r) => [r.kind, r.outcome])).toEqual([
      ['intent', 'allowed'],
      ['outcome', 'ok'],
    ]);
    expect(found[0]?.tool).toBe('echo');
    expect(found[0]?.arguments).toEqual({
      text: 'audited once',
      note: '[redacted]',
      token: '[redacted]',
      // Only the password of a URL is a secret: the rest keeps the record readable (13.6).
      dsn: 'postgres://u:[redacted]@h/db',
    });
  });

  it('R15: when the intent cannot be written, the call is refused and the upstream never sees it', async () => {
    expect(database).toMatch(/^gatehouse_e2e/);
    const before = upstream.calls.length;
    await admin(`ALTER DATABASE "${database}" ALLOW_CONNECTIONS false`);
    await admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [database]);
    try {
      const res = await call(3, 'must not run');
      expect(res.status).toBe(503);
      expect(res.json.error).toMatchObject({ code: -32030, data: { reason: 'AUDIT_UNAVAILABLE' } });
      expect(upstream.calls.length).toBe(before);
    } finally {
      await admin(`ALTER DATABASE "${database}" ALLOW_CONNECTIONS true`);
    }
    // The gateway keeps serving once the database is back.
    let ok = false;
    for (let i = 0; i < 100 && !ok; i++) {
      ok = (await call(4, 'after recovery')).json.result !== undefined;
      if (!ok) await new Promise((r) => setTimeout(r, 50));
    }
    expect(ok).toBe(true);
  });
});
