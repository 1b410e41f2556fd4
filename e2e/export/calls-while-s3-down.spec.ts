import { Client } from 'pg';
import type { RunningGateway } from '../../apps/gateway/src/bootstrap';
import { recordingUpstream } from '../support/recording-upstream';
import { gatewayWith, initializeBody, rawPost } from '../transport/helpers';
import { startS3Server, type S3Server } from './s3-server';
import { ed25519Pem, flushPrefix, queuePrefix, REDIS_URL, waitFor } from './support';

/**
 * R31/R32 on the call path: a real gateway (export in-process, Redis, s3rver) and a real HTTP MCP
 * upstream. While S3 refuses every request, tool calls are answered and reach the upstream as
 * before, and their audit records pile up as backlog; once S3 is back they are all exported.
 */
describe('tool calls while S3 is down (R31, R32)', () => {
  const prefix = queuePrefix('calls');
  let upstream: Awaited<ReturnType<typeof recordingUpstream>>;
  let gw: RunningGateway & { logs: string[]; databaseUrl: string };
  let s3: S3Server;
  let sid: string;

  const sql = async (text: string) => {
    const client = new Client({ connectionString: gw.databaseUrl });
    await client.connect();
    try {
      return (await client.query(text)).rows as Array<Record<string, unknown>>;
    } finally {
      await client.end();
    }
  };
  const undelivered = async () =>
    Number(
      (
        await sql(`SELECT COALESCE(sum(h.last_seq - COALESCE(c.exported_seq, 0)), 0)::int AS n
                     FROM audit_chain_head h LEFT JOIN audit_export_cursor c ON c.sink = 's3' AND c.writer_id = h.writer_id`)
      )[0]?.n,
    );
  const call = (id: number) =>
    rawPost(
      `${gw.url}/mcp`,
      JSON.stringify({
        jsonrpc: '2.0',
        id,
        method: 'tools/call',
        params: { name: 'rec__echo', arguments: { text: `call-${id}` } },
      }),
      { 'mcp-session-id': sid },
    );

  beforeAll(async () => {
    process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
    process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
    s3 = await startS3Server();
    upstream = await recordingUpstream();
    gw = await gatewayWith(
      [
        `upstreams:\n  rec:\n    transport: http\n    url: ${upstream.url}`,
        `redis:\n  url: ${REDIS_URL}`,
        'export:',
        '  enabled: true',
        `  queuePrefix: ${prefix}`,
        '  relayIntervalMs: 100',
        '  batchSize: 10',
        '  batchMaxWaitMs: 0',
        '  backoffMs: 100',
        `  s3: { bucket: ${s3.bucket}, endpoint: ${JSON.stringify(s3.endpoint)}, forcePathStyle: true, retentionDays: 30 }`,
        `  checkpoints:\n    signingKey: ${JSON.stringify(ed25519Pem().privatePem)}`,
        '',
      ].join('\n'),
    );
    const init = await rawPost(`${gw.url}/mcp`, initializeBody());
    sid = init.headers.get('mcp-session-id') as string;
  });

  afterAll(async () => {
    await gw?.close();
    upstream?.server.closeAllConnections();
    await new Promise((ok) => upstream?.server.close(ok));
    await s3?.close();
    await flushPrefix(prefix);
  });

  it('answers every call and forwards it while S3 refuses, then exports all their records', async () => {
    s3.failing = true;
    const before = upstream.calls.length;
    for (let id = 1; id <= 20; id += 1) {
      const answer = await call(id);
      expect(answer.status).toBe(200);
      expect(answer.json.error).toBeUndefined();
    }
    expect(upstream.calls.length - before).toBe(20);
    await waitFor('S3 to refuse the export', () => s3.refused > 0);
    expect(await undelivered()).toBeGreaterThanOrEqual(40);

    s3.failing = false;
    await waitFor('the export to catch up', async () => (await undelivered()) === 0, 60_000);
  });
});
