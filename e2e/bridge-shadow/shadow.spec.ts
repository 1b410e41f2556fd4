import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { startHost, type Host } from '../../apps/cli/src/bridge/__tests__/host';
import { cliVersion } from '../../apps/cli/src/bridge/version';
import { freePort } from '../transport/processes';
import {
  claudeDesktopConfig,
  tempDir,
  trail,
  text,
  until,
  startBridgeGateway,
  type BridgeGateway,
} from './support';

/**
 * `gatehouse bridge --shadow --direct <Claude Desktop config>` end to end: a real SDK host
 * spawns the built bridge, which runs the reference `memory` server from the legacy config and
 * reports each call to a real gateway (built binary, scratch Postgres, development IdP tokens,
 * a policy that denies `create_entities`). The audit trail is read with SQL.
 */
describe('gatehouse bridge --shadow', () => {
  let fx: BridgeGateway;
  const hosts: Host[] = [];

  beforeAll(async () => {
    fx = await startBridgeGateway('shadow');
  });

  afterAll(async () => {
    for (const host of hosts) await host.close();
    await fx?.close();
  });

  it('serves the host from the direct server and reports each call; a would-be deny is a warning', async () => {
    const work = tempDir('gatehouse-shadow-');
    const memoryFile = join(work, 'direct-memory.jsonl');
    const config = claudeDesktopConfig(work, memoryFile);
    const host = await startHost(`${fx.gateway.url}/mcp`, {
      args: ['--shadow', '--direct', config],
      env: { GATEHOUSE_TOKEN: fx.token, XDG_STATE_HOME: join(work, 'state') },
    });
    hosts.push(host);

    // The host sees the direct server as it always did: its own names, no gateway prefix.
    const names = (await host.client.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['create_entities', 'read_graph']));
    expect(names.some((name) => name.includes('__'))).toBe(false);

    // Denied by the gateway's policy, yet shadow never enforces: it runs on the direct server.
    const created = await host.client.callTool({
      name: 'create_entities',
      arguments: { entities: [{ name: 'shadow-probe', entityType: 'test', observations: ['seen'] }] },
    });
    expect(created.isError).toBeFalsy();
    expect(readFileSync(memoryFile, 'utf8')).toContain('shadow-probe');
    const graph = await host.client.callTool({ name: 'read_graph', arguments: {} });
    expect(text(graph)).toContain('shadow-probe');

    await until(
      async () => (await trail(fx.databaseUrl)).filter((row) => row.outcome === 'shadow').length >= 4,
      'the two shadow calls in the audit trail',
    );
    const rows = (await trail(fx.databaseUrl)).filter(
      (row) => row.outcome === 'shadow' && row.kind === 'intent',
    );
    expect(rows.map((row) => [row.tool, row.decision])).toEqual([
      ['create_entities', 'deny'],
      ['read_graph', 'allow'],
    ]);
    for (const row of rows) {
      expect(row).toMatchObject({
        server: 'memory',
        principal_subject: 'alice',
        client_bridge_version: cliVersion(),
      });
    }
    await until(() => /would DENY this shadow call/.test(host.stderr()), 'the deny warning on stderr');
    expect(host.stderr()).toMatch(
      /WARN .*would DENY this shadow call.*name=create_entities.*rules=.*no-new-entities/,
    );
  });

  it('keeps serving the host while the gateway is down, and keeps the reports in the spool', async () => {
    const work = tempDir('gatehouse-shadow-down-');
    const config = claudeDesktopConfig(work, join(work, 'direct-memory.jsonl'));
    const state = join(work, 'state');
    const nowhere = `http://127.0.0.1:${await freePort()}/mcp`;
    const host = await startHost(nowhere, {
      args: ['--shadow', '--direct', config],
      env: { GATEHOUSE_TOKEN: fx.token, XDG_STATE_HOME: state },
    });
    hosts.push(host);

    const graph = await host.client.callTool({ name: 'read_graph', arguments: {} });
    expect(graph.isError).toBeFalsy();

    const spoolDir = join(state, 'gatehouse', 'spool');
    const spooled = () =>
      readdirSync(spoolDir)
        .filter((name) => name.endsWith('.jsonl'))
        .flatMap((name) => readFileSync(join(spoolDir, name), 'utf8').trim().split('\n'))
        .map((line) => JSON.parse(line) as { mode: string; server: string; params: { name: string } });
    await until(() => {
      try {
        return spooled().length === 1;
      } catch {
        return false;
      }
    }, 'the report in the spool');
    expect(spooled()[0]).toMatchObject({ mode: 'shadow', server: 'memory', params: { name: 'read_graph' } });
  });
});
