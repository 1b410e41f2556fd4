import { DataSource } from 'typeorm';
import { AUDIT_OUTCOMES, AUDIT_SINK, type AuditRecord, type AuditSink } from '@gatehouse/audit';
import { startDevIdp, type StartedDevIdp } from '../support/dev-idp';
import { api, ROLES, Tokens } from '../policy-lifecycle/support';
import { freePort } from '../transport/processes';
import { auditGateway, intent, outcomeOf, type AuditGateway } from './support';

/**
 * The audit query API against a real gateway (Fastify, scratch Postgres with the audit_event
 * migration), real tokens from the development IdP (`npm run build` first) and rows appended
 * through the real audit writer. "Now" is fixed with `now=`: Thursday 12 March 2026, 10:00 UTC.
 */

const NOW = '2026-03-12T10:00:00Z';

// alice's week. Berlin is UTC+1: Thursday 5 March in Berlin is 2026-03-04T23:00Z to 2026-03-05T23:00Z.
const ORDERS = intent('alice', '2026-03-05T08:30:00Z', 'postgres-prod', 'query', ['public.orders']);
const ORDERS_CUSTOMERS = intent('alice', '2026-03-05T14:00:00Z', 'postgres-prod', 'query', [
  'public.orders',
  'public.customers',
]);
const SALARIES = intent(
  'alice',
  '2026-03-05T16:00:00Z',
  'postgres-prod',
  'query',
  ['secret.salaries'],
  'denied',
);
// 00:30 on Friday in Berlin, still Thursday in UTC.
const REPORT = intent('alice', '2026-03-05T23:30:00Z', 'filesystem', 'read_file', ['/srv/reports/q1.csv']);
// Yesterday (Wednesday 11 March) in Berlin: 08:30 (before 9), 11:00, 17:30 (after 17).
const EARLY = intent('alice', '2026-03-11T07:30:00Z', 'github', 'search_code', ['acme/gatehouse']);
const MIDDAY = intent('alice', '2026-03-11T10:00:00Z', 'github', 'get_file_contents', ['acme/gatehouse']);
const LATE = intent('alice', '2026-03-11T16:30:00Z', 'memory', 'read_graph', []);
const BOB = intent('bob', '2026-03-05T10:00:00Z', 'zendesk', 'search', ['tickets']);

const CALLS = [ORDERS, ORDERS_CUSTOMERS, SALARIES, REPORT, EARLY, MIDDAY, LATE, BOB];
const RECORDS: AuditRecord[] = CALLS.flatMap((c) => [
  c,
  outcomeOf(c, c === MIDDAY ? 'upstream said "no", twice\nthen gave up' : undefined),
]);

