import { randomUUID } from 'node:crypto';
import { createScratchDatabase, DEFAULT_SERVER_URL, type ScratchDatabase } from '@gatehouse/db';
import { startDevIdp, type StartedDevIdp } from '../support/dev-idp';
import { makeTestPki, type TestPki } from '../support/pki';
import { startRsyslog, type Rsyslog } from '../support/rsyslog';
import { eventually, policyDir, SEED_POLICY, Tokens } from '../policy-lifecycle/support';
import { flushPrefix } from '../export/support';
import { spawnGateway, type GatewayProcess } from '../transport/processes';
import { startPager, type AlertLine, type Pager } from './pager';
import { AUDIENCE, bypassApi, callTool, gatewayYaml, REASON, sql } from './support';

const SECRET = 'whsec_bypass_e2e_0123456789abcdef0123456789';
/** A short summary window, so that the test sees summaries close. */
const WINDOW_SECONDS = 4;

/**
 * Break-glass alerts (issue 7 point 5, R51) end to end: two built gateway processes (`npm run
 * build` first) on one scratch database and Redis, with the audit export in process, Debian's
 * rsyslogd as the SIEM (RFC 5424, JSON payloads) and a pager's HTTPS webhook
 * (`bypass.alerts.webhook`, checking the HMAC signature; its CA comes from `caFile`). The opening
 * reaches the SIEM through the export's alert detector (libs/audit/src/export/alerts.ts); the
 * rest, and everything the pager gets, through the bypass alerter (libs/bypass/src/alerts).
 * Under the seed policy nobody may call `everything`, so every call here goes through a grant.
 */
