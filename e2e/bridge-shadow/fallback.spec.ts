import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { gatewayKey } from '../../apps/cli/src/auth/credential-store';
import { startHost, type Host } from '../../apps/cli/src/bridge/__tests__/host';
import { cliVersion } from '../../apps/cli/src/bridge/version';
import { identityOf } from '../../apps/cli/src/direct/identity';
import { defaultSpoolDir, spoolPath } from '../../apps/cli/src/direct/spool';
import {
  claudeDesktopConfig,
  tempDir,
  trail,
  text,
  until,
  startBridgeGateway,
  type BridgeGateway,
} from './support';

interface SpoolLine {
  id: string;
  mode: string;
  server: string;
  method: string;
  params: { name?: string };
  startedAt: string;
  status: string;
}

function spoolFiles(state: string): string[] {
  const dir = join(state, 'gatehouse', 'spool');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.endsWith('.jsonl'))
    .map((name) => join(dir, name));
}

function spooled(state: string): SpoolLine[] {
  return spoolFiles(state).flatMap((file) =>
    readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as SpoolLine),
  );
}

/**
 * `gatehouse bridge --fallback <Claude Desktop config>` end to end: a real SDK host spawns the
 * built bridge against a real gateway (built binary, scratch Postgres, development IdP tokens,
 * the reference `memory` server as its upstream, a policy that denies `create_entities`). The
 * gateway is killed and started again on the same port and database, as an outage would go.
 * The direct `memory` server keeps its graph in another file than the gateway's, so a result
 * shows which side served it.
 */
describe('gatehouse bridge --fallback', () => {
  let fx: BridgeGateway;
  let host: Host | undefined;

  beforeAll(async () => {
    fx = await startBridgeGateway('fallback');
  });

  afterAll(async () => {
    await host?.close();
    await fx?.close();
  });

  it('uses the gateway while it answers, the direct server only while it is unreachable, and uploads the spool when it is back', async () => {
    const work = tempDir('gatehouse-fallback-');
    const directMemory = join(work, 'direct-memory.jsonl');
    const config = claudeDesktopConfig(work, directMemory);
    const state = join(work, 'state');
    host = await startHost(`${fx.gateway.url}/mcp`, {
      args: ['--fallback', config, '--retry-delay', '50'],
      env: { GATEHOUSE_TOKEN: fx.token, XDG_STATE_HOME: state },
    });
    const { client } = host;

    // Gateway up: calls go through it, under the aggregated names.
    expect(text(await client.callTool({ name: 'memory__read_graph', arguments: {} }))).toContain('entities');
    const relayed = (await trail(fx.databaseUrl)).filter(
      (row) => row.tool === 'read_graph' && row.outcome !== 'fallback',
    );
    expect(relayed).not.toEqual([]);
    // The bridge names its version on every request, and the gateway records it.
    expect(relayed.map((row) => row.client_bridge_version)).toContain(cliVersion());

    // A Gatehouse refusal is an answer, never a reason to go around the gateway.
    const entity = { name: 'offline-probe', entityType: 'test', observations: ['written offline'] };
    await expect(
      client.callTool({ name: 'memory__create_entities', arguments: { entities: [entity] } }),
    ).rejects.toMatchObject({ code: -32003 });
    expect(existsSync(directMemory)).toBe(false);
    expect(spooled(state)).toEqual([]);

    // The gateway goes away: calls are served by the direct server and spooled before the answer.
    await fx.gateway.stop('SIGKILL');
    await until(
      () =>
        fetch(`${fx.gateway.url}/readyz`)
          .then(() => false)
          .catch(() => true),
      'the gateway to be gone',
    );
    const created = await client.callTool({
      name: 'memory__create_entities',
      arguments: { entities: [entity] },
    });
    expect(created.isError).toBeFalsy();
    expect(readFileSync(directMemory, 'utf8')).toContain('offline-probe');
    // Spooled before the host got its answer: the line is there as soon as the call returns.
    expect(spooled(state).map((line) => [line.mode, line.server, line.method, line.params.name])).toEqual([
      ['fallback', 'memory', 'tools/call', 'create_entities'],
    ]);
    const graph = await client.callTool({ name: 'memory__read_graph', arguments: {} });
    expect(text(graph)).toContain('offline-probe');
    const offline = spooled(state);
    expect(offline.map((line) => line.params.name)).toEqual(['create_entities', 'read_graph']);
    expect(host.stderr()).toMatch(/gateway unreachable; serving host requests from the direct server/);

    // The gateway is back on the same port and database: the spool is uploaded and emptied.
    await fx.restart();
    await until(() => spooled(state).length === 0, 'the spool to be uploaded');
    const uploaded = (await trail(fx.databaseUrl)).filter(
      (row) => row.outcome === 'fallback' && row.kind === 'intent',
    );
    expect(uploaded.map((row) => [row.call_id, row.tool, row.decision, row.at])).toEqual(
      offline.map((line) => [
        line.id,
        line.params.name,
        line.params.name === 'create_entities' ? 'deny' : 'allow',
        line.startedAt,
      ]),
    );
    expect(host.stderr()).toMatch(/would DENY this fallback call/);

    // And the host is back on the gateway, whose memory never heard of the offline entity.
    await until(
      () => /back to the gateway/.test(host?.stderr() ?? ''),
      'the bridge to go back to the gateway',
    );
    const again = await client.callTool({ name: 'memory__read_graph', arguments: {} });
    expect(text(again)).not.toContain('offline-probe');
    expect(spooled(state)).toEqual([]);
  });

  it('uploads a spool left by an earlier run when any bridge starts, skipping a torn last line', async () => {
    const work = tempDir('gatehouse-leftover-');
    const state = join(work, 'state');
    const url = new URL(`${fx.gateway.url}/mcp`);
    const file = spoolPath(defaultSpoolDir({ XDG_STATE_HOME: state }), gatewayKey(url), identityOf(fx.token));
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const left = {
      id: randomUUID(),
      mode: 'fallback',
      server: 'memory',
      method: 'tools/call',
      params: { name: 'search_nodes', arguments: { query: 'yesterday' } },
      startedAt: new Date(Date.now() - 60 * 60_000).toISOString(),
      durationMs: 12,
      status: 'ok',
      responseBytes: 40,
    };
    // The crash happened while the next line was being written.
    writeFileSync(file, `${JSON.stringify(left)}\n{"id":"torn","mo`, { mode: 0o600 });

    const plain = await startHost(url.href, { env: { GATEHOUSE_TOKEN: fx.token, XDG_STATE_HOME: state } });
    try {
      await until(() => !existsSync(file), 'the leftover spool to be uploaded');
      const rows = (await trail(fx.databaseUrl)).filter((row) => row.call_id === left.id);
      expect(rows.map((row) => [row.kind, row.outcome, row.tool])).toEqual([
        ['intent', 'fallback', 'search_nodes'],
        ['outcome', 'fallback', 'search_nodes'],
      ]);
      expect(rows[0]?.at).toBe(left.startedAt);
      expect(plain.stderr()).toMatch(/skipping a torn last line in the spool/);
    } finally {
      await plain.close();
    }
  });
});
