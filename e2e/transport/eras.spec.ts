import { resolve } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import type { RunningGateway } from '../../apps/gateway/src/bootstrap';
import { gatewayWith } from './helpers';

const FIXTURE = resolve(__dirname, '../../dist/e2e/conformance/fixture-server.js');

/**
 * Each hop negotiates its own revision: against an upstream that speaks both eras (the
 * conformance fixture, over stdio), a 2025 client is served over a 2025 hop and a 2026-07-28
 * client over a 2026-07-28 hop, and 2026-07-28 multi-round-trip results pass through.
 */
describe('protocol revisions per hop', () => {
  let gw: RunningGateway & { logs: string[] };

  beforeAll(async () => {
    gw = await gatewayWith(`upstreams:
  both:
    transport: stdio
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(FIXTURE)}, --stdio]
`);
  });
  afterAll(async () => gw.close());

  const hopVersions = (): string[] =>
    gw.logs
      .map((l) => JSON.parse(l) as { msg?: string; server?: string; protocolVersion?: string })
      .filter((l) => l.msg === 'upstream connected' && l.server === 'both')
      .map((l) => l.protocolVersion as string);

  const connect = async (mode: 'legacy' | 'auto'): Promise<Client> => {
    const client = new Client(
      { name: `era-${mode}`, version: '1.0.0' },
      { capabilities: { sampling: {} }, versionNegotiation: { mode } },
    );
    client.setRequestHandler('sampling/createMessage', async () => ({
      model: 'test',
      role: 'assistant',
      content: { type: 'text', text: `sampled for ${mode}` },
    }));
    await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp/servers/both`)));
    return client;
  };

  it('serves a 2025 client over a 2025 hop', async () => {
    const client = await connect('legacy');
    try {
      expect(client.getNegotiatedProtocolVersion()).toBe('2025-11-25');
      const result = await client.callTool({ name: 'test_simple_text', arguments: {} });
      expect(JSON.stringify(result.content)).toMatch(/simple text response/);
      expect(hopVersions()).toContain('2025-11-25');
    } finally {
      await client.close();
    }
  });

  it('serves a 2026-07-28 client over a 2026-07-28 hop', async () => {
    const client = await connect('auto');
    try {
      expect(client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
      const result = await client.callTool({ name: 'test_simple_text', arguments: {} });
      expect(JSON.stringify(result.content)).toMatch(/simple text response/);
      expect(hopVersions()).toContain('2026-07-28');
    } finally {
      await client.close();
    }
  });

  it('passes 2026-07-28 input_required results through so the client answers them', async () => {
    const client = await connect('auto');
    try {
      const result = await client.callTool({ name: 'test_sampling', arguments: { prompt: 'hello' } });
      expect(JSON.stringify(result.content)).toMatch(/sampled for auto/);
    } finally {
      await client.close();
    }
  });

  it('routes a 2025 client’s sampling through a shared upstream to that client', async () => {
    const client = await connect('legacy');
    try {
      const result = await client.callTool({ name: 'test_sampling', arguments: { prompt: 'hello' } });
      expect(JSON.stringify(result.content)).toMatch(/sampled for legacy/);
    } finally {
      await client.close();
    }
  });
});
