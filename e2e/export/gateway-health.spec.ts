import { DataSource } from 'typeorm';
import { AUDIT_SINK, type AuditSink } from '@gatehouse/audit';
import { Metrics } from '@gatehouse/observability';
import { record } from '../audit-store/helpers';
import { auditGateway, type AuditGateway } from '../audit-query/support';
import { api, ROLES, Tokens } from '../policy-lifecycle/support';
import { startDevIdp, type StartedDevIdp } from '../support/dev-idp';
import { freePort } from '../transport/processes';
import { startS3Server, type S3Server } from './s3-server';
import { ed25519Pem, flushPrefix, queuePrefix, REDIS_URL, waitFor } from './support';

/**
 * The export inside a real gateway (`export.inProcess`, Fastify, scratch Postgres, Redis, s3rver,
 * real tokens from the development IdP): health for auditors and admins, and R31/R32 — with S3
 * refusing everything, audited requests are still answered and recorded, the backlog and the last
 * error show in health and /metrics, and the export catches up once S3 is back.
 */
describe('export health in the gateway (R31, R32)', () => {
  const prefix = queuePrefix('gwhealth');
  let idp: StartedDevIdp;
  let gw: AuditGateway;
  let tokens: Tokens;
  let s3: S3Server;
  const get = async (user: string, path: string) => api(gw.url, path, { headers: await tokens.as(user) });
  const s3Health = async () => {
    const answer = await get('frank', '/api/v1/export/health');
    return (answer.json as { sinks: Array<Record<string, unknown>> }).sinks.find((s) => s.sink === 's3');
  };

  beforeAll(async () => {
    // The gateway's S3 client takes credentials from the AWS default chain; these are s3rver's.
    process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
    process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
    s3 = await startS3Server();
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    idp = await startDevIdp({ resource: `${base}/mcp`, consoleBase: base });
    gw = await auditGateway(
      [
        `auth:\n  issuer: ${idp.issuer}\n  audience: ${base}/mcp\n${ROLES}`,
        `redis:\n  url: ${REDIS_URL}`,
        'export:',
        '  enabled: true',
        `  queuePrefix: ${prefix}`,
        '  relayIntervalMs: 100',
        '  batchSize: 5',
        '  batchMaxWaitMs: 0',
        '  backoffMs: 100',
        '  lagAlertSeconds: 1',
        '  reconcile: { intervalSeconds: 1, gapAlertSeconds: 1 }',
        `  s3: { bucket: ${s3.bucket}, endpoint: ${JSON.stringify(s3.endpoint)}, forcePathStyle: true, retentionDays: 30 }`,
        `  checkpoints:\n    intervalSeconds: 3600\n    signingKey: ${JSON.stringify(ed25519Pem().privatePem)}`,
        '',
      ].join('\n'),
      port,
    );
    tokens = new Tokens({ issuer: idp.issuer, secrets: idp.secrets, resource: `${base}/mcp` });
  });

  afterAll(async () => {
    await gw?.close();
    await idp?.close();
    await s3?.close();
    await flushPrefix(prefix);
  });

  it('shows auditors and admins each sink, and refuses everyone else', async () => {
    expect((await get('frank', '/api/v1/export/health')).status).toBe(200);
    expect((await get('carol', '/api/v1/export/health')).status).toBe(200);
    const alice = await get('alice', '/api/v1/export/health');
    expect(alice.status).toBe(403);
    const health = (await get('frank', '/api/v1/export/health')).json as Record<string, unknown>;
    expect(health).toMatchObject({
      enabled: true,
      lagAlertSeconds: 1,
      gapAlertSeconds: 1,
      sinks: [expect.objectContaining({ sink: 's3', acknowledgement: expect.stringMatching(/PUT/) })],
    });
  });

  it('keeps answering and recording while S3 is down, shows the backlog and the alert, and catches up', async () => {
    s3.failing = true;
    const sink = gw.app.get<AuditSink>(AUDIT_SINK);
    const old = new Date(Date.now() - 5_000);
    await sink.append(Array.from({ length: 12 }, () => record({ occurredAt: old })));
    // Audited requests (each query is an admin record) are answered while S3 refuses everything.
    for (let i = 0; i < 5; i += 1)
      expect((await get('frank', '/api/v1/audit/events?limit=1')).status).toBe(200);
    await waitFor('the lag alert with S3 failing', async () => {
      const s = await s3Health();
      return s?.alerting === true && /HTTP 503/.test(String(s.lastError)) && Number(s.undelivered) >= 12;
    });
    // The reconciler (R22): the bucket cannot be listed, and records older than 1 s are not acknowledged.
    await waitFor('the gap alert in health', async () => {
      const r = (await s3Health())?.reconcile as Record<string, unknown> | null;
      return r?.gapAlert === true && r.source === 'acknowledgements' && Number(r.missingRecords) >= 12;
    });
    const metrics = await gw.app.get(Metrics).registry.metrics();
    expect(metrics).toMatch(/gatehouse_export_lag_alert\{sink="s3"\} 1/);
    expect(metrics).toMatch(/gatehouse_export_undelivered_records\{sink="s3"\} [1-9]/);
    expect(metrics).toMatch(/gatehouse_export_gap_alert\{sink="s3"\} 1/);
    expect(metrics).toMatch(/gatehouse_export_missing_records\{sink="s3"\} [1-9]/);
    expect(metrics).toMatch(/gatehouse_export_lag_seconds\{sink="s3"\} [1-9]/);
    const failing = await s3Health();
    expect(failing).toMatchObject({ lastError: expect.stringMatching(/HTTP 503/) });
    expect(Date.parse(String(failing?.lastErrorAt))).not.toBeNaN();

    s3.failing = false;
    await waitFor('the export to catch up', async () => Number((await s3Health())?.undelivered) === 0);
    const s = await s3Health();
    expect(s).toMatchObject({ alerting: false, lagSeconds: 0, deadLetters: [] });
    // The last success is after S3 came back, in health and as a metric.
    const lastSuccess = Date.parse(String(s?.lastSuccessAt));
    expect(lastSuccess).toBeGreaterThan(Date.parse(String(failing?.lastErrorAt)));
    // The gauges share one read per scrape for 500 ms: wait for a scrape after the catch-up.
    let after = '';
    await waitFor('the last success in /metrics', async () => {
      after = await gw.app.get(Metrics).registry.metrics();
      const seconds = /gatehouse_export_last_success_timestamp_seconds\{sink="s3"\} (\S+)/.exec(after)?.[1];
      // Audited requests keep adding records, so the metric may already show a later success.
      return Number(seconds) >= lastSuccess / 1000;
    });
    expect(after).toMatch(/gatehouse_export_dead_letters\{sink="s3"\} 0/);
    await waitFor('the gap alert to clear', async () => {
      const r = (await s3Health())?.reconcile as Record<string, unknown> | null;
      return r?.gapAlert === false && r.source === 'bucket' && r.error === null;
    });
    expect(await gw.app.get(Metrics).registry.metrics()).toMatch(/gatehouse_export_gap_alert\{sink="s3"\} 0/);
    const rows = await gw.app
      .get(DataSource)
      .query<Array<{ n: number }>>(`SELECT count(*)::int AS n FROM audit_event`);
    expect(Number(rows[0]?.n)).toBeGreaterThanOrEqual(17);
  });
});
