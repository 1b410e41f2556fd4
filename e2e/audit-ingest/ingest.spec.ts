import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Client } from 'pg';
import {
  INGEST_PATH,
  verifyChains,
  type IngestCall,
  type IngestRequest,
  type IngestResponse,
} from '@gatehouse/audit';
import { parseConfigText } from '@gatehouse/config';
import { SEED_POLICY } from '@gatehouse/policy';
import { startGateway, type RunningGateway } from '../../apps/gateway/src/bootstrap';
import { devUserToken, startDevIdp, type StartedDevIdp } from '../support/dev-idp';
import { recordingUpstream } from '../support/recording-upstream';
import { gatewayWith } from '../transport/helpers';
import { freePort, transportDefaults } from '../transport/processes';

/**
 * The ingest endpoint for calls a bridge ran itself (issue 5 points 12, 13), on a real gateway
 * (Fastify, scratch Postgres, the seed policy as the active version), real tokens from the
 * development IdP (`npm run build` first) and a real MCP upstream that records every request it
 * gets: reported calls are decided and recorded, and the upstream never hears of them.
 */
const ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

async function sql<T = Record<string, unknown>>(
  url: string,
  text: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, params)).rows as T[];
  } finally {
    await client.end();
  }
}

interface Row {
  kind: string;
  call_id: string;
  at: string;
  outcome: string;
  principal_subject: string;
  principal_email: string | null;
  client_name: string | null;
  client_version: string | null;
  client_bridge_version: string | null;
  client_ip: string | null;
  server: string | null;
  tool: string | null;
  method: string;
  action: string | null;
  arguments: Record<string, unknown> | null;
  decision: string | null;
  matched_rules: string[];
  policy_version: number | null;
  touched: string[];
  error_code: number | null;
  error_message: string | null;
  upstream_us: string | null;
  response_bytes: string | null;
}

const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000);

function sqlCall(query: string, startedAt: Date, extra: Partial<IngestCall> = {}): IngestCall {
  return {
    id: randomUUID(),
    server: 'postgres-prod',
    method: 'tools/call',
    params: { name: 'query', arguments: { sql: query } },
    startedAt: startedAt.toISOString(),
    durationMs: 42.5,
    status: 'ok',
    responseBytes: 321,
    ...extra,
  };
}