describe('audit query API', () => {
  let idp: StartedDevIdp;
  let gw: AuditGateway;
  let tokens: Tokens;
  let sink: AuditSink;
  const get = async (user: string | undefined, path: string) =>
    api(gw.url, `/api/v1/audit${path}`, { headers: user ? await tokens.as(user) : {} });

  beforeAll(async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    idp = await startDevIdp({ resource: `${base}/mcp`, consoleBase: base });
    gw = await auditGateway(`auth:\n  issuer: ${idp.issuer}\n  audience: ${base}/mcp\n${ROLES}`, port);
    tokens = new Tokens({ issuer: idp.issuer, secrets: idp.secrets, resource: `${base}/mcp` });
    const db = gw.app.get(DataSource);
    for (const month of ['2026-02-15', '2026-03-15'])
      await db.query(`SELECT audit_ensure_partition($1)`, [month]);
    sink = gw.app.get<AuditSink>(AUDIT_SINK);
    await sink.append(RECORDS);
    // Scratch database, every migration and the IdP: more than 5 s on a loaded machine.
  }, 30_000);
  afterAll(async () => {
    await gw?.close();
    await idp?.close();
  });

  it('lets frank (auditor) and carol (admin) ask, refuses alice (403 ROLE_REQUIRED) and callers without a token (401)', async () => {
    expect((await get('frank', '/events?limit=1')).status).toBe(200);
    expect((await get('carol', '/events?limit=1')).status).toBe(200);
    const alice = await get('alice', '/events?user=alice');
    expect(alice.status).toBe(403);
    expect(alice.json.error.code).toBe('ROLE_REQUIRED');
    expect((await get('alice', '/users/alice/summary')).status).toBe(403);
    expect((await get('alice', '/events.csv')).status).toBe(403);
    expect((await get(undefined, '/events')).status).toBe(401);
  });

  it('filters events by user, server, tool, kind, outcome, decision and time, newest first', async () => {
    const q = await get('frank', '/events?user=alice&server=postgres-prod&kind=intent');
    expect(q.status).toBe(200);
    expect(q.json.events.map((e: { id: string }) => e.id)).toEqual([
      SALARIES.id,
      ORDERS_CUSTOMERS.id,
      ORDERS.id,
    ]);
    expect(q.json.nextCursor).toBeNull();
    expect(q.json.events[0]).toMatchObject({
      kind: 'intent',
      callId: SALARIES.callId,
      occurredAt: '2026-03-05T16:00:00.000000Z',
      outcome: 'denied',
      principal: { subject: 'alice', groups: ['data-platform'] },
      client: { name: 'claude-code', version: '2.1.0' },
      server: 'postgres-prod',
      tool: 'query',
      touched: ['secret.salaries'],
      matchedRules: ['data-platform-reads'],
      policyVersion: 1,
    });
    expect(q.json.events[0].hash).toMatch(/^[0-9a-f]{64}$/);

    const ids = async (query: string) =>
      ((await get('frank', `/events?${query}`)).json.events as Array<{ id: string }>).map((e) => e.id);
    expect(await ids('outcome=denied&kind=intent')).toEqual([SALARIES.id]);
    expect(await ids('decision=deny&kind=intent')).toEqual([SALARIES.id]);
    expect(await ids('user=bob&kind=intent')).toEqual([BOB.id]);
    expect(await ids('tool=get_file_contents&kind=outcome')).toHaveLength(1);
    expect(await ids('user=alice&kind=intent&from=2026-03-11T00:00:00Z&to=2026-03-11T10:00:00Z')).toEqual([
      EARLY.id,
    ]);
    expect(await ids('server=github&from=2026-03-11T10:00:00Z&kind=intent')).toEqual([MIDDAY.id]);
  });

  it('pages with a keyset cursor: every row once, in order, even while newer rows arrive between pages', async () => {
    const all = (await get('frank', '/events?user=alice&limit=1000')).json.events as Array<{
      id: string;
      kind: string;
    }>;
    // Her 7 calls (intent and outcome each) and her 3 refused audit queries above (denied admin records).
    expect(all.filter((e) => e.kind !== 'admin')).toHaveLength(14);
    expect(all.filter((e) => e.kind === 'admin')).toHaveLength(3);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await get('frank', `/events?user=alice&limit=4${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      seen.push(...(page.json.events as Array<{ id: string }>).map((e) => e.id));
      cursor = page.json.nextCursor as string | null;
      pages += 1;
      // New calls land while the auditor is paging (as they would on a live gateway).
      await sink.append([intent('alice', new Date().toISOString(), 'github', 'search_code', [])]);
    } while (cursor);
    expect(pages).toBe(5);
    expect(seen).toEqual(all.map((e) => e.id));
  });

  it('filters by every outcome the trail writes (shadow and fallback included)', async () => {
    for (const outcome of AUDIT_OUTCOMES) {
      const res = await get('frank', `/events?outcome=${outcome}&limit=1`);
      expect([outcome, res.status]).toEqual([outcome, 200]);
    }
  });

  it('refuses a limit above 1000, a cursor it never gave out and unknown parameters with 400 INVALID_REQUEST', async () => {
    for (const query of ['limit=1001', 'cursor=bm9wZQ', 'usr=alice', 'outcome=maybe', 'from=yesterday']) {
      const res = await get('frank', `/events?${query}`);
      expect([query, res.status, res.json.error.code]).toEqual([query, 400, 'INVALID_REQUEST']);
    }
  });

  it('summarises what alice touched last Thursday in Berlin: servers, tools and tables with counts, refusals and first/last, and states the interval', async () => {
    const res = await get(
      'frank',
      `/users/alice/summary?period=${encodeURIComponent('last Thursday')}&tz=Europe/Berlin&now=${NOW}`,
    );
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      subject: 'alice',
      period: {
        from: '2026-03-04T23:00:00.000Z',
        to: '2026-03-05T23:00:00.000Z',
        timeZone: 'Europe/Berlin',
        phrase: 'last Thursday',
      },
      calls: 3,
      servers: [
        {
          server: 'postgres-prod',
          calls: 3,
          refused: 1,
          first: '2026-03-05T08:30:00.000000Z',
          last: '2026-03-05T16:00:00.000000Z',
        },
      ],
      tools: [
        {
          server: 'postgres-prod',
          tool: 'query',
          calls: 3,
          refused: 1,
          first: '2026-03-05T08:30:00.000000Z',
          last: '2026-03-05T16:00:00.000000Z',
        },
      ],
      resources: [
        {
          server: 'postgres-prod',
          resource: 'public.orders',
          calls: 2,
          refused: 0,
          first: '2026-03-05T08:30:00.000000Z',
          last: '2026-03-05T14:00:00.000000Z',
        },
        {
          server: 'postgres-prod',
          resource: 'secret.salaries',
          calls: 1,
          refused: 1,
          first: '2026-03-05T16:00:00.000000Z',
          last: '2026-03-05T16:00:00.000000Z',
        },
        {
          server: 'postgres-prod',
          resource: 'public.customers',
          calls: 1,
          refused: 0,
          first: '2026-03-05T14:00:00.000000Z',
          last: '2026-03-05T14:00:00.000000Z',
        },
      ],
    });
  });

  it('reads the same phrase in UTC as another interval (the file read at 23:30 UTC is Thursday there)', async () => {
    const res = await get('frank', `/users/alice/summary?period=last%20Thursday&now=${NOW}`);
    expect(res.json.period).toMatchObject({
      from: '2026-03-05T00:00:00.000Z',
      to: '2026-03-06T00:00:00.000Z',
      timeZone: 'UTC',
    });
    expect(res.json.calls).toBe(4);
    expect(res.json.resources).toContainEqual(
      expect.objectContaining({ server: 'filesystem', resource: '/srv/reports/q1.csv', calls: 1 }),
    );
  });

  it('reads "yesterday 9-17" in Berlin as 08:00–16:00 UTC on Wednesday: only the midday call', async () => {
    const res = await get(
      'frank',
      `/users/alice/summary?period=yesterday%209-17&tz=Europe/Berlin&now=${NOW}`,
    );
    expect(res.json.period).toMatchObject({
      from: '2026-03-11T08:00:00.000Z',
      to: '2026-03-11T16:00:00.000Z',
    });
    expect(res.json.calls).toBe(1);
    expect(res.json.tools).toEqual([
      expect.objectContaining({ server: 'github', tool: 'get_file_contents', calls: 1 }),
    ]);
    expect(res.json.resources).toEqual([expect.objectContaining({ resource: 'acme/gatehouse', calls: 1 })]);
  });

  it('takes explicit from/to, and refuses an unknown time zone or an unreadable phrase with 400', async () => {
    const res = await get('frank', '/users/bob/summary?from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z');
    expect(res.json).toMatchObject({
      calls: 1,
      period: { phrase: null },
      servers: [{ server: 'zendesk', calls: 1 }],
    });
    const tz = await get('frank', '/users/alice/summary?period=today&tz=Mars/Olympus');
    expect([tz.status, tz.json.error.code]).toEqual([400, 'INVALID_REQUEST']);
    expect(tz.json.error.message).toContain('unknown time zone "Mars/Olympus"');
    const words = await get('frank', '/users/alice/summary?period=whenever');
    expect([words.status, words.json.error.code]).toEqual([400, 'PERIOD_UNREADABLE']);
    expect(words.json.error.message).toContain('cannot read the period "whenever"');
    expect(words.json.error.suggestions).toEqual(expect.arrayContaining(['last Thursday', 'yesterday 9-17']));
  });

  it('exports CSV with a header and one properly escaped line per event', async () => {
    const res = await fetch(`${gw.url}/api/v1/audit/events.csv?user=alice&tool=get_file_contents`, {
      headers: await tokens.as('frank'),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/csv');
    const text = await res.text();
    const lines = text.split('\r\n');
    expect(lines[0]).toMatch(/^occurred_at,id,kind,call_id,outcome,principal_subject,/);
    // Two records plus the header and the empty string after the last CRLF; the quoted newline stays inside its field.
    expect(text).toContain('"upstream said ""no"", twice\nthen gave up"');
    expect(lines[1]).toMatch(/^2026-03-11T10:00:00\.005000Z,[0-9a-f-]{36},outcome,/);
    expect(text.match(/\r\n/g)).toHaveLength(3);
  });

  it('exports JSONL: one event per line, every alice row, newest first', async () => {
    const res = await fetch(
      `${gw.url}/api/v1/audit/events.jsonl?user=alice&kind=intent&to=2026-03-12T00:00:00Z`,
      {
        headers: await tokens.as('carol'),
      },
    );
    expect(res.status).toBe(200);
    const lines = (await res.text())
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: string });
    expect(lines.map((e) => e.id)).toEqual(
      [LATE, MIDDAY, EARLY, REPORT, SALARIES, ORDERS_CUSTOMERS, ORDERS].map((c) => c.id),
    );
  });

  it('records every query as an audit.query admin record by the caller before answering', async () => {
    const res = await get(
      'frank',
      '/users/bob/summary?period=last%20week&tz=Europe/Berlin&now=2026-03-12T10:00:00Z',
    );
    expect(res.status).toBe(200);
    const rows = await gw.app.get(DataSource).query<Array<Record<string, unknown>>>(
      `SELECT principal_subject, principal_name, admin_target, arguments FROM audit_event
        WHERE kind = 'admin' AND admin_action = 'audit.query' AND admin_target = 'users/bob/summary'
          AND arguments->>'period' = 'last week'`,
    );
    expect(rows).toEqual([
      {
        principal_subject: 'frank',
        principal_name: 'Frank Fischer',
        admin_target: 'users/bob/summary',
        arguments: expect.objectContaining({
          period: 'last week',
          tz: 'Europe/Berlin',
          from: '2026-03-01T23:00:00.000Z',
          to: '2026-03-08T23:00:00.000Z',
        }),
      },
    ]);
    const exports = await gw.app
      .get(DataSource)
      .query<Array<{ admin_target: string }>>(
        `SELECT DISTINCT admin_target FROM audit_event WHERE admin_action = 'audit.query' ORDER BY 1`,
      );
    expect(exports.map((r) => r.admin_target)).toEqual(
      expect.arrayContaining(['events', 'events.csv', 'events.jsonl', 'users/alice/summary']),
    );
  });
});
