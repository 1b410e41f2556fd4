import { randomUUID } from 'node:crypto';
import { AuditWriter, type AuditRecord } from '@gatehouse/audit';
import { startPager, type AlertLine, type Pager } from '../../../../e2e/bypass/pager';
import { makeTestPki, type TestPki } from '../../../../e2e/support/pki';
import { startRsyslog, type Rsyslog } from '../../../../e2e/support/rsyslog';
import type { BypassService } from '../bypass.service';
import { person, REASON, startBypassService, type BypassFixture } from '../__tests__/support';
import { firstUseId } from './alert';
import { BypassAlerts } from './bypass-alerts.service';

/**
 * The alerter against the real Postgres at 127.0.0.1:5432 (one scratch database, all migrations)
 * with a real HTTPS pager checking the HMAC signature (`bypass.alerts.webhook`) and Debian's
 * rsyslogd as the SIEM (`export.siem.soc`, JSON over RFC 5424). Grants come from the real service, calls from
 * the real audit writer. Several {@link BypassAlerts} on one database stand for replicas and
 * restarts; this file drives their polls itself (`tick`). The built gateway is in
 * e2e/bypass/alerts.spec.ts.
 */

const SECRET = 'whsec_bypass_unit_0123456789abcdef0123456789';
const WINDOW = 60;