describe('break-glass alerts to a real syslog receiver and a pager, from two replicas', () => {
  const prefix = `t-bypass-${randomUUID().slice(0, 8)}`;
  let idp: StartedDevIdp;
  let tokens: Tokens;
  let db: ScratchDatabase;
  let rsyslog: Rsyslog;
  let pki: TestPki;
  let pager: Pager;
  let config: string;
  let a: GatewayProcess;
  let b: GatewayProcess;

  /** The alerts rsyslog wrote, parsed from the JSON payloads. */
  const atTheSiem = (kind: string, grantId?: string): AlertLine[] =>
    rsyslog
      .parsed()
      .flatMap((m) => {
        try {
          return [JSON.parse(m.msg) as AlertLine];
        } catch {
          return [];
        }
      })
      .filter(
        (l) => l.type === 'alert' && l.kind === kind && (grantId === undefined || l.grantId === grantId),
      );
  const echo = (gw: GatewayProcess, user: string) => callTool(gw, tokens, user, 'echo', { message: 'hi' });
  /** Uses counted by `person tool` over every summary of the grant at one receiver. */
  const counted = (summaries: AlertLine[]) => {
    const total = new Map<string, number>();
    for (const s of summaries)
      for (const u of s.uses ?? []) {
        const key = `${u.subject} ${u.server ?? ''}/${u.tool ?? ''}`;
        total.set(key, (total.get(key) ?? 0) + u.count);
      }
    return Object.fromEntries(total);
  };
  const total = (summaries: AlertLine[]) => summaries.reduce((n, s) => n + (s.count ?? 0), 0);
  /** `gatehouse_bypass_alerts_undelivered{target="pager"}` on one replica (-1 before its first delivery). */
  const pagerBacklog = async (gw: GatewayProcess): Promise<number> => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    const line = /^gatehouse_bypass_alerts_undelivered\{target="pager"\} (\d+)$/m.exec(text);
    return line ? Number(line[1]) : -1;
  };

  beforeAll(async () => {
    idp = await startDevIdp({ resource: AUDIENCE });
    tokens = new Tokens({ issuer: idp.issuer, secrets: idp.secrets, resource: AUDIENCE });
    db = await createScratchDatabase(DEFAULT_SERVER_URL, 'gh_bypass_alerts');
    rsyslog = await startRsyslog();
    pki = await makeTestPki();
    pager = await startPager(pki, SECRET);
    const alerts = [
      '  alerts:',
      `    summarySeconds: ${WINDOW_SECONDS}`,
      `    webhook: { url: "${pager.url}", secret: ${SECRET}, caFile: ${JSON.stringify(pki.caCert)} }`,
      '',
    ].join('\n');
    const exportYaml = [
      'export:',
      '  enabled: true',
      '  inProcess: true',
      `  queuePrefix: ${prefix}`,
      '  relayIntervalMs: 100',
      '  batchMaxWaitMs: 0',
      '  siem:',
      `    soc: { type: syslog, host: 127.0.0.1, port: ${rsyslog.port}, format: json }`,
      '',
    ].join('\n');
    config =
      gatewayYaml(idp, db, policyDir({ 'seed.yaml': SEED_POLICY }), `test-${randomUUID()}:`, alerts) +
      exportYaml;
    [a, b] = await Promise.all([spawnGateway(config), spawnGateway(config)]);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await rsyslog?.remove();
    await pager?.close();
    await db?.drop();
    await idp?.close();
    pki?.remove();
    await flushPrefix(prefix);
  });

  it('sends a bypass_opened alert naming the opener and the grant to the SIEM and the pager as soon as a grant opens', async () => {
    const opened = await bypassApi(a.url, tokens).open('erin', { reason: REASON, servers: ['everything'] });
    expect(opened.status).toBe(201);
    const id = opened.json.id as string;
    const alert = await eventually(
      async () => atTheSiem('bypass_opened').find((l) => l.message.includes(id)),
      30_000,
      'the bypass_opened alert at the SIEM',
    );
    expect(alert).toMatchObject({ subject: 'erin' });
    expect(alert.message).toContain(`bypass/grants/${id}`);
    const paged = await eventually(
      async () => pager.of('bypass_opened', id)[0],
      30_000,
      'the bypass_opened alert at the pager',
    );
    expect(paged).toMatchObject({ id: `bypass_opened-${id}`, subject: 'erin' });
    expect(paged.message).toContain(`bypass/grants/${id}`);
    expect(paged.message).toContain(REASON);
  });

  it('alerts the approval and the first use once however many calls on two replicas, summarises the uses by person and tool, and alerts the revocation', async () => {
    const opened = await bypassApi(a.url, tokens).open('erin', {
      reason: REASON,
      servers: ['everything'],
      tools: ['echo'],
      users: ['alice', 'bob'],
      requireApproval: true,
    });
    expect(opened.json).toMatchObject({ status: 'pending-approval' });
    const id = opened.json.id as string;
    expect((await bypassApi(b.url, tokens).step('carol', id, 'approve')).status).toBe(200);
    await eventually(
      async () => ((await echo(a, 'alice')).error === undefined ? true : undefined),
      2_000,
      'alice allowed on replica A',
    );
    await eventually(
      async () => ((await echo(b, 'alice')).error === undefined ? true : undefined),
      2_000,
      'alice allowed on replica B',
    );
    // Many calls at once on both replicas; the two above make alice's 2.
    const calls = await Promise.all([
      ...Array.from({ length: 6 }, (_, i) => echo(i % 2 === 0 ? a : b, 'alice')),
      ...Array.from({ length: 4 }, (_, i) => echo(i % 2 === 0 ? b : a, 'bob')),
    ]);
    expect(calls.every((c) => c.error === undefined)).toBe(true);
    const [intents] = await sql<{ n: number }>(
      db,
      `SELECT count(*)::int AS n FROM audit_event WHERE bypass_id = $1 AND kind = 'intent'`,
      [id],
    );
    expect(intents?.n).toBe(12);

    // Every use is in some closed window, at both receivers.
    await eventually(
      async () =>
        total(pager.of('bypass_uses_summary', id)) === 12 &&
        total(atTheSiem('bypass_uses_summary', id)) === 12
          ? true
          : undefined,
      30_000,
      'summaries of all 12 calls at the pager and the SIEM',
    );
    expect(counted(pager.of('bypass_uses_summary', id))).toEqual({
      'alice everything/echo': 8,
      'bob everything/echo': 4,
    });
    expect(counted(atTheSiem('bypass_uses_summary', id))).toEqual({
      'alice everything/echo': 8,
      'bob everything/echo': 4,
    });
    for (const summary of pager.of('bypass_uses_summary', id)) {
      expect(summary.message).toMatch(
        new RegExp(`under break-glass bypass bypass/grants/${id} in the ${WINDOW_SECONDS} s from `),
      );
    }
    // Exactly one approval and one first use at each receiver, from two replicas and 12 calls.
    for (const kind of ['bypass_approved', 'bypass_first_use']) {
      expect(pager.of(kind, id)).toHaveLength(1);
      expect(atTheSiem(kind, id)).toHaveLength(1);
    }
    expect(pager.of('bypass_approved', id)[0]).toMatchObject({
      id: `bypass_approved-${id}`,
      subject: 'carol',
    });
    expect(pager.of('bypass_first_use', id)[0]).toMatchObject({
      id: `bypass_first_use-${id}`,
      subject: 'alice',
    });
    expect(atTheSiem('bypass_first_use', id)[0]?.message).toContain('alice called everything/echo');

    // Its end is news too (and leaves alice to the next test's grant).
    expect((await bypassApi(a.url, tokens).step('erin', id, 'revoke', { reason: 'fixed' })).status).toBe(200);
    await eventually(
      async () =>
        pager.of('bypass_revoked', id).length === 1 && atTheSiem('bypass_revoked', id).length === 1
          ? true
          : undefined,
      30_000,
      'the bypass_revoked alert at the pager and the SIEM',
    );
  });

  it('still pages every alert when the pager fails for a while, across a crash of both replicas', async () => {
    pager.failing = true;
    const refusedBefore = pager.refused;
    const opened = await bypassApi(b.url, tokens).open('erin', {
      reason: REASON,
      servers: ['everything'],
      users: ['alice'],
    });
    const id = opened.json.id as string;
    await eventually(
      async () => ((await echo(a, 'alice')).error === undefined ? true : undefined),
      2_000,
      'alice allowed on replica A',
    );
    // The SIEM does not wait for the pager.
    await eventually(
      async () => (atTheSiem('bypass_first_use', id).length === 1 ? true : undefined),
      30_000,
      'the first use at the SIEM while the pager is down',
    );
    await eventually(
      async () => (pager.refused >= refusedBefore + 2 ? true : undefined),
      30_000,
      'the pager refusing two deliveries',
    );
    expect(pager.of('bypass_opened', id)).toEqual([]);
    await eventually(
      async () => ((await pagerBacklog(a)) >= 2 ? true : undefined),
      10_000,
      'the undelivered pager alerts in the metric',
    );
    // Both replicas die; new ones start on the same database, and the pager comes back.
    await Promise.all([a.stop('SIGKILL'), b.stop('SIGKILL')]);
    [a, b] = await Promise.all([spawnGateway(config), spawnGateway(config)]);
    pager.failing = false;
    await eventually(
      async () =>
        pager.of('bypass_opened', id).length === 1 &&
        pager.of('bypass_first_use', id).length === 1 &&
        total(pager.of('bypass_uses_summary', id)) === 1
          ? true
          : undefined,
      60_000,
      'the opening, the first use and the summary at the pager after it came back',
    );
    // And the SIEM's copies are all acknowledged too: nothing is left behind.
    await eventually(
      async () => {
        const [row] = await sql<{ undelivered: number }>(
          db,
          `SELECT count(*)::int AS undelivered FROM bypass_alert WHERE grant_id = $1 AND delivered_at IS NULL`,
          [id],
        );
        return row?.undelivered === 0 ? true : undefined;
      },
      10_000,
      'every alert of the grant delivered to every target',
    );
    await eventually(
      async () => ((await pagerBacklog(b)) === 0 ? true : undefined),
      10_000,
      'the metric back at 0',
    );
  });
});