describe('POST /api/v1/audit/ingest', () => {
  let idp: StartedDevIdp;
  let gw: RunningGateway & { logs: string[]; databaseUrl: string };
  let upstream: Awaited<ReturnType<typeof recordingUpstream>>;
  let policyDir: string;
  let upstreamRequestsBefore: number;
  const tokens = new Map<string, string>();

  const token = async (user: string) => {
    if (!tokens.has(user)) tokens.set(user, await devUserToken(idp, user));
    return tokens.get(user) as string;
  };

  const post = async (user: string | undefined, body: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${gw.url}${INGEST_PATH}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(user ? { authorization: `Bearer ${await token(user)}` } : {}),
        ...headers,
      },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read error and success shapes alike
    return { status: res.status, json: (await res.json()) as any };
  };

  const rows = (callIds: string[]) =>
    sql<Row>(
      gw.databaseUrl,
      `SELECT *, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at
         FROM audit_event WHERE call_id = ANY($1) ORDER BY occurred_at, kind`,
      [callIds],
    );

  beforeAll(async () => {
    upstream = await recordingUpstream();
    policyDir = mkdtempSync(join(tmpdir(), 'gatehouse-ingest-policy-'));
    writeFileSync(join(policyDir, 'seed.yaml'), SEED_POLICY);
    // The seed article's migration path: writes to prod servers in shadow, reads enforced.
    writeFileSync(
      join(policyDir, 'enforcement.yaml'),
      'enforcement:\n  - tags: { env: prod }\n    action: write\n    mode: shadow\n',
    );
    const port = await freePort();
    idp = await startDevIdp({ resource: `http://127.0.0.1:${port}/mcp` });
    gw = await gatewayWith(
      `auth:
  issuer: ${idp.issuer}
  audience: http://127.0.0.1:${port}/mcp
  roles:
    admin: [admin]
    auditor: [auditor]
audit:
  redactPaths: [note]
  # The serialisation tests send bursts of one principal's uploads at once.
  ingest: { inFlightPerPrincipal: 20 }
policy:
  dir: ${JSON.stringify(policyDir)}
upstreams:
  postgres-prod:
    transport: http
    url: ${upstream.url}
    tags: { kind: postgres, env: prod }
  zendesk:
    transport: http
    url: ${upstream.url}
    tags: { env: prod }
`,
      {},
      [`port: ${port}`],
    );
    upstreamRequestsBefore = upstream.requests.length;
  });

  afterAll(async () => {
    await sql(
      ADMIN_URL,
      `ALTER DATABASE "${new URL(gw.databaseUrl).pathname.slice(1)}" ALLOW_CONNECTIONS true`,
    ).catch(() => undefined);
    await gw?.close();
    await idp?.close();
    upstream.server.closeAllConnections();
    await new Promise((ok) => upstream.server.close(ok));
    rmSync(policyDir, { recursive: true, force: true });
  });

  it("records a shadow report as alice's: the policy's decision, touched tables, original times, redacted arguments", async () => {
    const allowedAt = minutesAgo(10);
    const allowed = sqlCall('SELECT * FROM analytics.daily_revenue', allowedAt, {
      params: {
        name: 'query',
        arguments: { sql: 'SELECT * FROM analytics.daily_revenue', note: 'private', password: 'hunter2' },
      },
    });
    const denied = sqlCall('SELECT key FROM secret.api_keys', minutesAgo(9), {
      status: 'error',
      errorCode: -32603,
      errorMessage: 'permission denied for schema secret',
      durationMs: 3,
    });
    const res = await post('alice', {
      mode: 'shadow',
      client: { name: 'claude-desktop', version: '1.4.2' },
      bridgeVersion: '0.9.0',
      calls: [allowed, denied],
    } satisfies IngestRequest);
    expect(res.status).toBe(200);
    const body = res.json as IngestResponse;
    expect(body).toMatchObject({ stored: 2, duplicates: 0 });
    expect(body.decisions).toEqual([
      expect.objectContaining({
        id: allowed.id,
        decision: 'allow',
        matchedRules: ['seed.yaml#1'],
        stored: true,
      }),
      expect.objectContaining({ id: denied.id, decision: 'deny', stored: true, policyVersion: 1 }),
    ]);
    expect(body.decisions[1]?.reason).toMatch(/secret/);
    // The gateway's log names what the policy would refuse: what shadow mode is for.
    const warned = gw.logs
      .filter((l) => l.includes('a reported call the policy would refuse'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(warned).toEqual([
      expect.objectContaining({
        principal: 'alice',
        mode: 'shadow',
        server: 'postgres-prod',
        decision: 'deny',
      }),
    ]);

    const found = await rows([allowed.id, denied.id]);
    expect(found.map((r) => [r.call_id, r.kind, r.outcome])).toEqual([
      [allowed.id, 'intent', 'shadow'],
      [allowed.id, 'outcome', 'shadow'],
      [denied.id, 'intent', 'shadow'],
      [denied.id, 'outcome', 'shadow'],
    ]);
    const [intent, outcome, deniedIntent, deniedOutcome] = found as [Row, Row, Row, Row];
    // The original times: intent at startedAt, outcome at startedAt + durationMs.
    expect(intent.at).toBe(allowedAt.toISOString());
    expect(outcome.at).toBe(new Date(allowedAt.getTime() + 42).toISOString());
    for (const r of found) {
      expect(r).toMatchObject({
        principal_subject: 'alice',
        principal_email: 'alice@example.com',
        client_name: 'claude-desktop',
        client_version: '1.4.2',
        client_bridge_version: '0.9.0',
        client_ip: '127.0.0.1',
        server: 'postgres-prod',
        tool: 'query',
        method: 'tools/call',
        action: 'read',
        policy_version: 1,
      });
    }
    expect(intent).toMatchObject({
      decision: 'allow',
      matched_rules: ['seed.yaml#1'],
      touched: ['analytics.daily_revenue'],
      arguments: { sql: 'SELECT * FROM analytics.daily_revenue', note: '[redacted]', password: '[redacted]' },
    });
    expect(outcome).toMatchObject({ upstream_us: '42500', response_bytes: '321', error_code: null });
    expect(deniedIntent).toMatchObject({ decision: 'deny', touched: ['secret.api_keys'] });
    expect(deniedOutcome).toMatchObject({
      error_code: -32603,
      error_message: 'permission denied for schema secret',
      upstream_us: '3000',
    });
  });

  it('decides a shadow report the way the gateway would for that principal: bob may not read postgres-prod', async () => {
    const call = sqlCall('SELECT * FROM analytics.daily_revenue', minutesAgo(5));
    const res = await post('bob', { mode: 'shadow', calls: [call] });
    expect(res.status).toBe(200);
    expect(res.json.decisions[0]).toMatchObject({ decision: 'deny', stored: true, matchedRules: [] });
    const [intent] = await rows([call.id]);
    expect(intent).toMatchObject({ principal_subject: 'bob', decision: 'deny', outcome: 'shadow' });
  });

  it('answers shadow-deny for a write the policy denies where enforcement is shadow', async () => {
    const call = sqlCall('DELETE FROM public.customers', minutesAgo(6));
    const res = await post('alice', { mode: 'shadow', calls: [call] });
    expect(res.json.decisions[0]).toMatchObject({ decision: 'shadow-deny', stored: true });
    const [intent] = await rows([call.id]);
    expect(intent).toMatchObject({ decision: 'shadow-deny', action: 'write', touched: ['public.customers'] });
  });

  it('answers allow for methods the policy does not decide', async () => {
    const list: IngestCall = { ...sqlCall('', minutesAgo(4)), method: 'tools/list', params: {} };
    const res = await post('alice', { mode: 'shadow', calls: [list] });
    expect(res.status).toBe(200);
    expect(res.json.decisions.map((d: { decision: string }) => d.decision)).toEqual(['allow']);
    expect((await rows([list.id])).map((r) => [r.method, r.server, r.decision])).toEqual([
      ['tools/list', 'postgres-prod', null],
      ['tools/list', 'postgres-prod', null],
    ]);
  });

  it('stores text Postgres could not hold (NUL, lone surrogates) with U+FFFD instead of failing the batch', async () => {
    const call = sqlCall('SELECT 1', minutesAgo(3), {
      params: { name: 'q\ud800\u0000', arguments: { 'k\u0000': 'v\udc00', sql: 'SELECT 1' } },
      status: 'error',
      errorCode: -32000,
      errorMessage: 'bad \u0000 byte \ud83d',
    });
    const res = await post('alice', { mode: 'shadow', client: { name: 'host\ud800' }, calls: [call] });
    expect(res.status).toBe(200);
    const [intent, outcome] = await rows([call.id]);
    expect(intent).toMatchObject({
      tool: 'q\uFFFD\uFFFD',
      client_name: 'host\uFFFD',
      arguments: { 'k\uFFFD': 'v\uFFFD', sql: 'SELECT 1' },
    });
    expect(outcome?.error_message).toBe('bad \uFFFD byte \uFFFD');
  });

  describe('fallback spool', () => {
    // Three days ago, 09:00-09:10 UTC: a window with nothing else of alice's.
    const day = new Date(Date.now() - 3 * 86_400_000);
    day.setUTCHours(9, 0, 0, 0);
    const at = (minute: number) => new Date(day.getTime() + minute * 60_000);
    const spool = [
      sqlCall('SELECT * FROM public.customers', at(1)),
      sqlCall('SELECT * FROM analytics.daily_revenue d JOIN public.customers c ON true', at(2)),
      { ...sqlCall('', at(3)), server: 'zendesk', params: { name: 'search', arguments: { q: 'refund' } } },
    ];

    it('stores fallback calls with their original times, and the per-user summary counts them', async () => {
      const res = await post('alice', { mode: 'fallback', bridgeVersion: '0.9.0', calls: spool });
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ stored: 3, duplicates: 0 });
      expect(res.json.decisions.map((d: { decision: string }) => d.decision)).toEqual([
        'allow',
        'allow',
        'shadow-deny',
      ]);
      const stored = await rows(spool.map((c) => c.id));
      expect(stored.filter((r) => r.kind === 'intent').map((r) => [r.at, r.outcome])).toEqual([
        [at(1).toISOString(), 'fallback'],
        [at(2).toISOString(), 'fallback'],
        [at(3).toISOString(), 'fallback'],
      ]);

      const summary = await fetch(
        `${gw.url}/api/v1/audit/users/alice/summary?from=${at(0).toISOString()}&to=${at(10).toISOString()}`,
        { headers: { authorization: `Bearer ${await token('frank')}` } },
      );
      expect(summary.status).toBe(200);
      const answer = (await summary.json()) as {
        calls: number;
        servers: Array<{ server: string; calls: number }>;
        resources: Array<{ resource: string; calls: number }>;
      };
      expect(answer.calls).toBe(3);
      expect(answer.servers).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ server: 'postgres-prod', calls: 2 }),
          expect.objectContaining({ server: 'zendesk', calls: 1 }),
        ]),
      );
      expect(answer.resources).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ resource: 'public.customers', calls: 2 }),
          expect.objectContaining({ resource: 'analytics.daily_revenue', calls: 1 }),
        ]),
      );
    });

    it('stores a re-uploaded call once: duplicates are answered stored: false and counted', async () => {
      const again = await post('alice', { mode: 'fallback', calls: spool });
      expect(again.status).toBe(200);
      expect(again.json).toMatchObject({ stored: 0, duplicates: 3 });
      expect(again.json.decisions.map((d: { stored: boolean }) => d.stored)).toEqual([false, false, false]);

      const fresh = sqlCall('SELECT 1', at(4));
      const mixed = await post('alice', { mode: 'fallback', calls: [spool[0], fresh, fresh] });
      expect(mixed.json).toMatchObject({ stored: 1, duplicates: 2 });
      expect(mixed.json.decisions.map((d: { stored: boolean }) => d.stored)).toEqual([false, true, false]);

      const counts = await sql<{ call_id: string; n: number }>(
        gw.databaseUrl,
        `SELECT call_id, count(*)::int AS n FROM audit_event WHERE call_id = ANY($1) GROUP BY call_id`,
        [[...spool.map((c) => c.id), fresh.id]],
      );
      expect(counts.map((c) => c.n)).toEqual([2, 2, 2, 2]);
    });

    it('serialises concurrent uploads of the same spool: each call is stored once', async () => {
      const burst = [sqlCall('SELECT 2', at(5)), sqlCall('SELECT 3', at(6))];
      const answers = await Promise.all(
        Array.from({ length: 5 }, () => post('alice', { mode: 'fallback', calls: burst })),
      );
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
      expect(answers.reduce((n, a) => n + (a.json as IngestResponse).stored, 0)).toBe(2);
      expect(await rows(burst.map((c) => c.id))).toHaveLength(4);
    });

    it('serialises uploads of the same spool across replicas: a second gateway on the same database', async () => {
      const loaded = parseConfigText(
        `server:\n  port: 0\nlog:\n  level: warn\ndatabase:\n  url: "\${DB}"\n${transportDefaults(
          `auth:\n  issuer: ${idp.issuer}\n  audience: ${new URL(gw.url).origin}/mcp\n` +
            `audit:\n  ingest: { inFlightPerPrincipal: 20 }\n` +
            `policy:\n  dir: ${JSON.stringify(policyDir)}\nupstreams:\n  postgres-prod:\n    transport: http\n` +
            `    url: ${upstream.url}\n    tags: { kind: postgres, env: prod }\n`,
        )}`,
        { DB: gw.databaseUrl },
      );
      const second = await startGateway(loaded, {
        logDestination: new Writable({ write: (_c, _e, done) => done() }),
      });
      try {
        const burst = [sqlCall('SELECT 4', at(7)), sqlCall('SELECT 5', at(8)), sqlCall('SELECT 6', at(9))];
        const alice = await token('alice');
        const answers = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            fetch(`${i % 2 === 0 ? gw.url : second.url}${INGEST_PATH}`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', authorization: `Bearer ${alice}` },
              body: JSON.stringify({ mode: 'fallback', calls: burst }),
            }).then(async (r) => ({ status: r.status, body: (await r.json()) as IngestResponse })),
          ),
        );
        expect(answers.map((a) => a.status)).toEqual(Array.from({ length: 10 }, () => 200));
        expect(answers.reduce((n, a) => n + a.body.stored, 0)).toBe(3);
        expect(await rows(burst.map((c) => c.id))).toHaveLength(6);
      } finally {
        await second.close();
      }
    });

    it('keeps shadow and fallback apart, and one principal apart from another', async () => {
      const [first] = spool;
      const asShadow = await post('alice', { mode: 'shadow', calls: [first] });
      expect(asShadow.json).toMatchObject({ stored: 1, duplicates: 0 });
      const asBob = await post('bob', { mode: 'fallback', calls: [first] });
      expect(asBob.json).toMatchObject({ stored: 1, duplicates: 0 });
    });
  });

  describe('refusals', () => {
    const good = () => sqlCall('SELECT 1', minutesAgo(1));

    it('401 without a token or with a bad one, and nothing stored', async () => {
      const call = good();
      const none = await post(undefined, { mode: 'shadow', calls: [call] });
      expect(none.status).toBe(401);
      const bad = await post(
        undefined,
        { mode: 'shadow', calls: [call] },
        { authorization: 'Bearer not-a-token' },
      );
      expect(bad.status).toBe(401);
      expect(await rows([call.id])).toEqual([]);
    });

    it.each<[string, (call: IngestCall) => unknown, string]>([
      [
        'a principal in the body',
        (c) => ({ mode: 'shadow', principal: { subject: 'carol' }, calls: [c] }),
        'body',
      ],
      ['an unknown mode', (c) => ({ mode: 'replay', calls: [c] }), 'mode'],
      ['no calls', () => ({ mode: 'shadow', calls: [] }), 'calls'],
      [
        'a call id that is not a UUID',
        (c) => ({ mode: 'shadow', calls: [c, { ...c, id: 'x1' }] }),
        'calls[1].id',
      ],
      [
        'an unknown method',
        (c) => ({ mode: 'shadow', calls: [{ ...c, method: 'initialize' }] }),
        'calls[0].method',
      ],
      [
        'a tools/call without a name',
        (c) => ({ mode: 'shadow', calls: [{ ...c, params: { arguments: {} } }] }),
        'calls[0].params.name',
      ],
      [
        'a start in the future',
        (c) => ({
          mode: 'fallback',
          calls: [c, { ...c, startedAt: new Date(Date.now() + 5 * 60_000).toISOString() }],
        }),
        'calls[1].startedAt',
      ],
      [
        'a start older than 7 days (audit.ingest.maxAgeHours)',
        (c) => ({
          mode: 'fallback',
          calls: [{ ...c, startedAt: new Date(Date.now() - 8 * 86_400_000).toISOString() }],
        }),
        'calls[0].startedAt',
      ],
      [
        'a server the gateway has no upstream for',
        (c) => ({ mode: 'shadow', calls: [{ ...c, server: 'legacy-crm' }] }),
        'calls[0].server',
      ],
      [
        'a negative duration',
        (c) => ({ mode: 'shadow', calls: [{ ...c, durationMs: -5 }] }),
        'calls[0].durationMs',
      ],
      [
        'an error without its code',
        (c) => ({ mode: 'shadow', calls: [{ ...c, status: 'error', errorCode: undefined }] }),
        'calls[0].errorCode',
      ],
    ])(
      '400 for %s, naming the call and field; nothing of the request is stored',
      async (_what, make, path) => {
        const call = good();
        const res = await post('alice', make(call));
        expect(res.status).toBe(400);
        expect(res.json.error).toMatchObject({ code: 'INVALID_REQUEST' });
        expect(res.json.error.issues.map((i: { path: string }) => i.path)).toContain(path);
        expect(res.json.error.message).toContain(path);
        expect(await rows([call.id])).toEqual([]);
      },
    );

    it('400 for a body that is not JSON, 413 for one over the body limit', async () => {
      expect((await post('alice', '{"mode":')).status).toBe(400);
      const huge = {
        mode: 'shadow',
        calls: [{ ...good(), params: { name: 'q', arguments: { sql: 'x'.repeat(5 * 1024 * 1024) } } }],
      };
      expect((await post('alice', huge)).status).toBe(413);
    });

    it('503 AUDIT_UNAVAILABLE when the audit store is down: nothing acknowledged, nothing stored', async () => {
      const database = new URL(gw.databaseUrl).pathname.slice(1);
      expect(database).toMatch(/^gatehouse_e2e/);
      const call = good();
      await sql(ADMIN_URL, `ALTER DATABASE "${database}" ALLOW_CONNECTIONS false`);
      await sql(ADMIN_URL, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [
        database,
      ]);
      try {
        const res = await post('alice', { mode: 'fallback', calls: [call] });
        expect(res.status).toBe(503);
        expect(res.json.error).toMatchObject({ code: 'AUDIT_UNAVAILABLE' });
      } finally {
        await sql(ADMIN_URL, `ALTER DATABASE "${database}" ALLOW_CONNECTIONS true`);
      }
      expect(await rows([call.id])).toEqual([]);
      // Once the store is back, the same upload is taken.
      let status = 0;
      for (let i = 0; i < 100 && status !== 200; i++) {
        status = (await post('alice', { mode: 'fallback', calls: [call] })).status;
        if (status !== 200) await new Promise((r) => setTimeout(r, 50));
      }
      expect(status).toBe(200);
      expect(await rows([call.id])).toHaveLength(2);
    });
  });

  it('counts ingested calls by mode, decision and result in /metrics', async () => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    expect(text).toMatch(
      /gatehouse_ingested_calls_total\{mode="shadow",decision="deny",result="stored"\} [1-9]/,
    );
    expect(text).toMatch(
      /gatehouse_ingested_calls_total\{mode="fallback",decision="allow",result="duplicate"\} [1-9]/,
    );
  });

  it('leaves a trail whose hash chains verify', async () => {
    const report = await verifyChains(async (text, params) => sql(gw.databaseUrl, text, params));
    expect(report).toMatchObject({ ok: true, broken: [] });
    expect(report.records).toBeGreaterThan(20);
  });

  it('never reaches the upstream', () => {
    expect(upstream.calls).toEqual([]);
    expect(upstream.requests).toHaveLength(upstreamRequestsBefore);
  });
});
