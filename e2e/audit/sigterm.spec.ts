import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { createScratchDatabase, DEFAULT_SERVER_URL, type ScratchDatabase } from '@gatehouse/db';
import { initializeBody, rawPost } from '../transport/helpers';
import { spawnGateway } from '../transport/processes';

const UNRULY = resolve(__dirname, '../../dist/e2e/fixtures/unruly-server.js');

/** R25: SIGTERM drains in-flight calls and writes an outcome, or `aborted`, for each. */
describe('audit outcomes across SIGTERM', () => {
  let db: ScratchDatabase;
  beforeAll(async () => {
    db = await createScratchDatabase(DEFAULT_SERVER_URL, 'gatehouse_e2e');
  });
  afterAll(async () => db.drop());

  it('R25: a call that finishes within the grace period is recorded ok, one cut off is recorded aborted', async () => {
    const log = join(mkdtempSync(join(tmpdir(), 'audit-drain-')), 'events.log');
    writeFileSync(log, '');
    const gw = await spawnGateway(
      `server:\n  shutdownGraceMs: 1500\nupstreams:\n  unruly:\n    transport: stdio\n    command: ${JSON.stringify(process.execPath)}\n    args: [${JSON.stringify(UNRULY)}]\n    env: { UNRULY_LOG: "\${UNRULY_LOG}" }\n`,
      { DATABASE_URL: db.url, UNRULY_LOG: log },
    );
    const init = await rawPost(`${gw.url}/mcp/servers/unruly`, initializeBody());
    const session = init.headers.get('mcp-session-id') as string;
    const sleep = (id: number, ms: number, tag: string) =>
      rawPost(
        `${gw.url}/mcp/servers/unruly`,
        JSON.stringify({
          jsonrpc: '2.0',
          id,
          method: 'tools/call',
          params: { name: 'sleep', arguments: { ms, tag } },
        }),
        { 'mcp-session-id': session },
      ).catch(() => undefined);
    const short = sleep(2, 300, 'short');
    const long = sleep(3, 30_000, 'long');
    const text = () => readFileSync(log, 'utf8');
    // Signal only once the upstream runs both calls, so they are truly in flight.
    for (let i = 0; i < 300 && !(text().includes('started short') && text().includes('started long')); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const started = Date.now();
    await gw.stop('SIGTERM');
    await Promise.all([short, long]);
    // The grace period, not the long call, decides when the gateway is gone.
    expect(Date.now() - started).toBeLessThan(15_000);

    const client = new Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ tag: string; kind: string; outcome: string }>(
        `SELECT arguments->>'tag' AS tag, kind, outcome FROM audit_event
          WHERE method = 'tools/call' ORDER BY tag, kind`,
      );
      expect(rows).toEqual([
        { tag: 'long', kind: 'intent', outcome: 'allowed' },
        { tag: 'long', kind: 'outcome', outcome: 'aborted' },
        { tag: 'short', kind: 'intent', outcome: 'allowed' },
        { tag: 'short', kind: 'outcome', outcome: 'ok' },
      ]);
    } finally {
      await client.end();
    }
  }, 60_000);
});
