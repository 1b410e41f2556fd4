import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { eventually, startHost, type Host } from '../bridge/__tests__/host';
import { TestMcpServer } from '../bridge/__tests__/mcp-server';

/**
 * `gatehouse bridge --shadow` with a VS Code config naming a Streamable HTTP direct server (a
 * real SDK server) and a gateway URL where nothing listens: the host is served by the direct
 * server, sampling requests from it reach the host, and the report waits in the spool.
 */
describe('gatehouse bridge --shadow with an http direct server', () => {
  let direct: TestMcpServer;
  let host: Host | undefined;

  beforeEach(async () => {
    direct = await new TestMcpServer().start();
  });

  afterEach(async () => {
    await host?.close();
    await direct.kill();
  });

  it('relays the host to the direct server both ways and spools the report', async () => {
    const work = mkdtempSync(join(tmpdir(), 'gatehouse-shadow-http-'));
    const config = join(work, 'mcp.json');
    writeFileSync(config, JSON.stringify({ servers: { probe: { type: 'http', url: direct.url } } }));
    const state = join(work, 'state');
    host = await startHost('http://127.0.0.1:1/mcp', {
      args: ['--shadow', '--direct', config],
      env: { XDG_STATE_HOME: state },
    });

    const echoed = await host.client.callTool({ name: 'echo', arguments: { text: 'shadowed' } });
    expect(JSON.stringify(echoed)).toContain('echo: shadowed');
    // The direct server asks the host to sample; the answer goes back to it.
    const asked = await host.client.callTool({ name: 'ask', arguments: { question: 'the answer?' } });
    expect(JSON.stringify(asked)).toContain('forty-two');
    expect(direct.calls('tools/call')).toHaveLength(2);

    const dir = join(state, 'gatehouse', 'spool');
    const lines = () =>
      existsSync(dir)
        ? readdirSync(dir)
            .filter((name) => name.endsWith('.jsonl'))
            .flatMap((name) => readFileSync(join(dir, name), 'utf8').trim().split('\n'))
        : [];
    await eventually(() => lines().length === 2, 'two reports in the spool');
    expect(
      lines().map((line) => JSON.parse(line) as { mode: string; server: string; params: { name: string } }),
    ).toEqual([
      expect.objectContaining({
        mode: 'shadow',
        server: 'probe',
        params: expect.objectContaining({ name: 'echo' }),
      }),
      expect.objectContaining({
        mode: 'shadow',
        server: 'probe',
        params: expect.objectContaining({ name: 'ask' }),
      }),
    ]);
  });
});
