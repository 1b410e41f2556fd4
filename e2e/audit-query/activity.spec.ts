import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import {
  AUDIT_SINK,
  AuditQueryService,
  parsePeriod,
  type AuditRecord,
  type AuditSink,
} from '@gatehouse/audit';
import { startDevIdp, type StartedDevIdp } from '../support/dev-idp';
import { api, ROLES, Tokens } from '../policy-lifecycle/support';
import { freePort } from '../transport/processes';
import { auditGateway, intent, outcomeOf, type AuditGateway } from './support';

/**
 * The Activity screen's API (issue 15 points 5–8) against a real gateway on a scratch Postgres,
 * real tokens from the development IdP (`npm run build` first) and records appended through the
 * real audit writer, so the rollup trigger runs as in production. "Now" is fixed with `now=`:
 * Thursday 12 March 2026, 10:00 UTC.
 */

const NOW = '2026-03-12T10:00:00Z';

const named = (r: AuditRecord, name: string, email: string, kind = 'user'): AuditRecord => ({
  ...r,
  principal: { ...r.principal, name, email, kind },
});

// alice on Thursday 5 March (UTC), every kind of call.
const ALLOWED = named(
  intent('alice', '2026-03-05T08:30:00Z', 'postgres-prod', 'query', ['public.orders']),
  'Alice Liddell',
  'alice@example.com',
);
const FAILED = named(
  intent('alice', '2026-03-05T08:40:00Z', 'postgres-prod', 'query', ['public.orders']),
  'Alice Liddell',
  'alice@example.com',
);
const DENIED = named(
  intent('alice', '2026-03-05T09:10:00Z', 'postgres-prod', 'query', ['secret.salaries'], 'denied'),
  'Alice Liddell',
  'alice@example.com',
);
const LIMITED = named(
  intent('alice', '2026-03-05T09:20:00Z', 'github', 'search_code', ['acme/gatehouse'], 'rate_limited'),
  'Alice Liddell',
  'alice@example.com',
);
const BYPASSED = {
  ...named(
    intent('alice', '2026-03-05T13:00:00Z', 'postgres-prod', 'execute', ['public.orders']),
    'Alice Liddell',
    'alice@example.com',
  ),
  outcome: 'bypassed' as const,
  decision: 'bypass',
  bypassId: randomUUID(),
};
const BYPASS_FAILED = {
  ...named(
    intent('alice', '2026-03-05T13:05:00Z', 'postgres-prod', 'execute', ['public.orders']),
    'Alice Liddell',
    'alice@example.com',
  ),
  outcome: 'bypassed' as const,
  decision: 'bypass',
};
const SHADOW = {
  ...named(
    intent('alice', '2026-03-05T15:00:00Z', 'filesystem', 'read_file', ['/srv/a.csv']),
    'Alice Liddell',
    'alice@example.com',
  ),
  outcome: 'shadow_denied' as const,
  decision: 'shadow-deny',
};
const POLICY_ERROR = named(
  intent('alice', '2026-03-05T23:30:00Z', 'memory', 'read_graph', [], 'policy_error'),
  'Alice Liddell',
  'alice@example.com',
);
// An ingested fallback call the policy denies: it ran on the direct server.
const FALLBACK = {
  ...named(
    intent('alice', '2026-03-06T01:00:00Z', 'github', 'get_file_contents', ['acme/gatehouse']),
    'Alice Liddell',
    'alice@example.com',
  ),
  outcome: 'fallback' as const,
  decision: 'deny',
};
const ZOE = named(
  intent('zoe', '2026-03-04T12:00:00Z', 'zendesk', 'search', ['tickets']),
  'Zoë Ünal',
  'zoe@example.com',
);
const PERCENT = named(
  intent('pct', '2026-03-03T12:00:00Z', 'zendesk', 'search', []),
  'Fifty%Off_User',
  'pct@example.com',
);

/** A heavy service account over February: one call every 10 minutes, spread over three tools. */
const SVC_CALLS: AuditRecord[] = Array.from({ length: 28 * 144 }, (_, i) => {
  const at = new Date(Date.UTC(2026, 1, 1) + i * 600_000 + 17_000).toISOString();
  const r = named(
    intent(
      'svc-etl',
      at,
      'warehouse',
      `tool-${i % 3}`,
      [`table-${i % 5}`],
      i % 11 === 0 ? 'denied' : 'allowed',
    ),
    'ETL service',
    'etl@svc.example.com',
    'service',
  );
  return r;
});

