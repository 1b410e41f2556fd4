import { DataSource } from 'typeorm';
import { AUDIT_SINK, type AuditSink } from '@gatehouse/audit';
import { startDevIdp, type StartedDevIdp } from '../support/dev-idp';
import { auditGateway, intent, type AuditGateway } from '../audit-query/support';
import { ROLES, Tokens } from '../policy-lifecycle/support';
import { freePort } from '../transport/processes';
import { attemptAndEnd } from './support';

/**
 * A streamed export is an audit query whose end record says whether it was sent whole: the
 * caller hanging up after the first chunk of a large CSV ends it as `error` `RESPONSE_ABORTED`,
 * a complete download as `ok`. A gateway of its own, with 40,000 generated records for `bulk`
 * (far more than socket buffers hold, so the server is still sending when the caller leaves).
 */
describe('an audit export the caller cuts off', () => {
  let idp: StartedDevIdp;
  let gw: AuditGateway;
  let db: DataSource;
  let tokens: Tokens;

  beforeAll(async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    idp = await startDevIdp({ resource: `${base}/mcp`, consoleBase: base });
    gw = await auditGateway(`auth:\n  issuer: ${idp.issuer}\n  audience: ${base}/mcp\n${ROLES}`, port);
    db = gw.app.get(DataSource);
    tokens = new Tokens({ issuer: idp.issuer, secrets: idp.secrets, resource: `${base}/mcp` });
    const sink = gw.app.get<AuditSink>(AUDIT_SINK);
    const now = Date.now();
    // Appends of 1,000: each must commit within the writer's 2 s bound (R30) on a busy machine too.
    for (let batch = 0; batch < 40; batch++) {
      await sink.append(
        Array.from({ length: 1000 }, (_, i) =>
          intent('bulk', new Date(now - (batch * 1000 + i) * 1000).toISOString(), 'postgres-prod', 'query', [
            `public.table_${i % 50}`,
          ]),
        ),
      );
    }
  }, 120_000);
  afterAll(async () => {
    await gw?.close();
    await idp?.close();
  });

  it('ends the audit.query record as error RESPONSE_ABORTED when the caller hangs up mid-export', async () => {
    const abort = new AbortController();
    const res = await fetch(`${gw.url}/api/v1/audit/events.csv?user=bulk`, {
      headers: await tokens.as('frank'),
      signal: abort.signal,
    });
    expect(res.status).toBe(200);
    const reader = res.body?.getReader();
    expect((await reader?.read())?.done).toBe(false);
    abort.abort();
    const { end } = await attemptAndEnd(
      db,
      'audit.query',
      (r) => r.admin_target === 'events.csv' && r.arguments?.user === 'bulk',
    );
    expect(end.outcome).toBe('error');
    expect(end.error_message).toMatch(/^RESPONSE_ABORTED: /);
  });

  it('ends it as ok when the whole export was sent', async () => {
    const res = await fetch(`${gw.url}/api/v1/audit/events.jsonl?user=bulk&tool=query`, {
      headers: await tokens.as('frank'),
    });
    expect((await res.text()).trimEnd().split('\n')).toHaveLength(40_000);
    const { end } = await attemptAndEnd(
      db,
      'audit.query',
      (r) => r.admin_target === 'events.jsonl' && r.arguments?.user === 'bulk',
    );
    expect(end.outcome).toBe('ok');
  });
});
