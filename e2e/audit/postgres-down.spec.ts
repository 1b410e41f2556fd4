import type { RunningGateway } from '../../apps/gateway/src/bootstrap';
import { recordingUpstream } from '../support/recording-upstream';
import { tcpProxy, type TcpProxy } from '../support/tcp-proxy';
import { gatewayWith, initializeBody, rawPost } from '../transport/helpers';

/**
 * R30 on a real gateway whose Postgres is reached through a loopback relay the test can stall:
 * a database that stops answering (no refused connection, no error: silence) must not hang calls.
 * The intent cannot be committed, so each call is refused with AUDIT_UNAVAILABLE once the audit
 * writer's commit timeout passes, the upstream never sees it, readiness turns false, and calls are
 * served again as soon as the database answers.
 */
describe('R30: Postgres stops answering', () => {
  let upstream: Awaited<ReturnType<typeof recordingUpstream>>;
  let proxy: TcpProxy;
  let gw: RunningGateway & { databaseUrl: string };
  let sid: string;

  const call = (id: number, text: string) =>
    rawPost(
      `${gw.url}/mcp`,
      JSON.stringify({
        jsonrpc: '2.0',
        id,
        method: 'tools/call',
        params: { name: 'rec__echo', arguments: { text } },
      }),
      { 'mcp-session-id': sid },
    );
  const ready = async () => (await fetch(`${gw.url}/readyz`)).status === 200;

  beforeAll(async () => {
    upstream = await recordingUpstream();
    proxy = await tcpProxy(5432);
    gw = await gatewayWith(
      `upstreams:\n  rec:\n    transport: http\n    url: ${upstream.url}\n`,
      {},
      [],
      (url) => {
        const via = new URL(url);
        via.port = String(proxy.port);
        return via.toString();
      },
    );
    const init = await rawPost(`${gw.url}/mcp`, initializeBody());
    sid = init.headers.get('mcp-session-id') as string;
  });
  afterAll(async () => {
    proxy.resume();
    await gw.close();
    await proxy.close();
    upstream.server.closeAllConnections();
    await new Promise((ok) => upstream.server.close(ok));
  });

  it('refuses calls (fail closed) instead of hanging, reports not ready, and recovers without a restart', async () => {
    expect((await call(2, 'before the outage')).json.result).toBeDefined();
    expect(await ready()).toBe(true);
    const before = upstream.calls.length;

    proxy.stall();
    try {
      const refused = await call(3, 'during the outage');
      expect(refused.status).toBe(503);
      expect(refused.json.error).toMatchObject({ code: -32030, data: { reason: 'AUDIT_UNAVAILABLE' } });
      expect(refused.json.error.message).toMatch(/audit trail cannot record this call/);
      expect(upstream.calls.length).toBe(before);
      let notReady = false;
      for (let i = 0; i < 40 && !notReady; i++) {
        notReady = !(await ready());
        if (!notReady) await new Promise((r) => setTimeout(r, 250));
      }
      expect(notReady).toBe(true);
    } finally {
      proxy.resume();
    }

    let served = false;
    for (let i = 0; i < 100 && !served; i++) {
      served = (await call(10 + i, 'after the outage')).json.result !== undefined;
      if (!served) await new Promise((r) => setTimeout(r, 100));
    }
    expect(served).toBe(true);
    expect(upstream.calls.length).toBeGreaterThan(before);
  });
});
