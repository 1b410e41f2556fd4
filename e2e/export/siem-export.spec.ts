import { AuditWriter, ExportRuntime, reconcileStates, type ReconcileState } from '@gatehouse/audit';
import { configSchema } from '@gatehouse/config';
import { createLogger } from '@gatehouse/observability';
import { openAuditDb, record, type AuditDb } from '../audit-store/helpers';
import { startRsyslog, type Rsyslog } from '../support/rsyslog';
import { flushPrefix, queuePrefix, REDIS_URL, waitFor } from './support';

/**
 * The SIEM side of the export against real parts: Postgres, Redis and Debian's rsyslogd (started
 * and stopped by the test, e2e/support/rsyslog.ts) receiving RFC 5424 over TCP with JSON payloads.
 */
describe('audit export to a syslog SIEM (R22, R32, R51)', () => {
  const prefix = queuePrefix('siem');
  let store: AuditDb;
  let rsyslog: Rsyslog;
  let writer: AuditWriter;
  let runtime: ExportRuntime;

  /** Ids (record or alert) rsyslog received, parsed from the JSON payloads. */
  const received = (): string[] =>
    rsyslog.parsed().flatMap((m) => {
      try {
        return [String((JSON.parse(m.msg) as { id: unknown }).id)];
      } catch {
        return [];
      }
    });
  const backlog = async () => (await runtime.backlog()).find((b) => b.sink === 'siem-soc');
  /** Waits for a reconciler pass of the SIEM that began after `since` and satisfies `check`. */
  const pass = async (what: string, since: number, check: (s: ReconcileState) => boolean) => {
    let found: ReconcileState | undefined;
    await waitFor(
      what,
      async () => {
        const s = (await reconcileStates((sql, params) => store.sql(sql, params))).get('siem-soc');
        if (s && s.periodTo.getTime() > since && check(s)) found = s;
        return found !== undefined;
      },
      60_000,
    );
    if (!found) throw new Error(what);
    return found;
  };

  beforeAll(async () => {
    store = await openAuditDb('audit_export_siem');
    rsyslog = await startRsyslog();
    writer = new AuditWriter(store.db.dataSource, { queueSize: 1000, batchSize: 10, flushMs: 1 });
    await writer.start();
    const config = configSchema.parse({
      redis: { url: REDIS_URL },
      export: {
        enabled: true,
        queuePrefix: prefix,
        relayIntervalMs: 100,
        batchSize: 10,
        batchMaxWaitMs: 0,
        backoffMs: 200,
        attempts: 30,
        alerts: { denyBurst: 3, rateLimitStorm: 3, windowSeconds: 3600 },
        reconcile: { intervalSeconds: 1, lookbackHours: 1, gapAlertSeconds: 2 },
        siem: { soc: { type: 'syslog', host: '127.0.0.1', port: rsyslog.port, format: 'json' } },
      },
    }).export;
    runtime = new ExportRuntime({
      dataSource: store.db.dataSource,
      redisUrl: REDIS_URL,
      config,
      logger: createLogger('silent'),
      roles: { relay: true, processors: true },
    });
    await runtime.start();
  });

  afterAll(async () => {
    await runtime.stop();
    await writer.flush();
    await rsyslog.remove();
    await store.close();
    await flushPrefix(prefix);
  });

  it('delivers every record at least once across a receiver outage: the gap alert while it is down, then counts match with no gap (R22)', async () => {
    const first = Array.from({ length: 25 }, () => record());
    await writer.append(first);
    await waitFor('the first records at the SIEM', async () => (await backlog())?.undelivered === 0);

    await rsyslog.stop();
    const during = Array.from({ length: 25 }, () => record());
    await writer.append(during);
    await waitFor('a failed delivery', async () => (await backlog())?.lastError !== null);
    expect((await backlog())?.undelivered).toBeGreaterThan(0);
    // Down for longer than the gap threshold: the reconciler, comparing with the acknowledgements, alerts.
    const down = await pass('the gap alert while the receiver is down', Date.now(), (s) => s.gapAlert);
    expect(down).toMatchObject({ source: 'acknowledgements', error: null });
    expect(down.missingRecords).toBeGreaterThanOrEqual(25);

    await rsyslog.start();
    await waitFor('the SIEM to catch up', async () => (await backlog())?.undelivered === 0, 60_000);
    await waitFor('rsyslog to write everything', () => {
      const ids = new Set(received());
      return [...first, ...during].every((r) => ids.has(r.id));
    });
    const records = Number((await store.sql(`SELECT count(*)::int AS n FROM audit_event`))[0]?.n);
    const back = await pass('a pass with every record acknowledged', Date.now(), (s) => !s.gapAlert);
    expect(back).toMatchObject({ postgresRecords: records, heldRecords: records, missingRecords: 0 });
    const [mark] = await store.sql(
      `SELECT sum(acked_seq)::int AS acked FROM audit_export_cursor WHERE sink = 'siem-soc'`,
    );
    expect(mark?.acked).toBe(records);
    expect(new Set(received()).size).toBeGreaterThanOrEqual(records);
  });

  it('sends a bypass opened, a burst of denies and a rate-limit storm as alerts at once, with deterministic ids', async () => {
    const opened = record({
      kind: 'admin',
      outcome: 'ok',
      adminAction: 'bypass.open',
      adminTarget: 'grant-7',
    });
    const denies = Array.from({ length: 3 }, () =>
      record({
        kind: 'intent',
        outcome: 'denied',
        principal: {
          subject: 'mallory',
          issuer: 'https://idp.example.com',
          kind: 'user',
          groups: [],
        },
      }),
    );
    const limited = Array.from({ length: 3 }, (_, i) =>
      record({
        kind: 'intent',
        outcome: 'rate_limited',
        principal: { subject: `caller-${i}`, issuer: 'https://idp.example.com', kind: 'user', groups: [] },
      }),
    );
    await writer.append([opened, ...denies, ...limited]);
    await waitFor('the three alerts at the SIEM', () => {
      const ids = received();
      return (
        ids.includes(`bypass_opened-${opened.id}`) &&
        ids.some((id) => id.startsWith('deny_burst-mallory-')) &&
        ids.some((id) => id.startsWith('rate_limit_storm-'))
      );
    });
    const alerts = rsyslog
      .parsed()
      .map(
        (m) =>
          JSON.parse(m.msg) as {
            type: string;
            id: string;
            kind?: string;
            count?: number;
            recordIds?: string[];
          },
      )
      .filter((e) => e.type === 'alert');
    const bypass = alerts.find((a) => a.id === `bypass_opened-${opened.id}`);
    expect(bypass).toMatchObject({ kind: 'bypass_opened', recordIds: [opened.id] });
    const burst = alerts.find((a) => a.id.startsWith('deny_burst-mallory-'));
    expect(burst?.recordIds).toEqual(expect.arrayContaining(denies.map((d) => d.id)));
    // Three callers rate-limited in one window: a storm across principals, one alert for the window.
    const storms = alerts.filter((a) => a.id.startsWith('rate_limit_storm-'));
    expect(new Set(storms.map((a) => a.id)).size).toBe(1);
    expect(storms[0]).toMatchObject({ kind: 'rate_limit_storm', count: 3 });
    expect(storms[0]?.recordIds).toEqual(expect.arrayContaining(limited.map((r) => r.id)));
  });
});
