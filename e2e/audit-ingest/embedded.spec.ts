import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { DataSource } from 'typeorm';
import { INGEST_PATH, type IngestResponse } from '@gatehouse/audit';
import { parseConfigText } from '@gatehouse/config';
import { startGateway, type RunningGateway } from '../../apps/gateway/src/bootstrap';
import { recordingUpstream } from '../support/recording-upstream';
import { initializeBody, rawPost } from '../transport/helpers';
import { transportDefaults } from '../transport/processes';

/**
 * The embedded start (no DATABASE_URL: PGlite with exactly one pooled connection, which the audit
 * writer needs): the ingest endpoint must not hold that connection while the writer commits.
 * Also the pipeline side of the bridge: its version header lands in the audit record.
 * `auth.mode: none` (the embedded default for a first run), so the caller is the anonymous principal.
 */
describe('ingest on the embedded database, and the bridge version in pipeline records', () => {
  let gw: RunningGateway;
  let dataDir: string;
  let upstream: Awaited<ReturnType<typeof recordingUpstream>>;

  beforeAll(async () => {
    upstream = await recordingUpstream();
    dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-ingest-embedded-'));
    const loaded = parseConfigText(
      `server:\n  port: 0\nlog:\n  level: warn\ndataDir: ${JSON.stringify(dataDir)}\n${transportDefaults(
        `upstreams:\n  rec:\n    transport: http\n    url: ${upstream.url}\n`,
      )}`,
      {},
    );
    gw = await startGateway(loaded, { logDestination: new Writable({ write: (_c, _e, done) => done() }) });
  });

  afterAll(async () => {
    await gw?.close();
    upstream.server.closeAllConnections();
    await new Promise((ok) => upstream.server.close(ok));
    rmSync(dataDir, { recursive: true, force: true });
  });

  // A spool line is uploaded unchanged: the same id with the same startedAt.
  const spooledAt = Date.now() - 60_000;
  const report = (ids: string[]) =>
    fetch(`${gw.url}${INGEST_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        mode: 'fallback',
        calls: ids.map((id, i) => ({
          id,
          server: 'rec',
          method: 'tools/call',
          params: { name: 'echo', arguments: { text: `spooled ${i}` } },
          startedAt: new Date(spooledAt + i).toISOString(),
          durationMs: 2,
          status: 'ok',
        })),
      }),
    });

  it('stores a fallback upload once, then answers duplicates', async () => {
    const ids = [randomUUID(), randomUUID()];
    const first = await report(ids);
    expect(first.status).toBe(200);
    expect((await first.json()) as IngestResponse).toMatchObject({ stored: 2, duplicates: 0 });
    const again = await report(ids);
    expect(((await again.json()) as IngestResponse).duplicates).toBe(2);
    const rows = await gw.app
      .get(DataSource)
      .query<Array<{ n: number }>>(`SELECT count(*)::int AS n FROM audit_event WHERE call_id = ANY($1)`, [
        ids,
      ]);
    expect(rows[0]?.n).toBe(4);
    expect(upstream.calls).toEqual([]);
  });

  it("records the bridge's version header on calls through the gateway", async () => {
    const init = await rawPost(`${gw.url}/mcp`, initializeBody());
    const sid = init.headers.get('mcp-session-id') as string;
    const text = `bridged ${randomUUID()}`;
    const res = await rawPost(
      `${gw.url}/mcp`,
      JSON.stringify({
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'rec__echo', arguments: { text } },
      }),
      { 'mcp-session-id': sid, 'gatehouse-bridge-version': '0.9.0' },
    );
    expect(res.json.result).toBeDefined();
    let rows: Array<{ kind: string; client_bridge_version: string | null }> = [];
    for (let i = 0; i < 50 && rows.length < 2; i++) {
      rows = await gw.app
        .get(DataSource)
        .query(
          `SELECT kind, client_bridge_version FROM audit_event WHERE arguments->>'text' = $1 ORDER BY kind`,
          [text],
        );
      if (rows.length < 2) await new Promise((r) => setTimeout(r, 20));
    }
    expect(rows).toEqual([
      { kind: 'intent', client_bridge_version: '0.9.0' },
      { kind: 'outcome', client_bridge_version: '0.9.0' },
    ]);
  });

  it('records a pipeline call whose arguments hold a lone surrogate and a NUL key (one such call used to fail its batch)', async () => {
    const init = await rawPost(`${gw.url}/mcp`, initializeBody());
    const sid = init.headers.get('mcp-session-id') as string;
    const marker = randomUUID();
    const res = await rawPost(
      `${gw.url}/mcp`,
      JSON.stringify({
        jsonrpc: '2.0',
        id: 3,
        method: 'tools/call',
        params: { name: 'rec__echo', arguments: { text: `${marker}\ud800`, 'odd\u0000key': marker } },
      }),
      { 'mcp-session-id': sid },
    );
    expect(res.status).toBe(200);
    let rows: Array<{ arguments: Record<string, string> }> = [];
    for (let i = 0; i < 50 && rows.length < 2; i++) {
      rows = await gw.app
        .get(DataSource)
        .query(`SELECT arguments FROM audit_event WHERE arguments->>'odd\uFFFDkey' = $1`, [marker]);
      if (rows.length < 2) await new Promise((r) => setTimeout(r, 20));
    }
    expect(rows.map((r) => r.arguments.text)).toEqual([`${marker}\uFFFD`, `${marker}\uFFFD`]);
  });
});
