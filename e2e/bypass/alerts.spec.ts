import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { createScratchDatabase, DEFAULT_SERVER_URL, type ScratchDatabase } from '@gatehouse/db';
import { startDevIdp, type StartedDevIdp } from '../support/dev-idp';
import { makeTestPki, type TestPki } from '../support/pki';
import { startRsyslog, type Rsyslog } from '../support/rsyslog';
import { eventually, policyDir, SEED_POLICY, Tokens } from '../policy-lifecycle/support';
import { flushPrefix } from '../export/support';
import { spawnGateway, type GatewayProcess } from '../transport/processes';
import { AUDIENCE, bypassApi, gatewayYaml, REASON } from './support';

const SECRET = 'whsec_bypass_e2e_0123456789abcdef0123456789';

/**
 * A pager's webhook receiver, written from docs/siem.md: HTTPS, HMAC-SHA256 over `<t>.<body>` in
 * `gatehouse-signature`, JSON lines. Keeps the lines of every verified delivery.
 */
async function startPager(pki: TestPki): Promise<{ url: string; lines: string[]; close(): Promise<void> }> {
  const lines: string[] = [];
  const server: Server = createServer(
    { cert: readFileSync(pki.server.cert), key: readFileSync(pki.server.key) },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const parts = new Map(
          String(req.headers['gatehouse-signature'] ?? '')
            .split(',')
            .map((p) => p.split('=', 2) as [string, string]),
        );
        const expected = createHmac('sha256', SECRET)
          .update(`${parts.get('t') ?? ''}.`)
          .update(body)
          .digest();
        const given = Buffer.from(parts.get('v1') ?? '', 'hex');
        if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
          res.writeHead(400).end('bad signature');
          return;
        }
        lines.push(
          ...body
            .toString('utf8')
            .split('\n')
            .filter((l) => l !== ''),
        );
        res.writeHead(204).end();
      });
    },
  );
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `https://localhost:${port}/pager`,
    lines,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}

/**
 * Opening a grant alerts the SIEM (issue 7 point 5, R51) end to end: the built gateway with the
 * audit export in process, Redis for its queues, and Debian's rsyslogd as the SIEM receiving
 * RFC 5424 with JSON payloads, and a pager's HTTPS webhook (the gateway trusts the test CA through
 * NODE_EXTRA_CA_CERTS). The alert comes from the `bypass.open` admin record the bypass API
 * writes; the export's alert detector (libs/audit/src/export/alerts.ts) turns it into one.
 */
describe('break-glass alerts to a real syslog receiver', () => {
  const prefix = `t-bypass-${randomUUID().slice(0, 8)}`;
  let idp: StartedDevIdp;
  let tokens: Tokens;
  let db: ScratchDatabase;
  let rsyslog: Rsyslog;
  let pki: TestPki;
  let pager: Awaited<ReturnType<typeof startPager>>;
  let gw: GatewayProcess;

  beforeAll(async () => {
    idp = await startDevIdp({ resource: AUDIENCE });
    tokens = new Tokens({ issuer: idp.issuer, secrets: idp.secrets, resource: AUDIENCE });
    db = await createScratchDatabase(DEFAULT_SERVER_URL, 'gh_bypass_alerts');
    rsyslog = await startRsyslog();
    pki = await makeTestPki();
    pager = await startPager(pki);
    const exportYaml = [
      'export:',
      '  enabled: true',
      '  inProcess: true',
      `  queuePrefix: ${prefix}`,
      '  relayIntervalMs: 100',
      '  batchMaxWaitMs: 0',
      '  siem:',
      `    soc: { type: syslog, host: 127.0.0.1, port: ${rsyslog.port}, format: json }`,
      `    pager: { type: webhook, url: "${pager.url}", secret: ${SECRET} }`,
      '',
    ].join('\n');
    gw = await spawnGateway(
      gatewayYaml(idp, db, policyDir({ 'seed.yaml': SEED_POLICY }), `test-${randomUUID()}:`) + exportYaml,
      { NODE_EXTRA_CA_CERTS: pki.caCert },
    );
  });
  afterAll(async () => {
    await gw?.stop();
    await rsyslog?.remove();
    await pager?.close();
    await db?.drop();
    await idp?.close();
    await flushPrefix(prefix);
  });

  it('sends a bypass_opened alert naming the opener and the grant to the SIEM and the pager as soon as a grant opens', async () => {
    const opened = await bypassApi(gw.url, tokens).open('erin', { reason: REASON, servers: ['everything'] });
    expect(opened.status).toBe(201);
    const id = opened.json.id as string;
    const alert = await eventually(
      async () =>
        rsyslog
          .parsed()
          .flatMap((m) => {
            try {
              return [JSON.parse(m.msg) as { kind?: string; message?: string; subject?: string }];
            } catch {
              return [];
            }
          })
          .find((a) => a.kind === 'bypass_opened' && (a.message ?? '').includes(id)),
      30_000,
      'the bypass_opened alert at the SIEM',
    );
    expect(alert).toMatchObject({ subject: 'erin' });
    expect(alert.message).toContain(`bypass/grants/${id}`);
    await eventually(
      async () =>
        pager.lines.some((l) => l.includes('bypass_opened') && l.includes(`bypass/grants/${id}`))
          ? true
          : undefined,
      30_000,
      'the bypass_opened alert at the pager',
    );
  });
});