const CALLS = [
  ALLOWED,
  FAILED,
  DENIED,
  LIMITED,
  BYPASSED,
  BYPASS_FAILED,
  SHADOW,
  POLICY_ERROR,
  FALLBACK,
  ZOE,
  PERCENT,
];
const RECORDS: AuditRecord[] = [
  ...CALLS.flatMap((c) => {
    const done = outcomeOf(c, c === FAILED || c === BYPASS_FAILED ? 'upstream timed out' : undefined);
    if (c === BYPASS_FAILED) return [c, { ...done, outcome: 'error' as const }];
    if (c === FALLBACK) return [c, { ...done, outcome: 'fallback' as const, errorCode: -32000 }];
    if (c === BYPASSED || c === SHADOW) return [c, { ...done, outcome: 'ok' as const }];
    return [c, done];
  }),
  ...SVC_CALLS,
];

describe('Activity API (principals, period, timeline, verify, rollups)', () => {
  let idp: StartedDevIdp;
  let gw: AuditGateway;
  let tokens: Tokens;
  let db: DataSource;
  const get = async (user: string | undefined, path: string) =>
    api(gw.url, `/api/v1/audit${path}`, { headers: user ? await tokens.as(user) : {} });
  const post = async (user: string | undefined, path: string, body: unknown) =>
    api(gw.url, `/api/v1/audit${path}`, {
      method: 'POST',
      headers: user ? await tokens.as(user) : {},
      body,
    });

  beforeAll(async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    idp = await startDevIdp({ resource: `${base}/mcp`, consoleBase: base });
    gw = await auditGateway(`auth:\n  issuer: ${idp.issuer}\n  audience: ${base}/mcp\n${ROLES}`, port);
    tokens = new Tokens({ issuer: idp.issuer, secrets: idp.secrets, resource: `${base}/mcp` });
    db = gw.app.get(DataSource);
    for (const month of ['2026-02-15', '2026-03-15'])
      await db.query(`SELECT audit_ensure_partition($1)`, [month]);
    const sink = gw.app.get<AuditSink>(AUDIT_SINK);
    // Several appends, so several INSERTs (and both lanes) add to the same rollup rows.
    for (let i = 0; i < RECORDS.length; i += 500) await sink.append(RECORDS.slice(i, i + 500));
  }, 60_000);
  afterAll(async () => {
    await gw?.close();
    await idp?.close();
  });

  const ROUTES: Array<[string, string, unknown?]> = [
    ['GET', '/principals?q=ali'],
    ['GET', '/period?phrase=today'],
    ['GET', `/users/alice/timeline?period=last%20Thursday&now=${NOW}`],
    ['POST', '/verify', { period: 'last Thursday', now: NOW }],
    ['GET', '/rollups/check?from=2026-03-01T00:00:00Z&to=2026-03-10T00:00:00Z'],
  ];

  describe('principals', () => {
    const subjects = async (query: string) => {
      const res = await get('frank', `/principals${query}`);
      expect(res.status).toBe(200);
      return (res.json.principals as Array<{ subject: string }>).map((p) => p.subject);
    };

    it('lists principals seen in the trail, most recently seen first, with name, email, kind, calls and last seen', async () => {
      const res = await get('frank', '/principals?q=ALICE');
      expect(res.json.principals).toEqual([
        {
          subject: 'alice',
          name: 'Alice Liddell',
          email: 'alice@example.com',
          kind: 'user',
          calls: CALLS.filter((c) => c.principal.subject === 'alice').length,
          lastSeenAt: '2026-03-06T01:00:00.005Z',
        },
      ]);
      const seeded = (await subjects('?limit=100')).filter((s) =>
        ['alice', 'zoe', 'pct', 'svc-etl'].includes(s),
      );
      expect(seeded).toEqual(['alice', 'zoe', 'pct', 'svc-etl']);
      expect(await subjects('?limit=1')).toHaveLength(1);
      const svc = (await get('frank', '/principals?q=svc.example')).json.principals[0];
      expect(svc).toMatchObject({ subject: 'svc-etl', kind: 'service', calls: SVC_CALLS.length });
    });

    it('matches subject, name or email case-insensitively, unicode included', async () => {
      expect(await subjects('?q=liddell')).toEqual(['alice']);
      expect(await subjects(`?q=${encodeURIComponent('ZOË ü')}`)).toEqual(['zoe']);
      expect(await subjects('?q=ETL')).toEqual(['svc-etl']);
    });

    it('takes SQL-ish and wildcard text literally, and refuses a huge q or limit with 400', async () => {
      expect(await subjects(`?q=${encodeURIComponent("' OR 1=1 --")}`)).toEqual([]);
      expect(await subjects(`?q=${encodeURIComponent("'); DROP TABLE audit_principal; --")}`)).toEqual([]);
      expect(await subjects('?q=%25')).toEqual(['pct']);
      expect(await subjects('?q=_')).toEqual(['pct']);
      expect(await subjects(`?q=${encodeURIComponent('\\')}`)).toEqual([]);
      for (const query of [`?q=${'a'.repeat(201)}`, '?limit=101', '?limit=0', '?limit=x', '?sort=name']) {
        const res = await get('frank', `/principals${query}`);
        expect([query, res.status, res.json.error.code]).toEqual([query, 400, 'INVALID_REQUEST']);
      }
      expect((await db.query(`SELECT count(*)::int AS n FROM audit_principal`))[0].n).toBeGreaterThan(3);
    });
  });

  describe('period', () => {
    it('resolves phrases as the summary does, in far time zones too', async () => {
      for (const [phrase, tz] of [
        ['last Thursday', 'Pacific/Kiritimati'],
        ['last Thursday', 'Pacific/Pago_Pago'],
        ['yesterday 9-17', 'Asia/Kolkata'],
        ['last week', 'America/St_Johns'],
        ['2026-03-01..2026-03-03', 'Pacific/Kiritimati'],
        ['last 7 days', 'Europe/Berlin'],
      ] as const) {
        const res = await get(
          'frank',
          `/period?phrase=${encodeURIComponent(phrase)}&tz=${encodeURIComponent(tz)}&now=${NOW}`,
        );
        const expected = parsePeriod(phrase, tz, new Date(NOW));
        expect(res.json).toEqual({
          phrase,
          tz,
          from: expected.from.toISOString(),
          to: expected.to.toISOString(),
        });
      }
      // At 10:00 UTC it is already Friday 13 March in Kiritimati (UTC+14): last Thursday is the
      // 12th, which starts at 10:00 UTC on the 11th.
      const kiri = await get('frank', `/period?phrase=last%20Thursday&tz=Pacific/Kiritimati&now=${NOW}`);
      expect([kiri.json.from, kiri.json.to]).toEqual([
        '2026-03-11T10:00:00.000Z',
        '2026-03-12T10:00:00.000Z',
      ]);
      const range = await get('frank', `/period?phrase=2026-03-01..2026-03-03&tz=UTC`);
      expect([range.json.from, range.json.to]).toEqual([
        '2026-03-01T00:00:00.000Z',
        '2026-03-04T00:00:00.000Z',
      ]);
    });

    it('refuses an unreadable phrase with PERIOD_UNREADABLE and suggestions, the summary too; a bad tz is named', async () => {
      for (const path of [
        '/period?phrase=whenever%20it%20suits',
        '/users/alice/summary?period=whenever%20it%20suits',
        '/users/alice/timeline?period=whenever%20it%20suits',
      ]) {
        const res = await get('frank', `${path}&tz=Europe/Berlin&now=${NOW}`);
        expect([path, res.status, res.json.error.code]).toEqual([path, 400, 'PERIOD_UNREADABLE']);
        expect(res.json.error.message).toContain('whenever it suits');
        expect(res.json.error.suggestions).toEqual(
          expect.arrayContaining(['last Thursday', 'yesterday 9-17', 'last week', '2026-03-10..2026-03-12']),
        );
      }
      const tz = await get('frank', '/period?phrase=today&tz=Mars/Olympus');
      expect([tz.status, tz.json.error.code]).toEqual([400, 'INVALID_REQUEST']);
      expect(tz.json.error.message).toContain('Mars/Olympus');
      const missing = await get('frank', '/period');
      expect([missing.status, missing.json.error.code]).toEqual([400, 'INVALID_REQUEST']);
      const huge = await get('frank', `/period?phrase=${'last '.repeat(100)}`);
      expect([huge.status, huge.json.error.code]).toEqual([400, 'INVALID_REQUEST']);
    });
  });

  describe('timeline', () => {
    const total = (buckets: Array<Record<string, number | string>>, series: string) =>
      buckets.reduce((n, b) => n + Number(b[series]), 0);

    it("splits alice's Thursday into 96 quarter hours by decision and outcome", async () => {
      const res = await get(
        'frank',
        '/users/alice/timeline?from=2026-03-05T00:00:00Z&to=2026-03-06T00:00:00Z',
      );
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({
        subject: 'alice',
        bucketSeconds: 900,
        from: '2026-03-05T00:00:00.000Z',
      });
      expect(res.json.buckets).toHaveLength(96);
      // 08:30 allowed, 08:40 allowed and then failed upstream.
      expect(res.json.buckets[34]).toEqual({
        start: '2026-03-05T08:30:00.000Z',
        allowed: 2,
        denied: 0,
        shadow_denied: 0,
        rate_limited: 0,
        bypassed: 0,
        failed: 1,
      });
      expect(res.json.buckets[36]).toMatchObject({ allowed: 0, denied: 1, rate_limited: 0 });
      expect(res.json.buckets[37]).toMatchObject({ denied: 0, rate_limited: 1 });
      expect(res.json.buckets[94]).toMatchObject({ failed: 1 });
      const sums = Object.fromEntries(
        ['allowed', 'denied', 'shadow_denied', 'rate_limited', 'bypassed', 'failed'].map((s) => [
          s,
          total(res.json.buckets, s),
        ]),
      );
      // FAILED and BYPASS_FAILED were forwarded and failed: counted where they were allowed/bypassed and in failed.
      expect(sums).toEqual({
        allowed: 2,
        denied: 1,
        shadow_denied: 1,
        rate_limited: 1,
        bypassed: 2,
        failed: 3,
      });
    });

    it('answers the same from hourly rollups as from the raw trail (a half-hour zone reads raw rows)', async () => {
      const utc = await get('frank', `/users/svc-etl/timeline?period=last%20month&tz=UTC&now=${NOW}`);
      expect(utc.json.bucketSeconds).toBe(43200);
      expect(utc.json.buckets).toHaveLength(56);
      expect(total(utc.json.buckets, 'allowed') + total(utc.json.buckets, 'denied')).toBe(SVC_CALLS.length);
      expect(utc.json.buckets[0]).toMatchObject({ allowed: 65, denied: 7 });
      const india = await get(
        'frank',
        `/users/svc-etl/timeline?period=last%20month&tz=Asia/Kolkata&now=${NOW}`,
      );
      const raw = await db.query<Array<{ n: number }>>(
        `SELECT count(*)::int AS n FROM audit_event WHERE principal_subject = 'svc-etl' AND kind = 'intent'
          AND outcome = 'denied' AND occurred_at >= $1 AND occurred_at < $2`,
        [india.json.from, india.json.to],
      );
      expect(total(india.json.buckets, 'denied')).toBe(raw[0]?.n);
      // Berlin's month starts on an hour: rollups in the middle, raw rows for nothing.
      const berlin = await get(
        'frank',
        `/users/svc-etl/timeline?period=last%20month&tz=Europe/Berlin&now=${NOW}`,
      );
      expect(berlin.json.from).toBe('2026-01-31T23:00:00.000Z');
      expect(total(berlin.json.buckets, 'allowed') + total(berlin.json.buckets, 'denied')).toBe(
        SVC_CALLS.filter((c) => c.occurredAt.getTime() < Date.parse('2026-02-28T23:00:00Z')).length,
      );
    });
  });

  describe('rollups', () => {
    it('agree with the raw trail after mixed writes (failures, bypasses, refusals, ingested calls)', async () => {
      const res = await get('frank', '/rollups/check?from=2026-02-01T00:00:00Z&to=2026-03-10T00:00:00Z');
      expect(res.status).toBe(400);
      const feb = await get('frank', '/rollups/check?from=2026-02-01T00:00:00Z&to=2026-03-01T00:00:00Z');
      expect(feb.json).toEqual({
        ok: true,
        from: '2026-02-01T00:00:00.000Z',
        to: '2026-03-01T00:00:00.000Z',
        mismatches: [],
      });
      const march = await get('frank', '/rollups/check?from=2026-03-01T00:00:00Z&to=2026-03-31T00:00:00Z');
      expect(march.json).toMatchObject({ ok: true, mismatches: [] });
    });

    it('answers the summary from rollups exactly as from the raw trail, for whole days and partial edges', async () => {
      const service = gw.app.get(AuditQueryService);
      const periods = [
        parsePeriod('last month', 'UTC', new Date(NOW)),
        parsePeriod('last month', 'Asia/Kolkata', new Date(NOW)),
        parsePeriod('last Thursday', 'Pacific/Kiritimati', new Date(NOW)),
        parsePeriod('last week', 'America/St_Johns', new Date(NOW)),
        parsePeriod('2026-03-05', 'UTC', new Date(NOW)),
        { from: new Date('2026-02-03T07:13:00Z'), to: new Date('2026-03-05T13:02:00Z'), timeZone: 'UTC' },
      ];
      for (const subject of ['alice', 'svc-etl', 'zoe', 'nobody']) {
        for (const period of periods) {
          const fast = sorted(await service.summary(subject, period));
          const slow = sorted(await service.summaryFromTrail(subject, period));
          expect({ who: subject, at: period.from, summary: fast }).toEqual({
            who: subject,
            at: period.from,
            summary: slow,
          });
        }
      }
      const thursday = await service.summary('alice', parsePeriod('2026-03-05', 'UTC', new Date(NOW)));
      expect(thursday.servers).toEqual(
        expect.arrayContaining([expect.objectContaining({ server: 'postgres-prod', calls: 5, refused: 1 })]),
      );
    });

    it('reports a record written behind the trigger (session_replication_role)', async () => {
      const attacker = new Client({ connectionString: dbUrl(db) });
      await attacker.connect();
      try {
        await attacker.query('SET session_replication_role = replica');
        await attacker.query(
          `INSERT INTO audit_event (id, kind, call_id, occurred_at, outcome, principal_subject, principal_issuer,
             principal_kind, principal_groups, method, server, tool, matched_rules, touched, writer_id, seq, prev_hash, hash)
           VALUES ($1, 'intent', 'x', '2026-02-10T12:00:00Z', 'allowed', 'svc-etl', 'i', 'service', '{}', 'tools/call',
                   'warehouse', 'tool-0', '{}', '{}', $2, 1, '\\x00', '\\x00')`,
          [randomUUID(), randomUUID()],
        );
      } finally {
        await attacker.end();
      }
      const res = await get('frank', '/rollups/check?from=2026-02-01T00:00:00Z&to=2026-03-01T00:00:00Z');
      expect(res.json.ok).toBe(false);
      expect(res.json.mismatches).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            table: 'audit_rollup_day',
            key: 'svc-etl 2026-02-10 tool warehouse tool-0',
          }),
          expect.objectContaining({ table: 'audit_rollup_hour', key: 'svc-etl 2026-02-10T12:00:00.000Z' }),
        ]),
      );
    });
  });

  describe('verify', () => {
    it('verifies a period with the chain verifier, from the record before it, and bounds the work', async () => {
      const res = await post('frank', '/verify', {
        from: '2026-03-05T09:00:00Z',
        to: '2026-03-05T14:00:00Z',
      });
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({
        ok: true,
        checked: 8,
        from: '2026-03-05T09:00:00.000Z',
        to: '2026-03-05T14:00:00.000Z',
        firstId: DENIED.id,
        problems: [],
      });
      expect(Date.parse(res.json.verifiedAt)).toBeGreaterThan(Date.now() - 60_000);
      const phrase = await post('carol', '/verify', {
        period: 'last Thursday',
        tz: 'Europe/Berlin',
        now: NOW,
      });
      expect(phrase.json).toMatchObject({ ok: true, from: '2026-03-04T23:00:00.000Z' });
      const long = await post('frank', '/verify', {
        from: '2026-01-01T00:00:00Z',
        to: '2026-03-01T00:00:00Z',
      });
      expect([long.status, long.json.error.code]).toEqual([413, 'VERIFY_TOO_LARGE']);
      for (const body of [
        { from: 'yesterday' },
        { to: '2026-03-01T00:00:00Z' },
        { period: 'x', from: NOW },
        [1],
      ]) {
        const bad = await post('frank', '/verify', body);
        expect([JSON.stringify(body), bad.status]).toEqual([JSON.stringify(body), 400]);
      }
      const words = await post('frank', '/verify', { period: 'whenever' });
      expect([words.status, words.json.error.code]).toEqual([400, 'PERIOD_UNREADABLE']);
    });

    it('detects a row edited directly in SQL and names it', async () => {
      const attacker = new Client({ connectionString: dbUrl(db) });
      await attacker.connect();
      try {
        await attacker.query('SET session_replication_role = replica');
        await attacker.query(`UPDATE audit_event SET touched = '{public.nothing}' WHERE id = $1`, [
          LIMITED.id,
        ]);
      } finally {
        await attacker.end();
      }
      const res = await post('frank', '/verify', {
        from: '2026-03-05T00:00:00Z',
        to: '2026-03-06T00:00:00Z',
      });
      expect(res.status).toBe(200);
      expect(res.json.ok).toBe(false);
      expect(res.json.problems).toEqual([
        expect.objectContaining({ id: LIMITED.id, reason: 'hash does not match the record: it was edited' }),
      ]);
    });
  });

  it('answers frank (auditor) and carol (admin), refuses alice and erin (403 ROLE_REQUIRED) and no token (401)', async () => {
    for (const [method, path, body] of ROUTES) {
      const call = (user: string | undefined) =>
        method === 'GET' ? get(user, path) : post(user, path, body);
      for (const user of ['frank', 'carol'])
        expect([user, path, (await call(user)).status]).toEqual([user, path, 200]);
      for (const user of ['alice', 'erin']) {
        const res = await call(user);
        expect([user, path, res.status, res.json.error.code]).toEqual([user, path, 403, 'ROLE_REQUIRED']);
      }
      expect([path, (await call(undefined)).status]).toEqual([path, 401]);
    }
  });

  it('records every query as an audit.query admin record by the caller', async () => {
    const rows = await db.query<Array<{ admin_target: string; principal_subject: string; outcome: string }>>(
      `SELECT DISTINCT admin_target, principal_subject FROM audit_event
        WHERE kind = 'admin' AND admin_action = 'audit.query' AND principal_subject IN ('frank', 'carol')
        ORDER BY 1, 2`,
    );
    const targets = new Set(rows.map((r) => r.admin_target));
    for (const target of ['principals', 'period', 'users/alice/timeline', 'verify', 'rollups/check'])
      expect([target, targets.has(target)]).toEqual([target, true]);
    const refused = await db.query<Array<{ n: number }>>(
      `SELECT count(*)::int AS n FROM audit_event WHERE kind = 'admin' AND admin_action = 'audit.query'
        AND principal_subject = 'erin' AND outcome = 'denied'`,
    );
    expect(refused[0]?.n).toBe(ROUTES.length);
    const verify = await db.query<Array<{ arguments: Record<string, unknown> }>>(
      `SELECT arguments FROM audit_event WHERE admin_action = 'audit.query' AND admin_target = 'verify'
        AND principal_subject = 'carol' AND outcome = 'allowed'`,
    );
    expect(verify.map((r) => r.arguments)).toEqual(
      expect.arrayContaining([expect.objectContaining({ period: 'last Thursday', tz: 'Europe/Berlin' })]),
    );
  });
});

/** The scratch database's URL, from the gateway's own connection options. */
function dbUrl(db: DataSource): string {
  const o = db.options as {
    url?: string;
    host?: string;
    port?: number;
    username?: string;
    database?: string;
  };
  return (
    o.url ??
    `postgres://${o.username ?? 'postgres'}@${o.host ?? '127.0.0.1'}:${o.port ?? 5432}/${o.database ?? ''}`
  );
}

/** A summary with its lists in one order (ties in calls and last time may come in any order). */
function sorted<T extends { servers: unknown[]; tools: unknown[]; resources: unknown[] }>(summary: T): T {
  const order = (list: unknown[]) =>
    [...list].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
  return {
    ...summary,
    servers: order(summary.servers),
    tools: order(summary.tools),
    resources: order(summary.resources),
  };
}