/** The intent record of a call under `grantId`, as the audit stage writes it. */
const intent = (grantId: string, subject: string, tool: string, at: Date): AuditRecord => ({
  id: randomUUID(),
  kind: 'intent',
  callId: randomUUID(),
  occurredAt: at,
  outcome: 'bypassed',
  principal: { subject, issuer: 'https://idp.test', kind: 'user', groups: [] },
  client: {},
  server: 'db',
  tool,
  method: 'tools/call',
  decision: 'bypass',
  matchedRules: [],
  touched: [],
  bypassId: grantId,
});

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('BypassAlerts on real Postgres with HTTPS receivers', () => {
  let fixture: BypassFixture;
  let pki: TestPki;
  let pager: Pager;
  let rsyslog: Rsyslog;
  let service: BypassService;
  let writer: AuditWriter;
  const alerters: BypassAlerts[] = [];

  const alerter = () => {
    const a = new BypassAlerts(fixture.db.dataSource, fixture.config, fixture.logger);
    alerters.push(a);
    return a;
  };
  const rows = (id: string) =>
    fixture.db.dataSource.query<
      Array<{ target: string; attempts: number; delivered: boolean; last_error: string | null }>
    >(
      `SELECT target, attempts, delivered_at IS NOT NULL AS delivered, last_error FROM bypass_alert WHERE id = $1 ORDER BY target`,
      [id],
    );

  /** The kinds of `grantId`'s alerts rsyslog wrote, once it wrote `count` of them (a little later, to see no more come). */
  const atTheSiem = async (grantId: string, count: number): Promise<string[]> => {
    const kinds = () =>
      rsyslog
        .parsed()
        .flatMap((m) => {
          try {
            return [JSON.parse(m.msg) as AlertLine];
          } catch {
            return [];
          }
        })
        .filter((a) => a.type === 'alert' && a.grantId === grantId)
        .map((a) => a.kind);
    await until(`${count} alerts of ${grantId} at rsyslog`, async () =>
      kinds().length >= count ? true : undefined,
    );
    return kinds();
  };

  beforeAll(async () => {
    pki = await makeTestPki();
    pager = await startPager(pki, SECRET);
    rsyslog = await startRsyslog();
    fixture = await startBypassService(
      'gh_bypass_alerts_unit',
      `export:
  enabled: true
  siem:
    soc: { type: syslog, host: 127.0.0.1, port: ${rsyslog.port}, format: json }
bypass:
  alerts:
    summarySeconds: ${WINDOW}
    webhook: { url: "${pager.url}", secret: ${SECRET}, caFile: ${JSON.stringify(pki.caCert)} }
`,
    );
    service = fixture.service;
    writer = new AuditWriter(fixture.db.dataSource, { queueSize: 1000, batchSize: 100, flushMs: 0 });
    await writer.start();
  });
  afterAll(async () => {
    for (const a of alerters) await a.beforeApplicationShutdown();
    await writer?.flush();
    await fixture?.close();
    await pager?.close();
    await rsyslog?.remove();
    pki?.remove();
  });

  it('sends opening, approval, first use and a summary once each, however many replicas derive them', async () => {
    const grant = await service.open(
      { reason: REASON, servers: ['db'], everyone: true, requireApproval: true },
      person('erin'),
    );
    await service.approve(grant.id, person('carol'));
    const start = Date.now();
    await writer.append([
      intent(grant.id, 'alice', 'query', new Date(start)),
      ...Array.from({ length: 4 }, (_, i) => intent(grant.id, 'alice', 'query', new Date(start + 10 + i))),
      intent(grant.id, 'bob', 'schema', new Date(start + 20)),
    ]);
    const replicas = [alerter(), alerter(), alerter()];
    // Three replicas derive at once, each closing every window up to two windows from now.
    const later = start + 2 * WINDOW * 1000 + 5_000;
    await Promise.all(replicas.map((r) => r.derive(later)));
    await Promise.all(replicas.map((r) => r.tick()));

    const mine = (kind: string) => pager.of(kind, grant.id);
    expect(mine('bypass_opened')).toHaveLength(1);
    expect(mine('bypass_approved')).toHaveLength(1);
    expect(mine('bypass_first_use')).toEqual([
      expect.objectContaining({ id: firstUseId(grant.id), subject: 'alice' }),
    ]);
    const summaries = mine('bypass_uses_summary');
    expect(summaries.reduce((n, s) => n + (s.count ?? 0), 0)).toBe(6);
    const counted = new Map<string, number>();
    for (const s of summaries)
      for (const u of s.uses ?? [])
        counted.set(
          `${u.subject} ${u.tool ?? ''}`,
          (counted.get(`${u.subject} ${u.tool ?? ''}`) ?? 0) + u.count,
        );
    expect(Object.fromEntries(counted)).toEqual({ 'alice query': 5, 'bob schema': 1 });
    expect(new Set(pager.lines.map((l) => l.id)).size).toBe(pager.lines.length);

    // The SIEM gets the same alerts but the opening, which the export's detector sends it.
    const atSiem = await atTheSiem(grant.id, 2 + summaries.length);
    expect(new Set(atSiem)).toEqual(new Set(['bypass_approved', 'bypass_first_use', 'bypass_uses_summary']));

    // Nothing more to send, whoever polls again.
    const sent = pager.lines.length;
    await Promise.all(replicas.map((r) => r.tick()));
    expect(pager.lines.length).toBe(sent);
  });

  it('retries a pager that refuses until it answers, and a restart in between loses nothing', async () => {
    pager.failing = true;
    const first = alerter();
    const grant = await service.open({ reason: REASON, servers: ['db'], everyone: true }, person('erin'));
    await writer.append([intent(grant.id, 'alice', 'query', new Date())]);
    await first.tick();
    expect(pager.refused).toBeGreaterThan(0);
    const pending = await rows(firstUseId(grant.id));
    expect(pending).toEqual([
      expect.objectContaining({ target: 'pager', attempts: 1, delivered: false }),
      expect.objectContaining({ target: 'siem-soc', attempts: 1, delivered: true }),
    ]);
    expect(pending[0]?.last_error).toMatch(/503/);
    // The replica goes away; a new one takes over once the pager is back.
    await first.beforeApplicationShutdown();
    pager.failing = false;
    const second = alerter();
    await until('the pager to get the first use', async () => {
      await second.tick();
      return pager.of('bypass_first_use', grant.id).length > 0 ? true : undefined;
    });
    expect(pager.of('bypass_opened', grant.id)).toHaveLength(1);
    expect(pager.of('bypass_first_use', grant.id)).toHaveLength(1);
    expect(await rows(firstUseId(grant.id))).toEqual([
      expect.objectContaining({ target: 'pager', attempts: 2, delivered: true, last_error: null }),
      expect.objectContaining({ target: 'siem-soc', delivered: true }),
    ]);
  });

  it('shuts down with a delivery to a hanging pager under way, and the alert it cut off is sent later', async () => {
    pager.hanging = true;
    const grant = await service.open({ reason: REASON, servers: ['db'], everyone: true }, person('erin'));
    const asked = pager.requests;
    const stopping = alerter();
    // Its own poller this time, as in the gateway.
    stopping.onApplicationBootstrap();
    await until('the pager to be asked', async () => (pager.requests > asked ? true : undefined));
    await stopping.beforeApplicationShutdown();
    pager.hanging = false;
    const next = alerter();
    await until('the opening at the pager', async () => {
      await next.tick();
      return pager.of('bypass_opened', grant.id).length > 0 ? true : undefined;
    });
    expect(pager.of('bypass_opened', grant.id)).toHaveLength(1);
  });

  it('alerts a revocation and an expiry to both', async () => {
    const revoked = await service.open({ reason: REASON, servers: ['db'], everyone: true }, person('erin'));
    await service.revoke(revoked.id, person('carol'), 'fixed');
    const lapsed = await service.open(
      { reason: REASON, servers: ['db'], everyone: true, durationSeconds: 1 },
      person('erin'),
    );
    await new Promise((r) => setTimeout(r, 1_100));
    // What the grant cache's sweep writes when a grant lapses.
    await fixture.db.dataSource.query(
      `WITH lapsed AS (UPDATE bypass_grant SET status = 'expired' WHERE id = $1 RETURNING id, expires_at)
       INSERT INTO bypass_event (grant_id, action, actor_subject, actor_name, at, comment)
       SELECT id, 'expire', 'system', 'Gatehouse', expires_at, NULL FROM lapsed`,
      [lapsed.id],
    );
    await alerter().tick();
    expect(pager.of('bypass_revoked', revoked.id)).toEqual([
      expect.objectContaining({
        subject: 'carol',
        message: expect.stringMatching(/revoked by carol: fixed$/) as string,
      }),
    ]);
    expect(await atTheSiem(revoked.id, 1)).toEqual(['bypass_revoked']);
    expect(pager.of('bypass_expired', lapsed.id)).toHaveLength(1);
    expect(await atTheSiem(lapsed.id, 1)).toEqual(['bypass_expired']);
  });
});
