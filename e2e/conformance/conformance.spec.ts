import { describe, expect, it } from '@jest/globals';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { startFixtureHttp } from './fixture-server';
import { compareDirectAndGateway, formatComparison } from './run';

/** A first run on a fresh machine downloads the suite from npm before it starts. */
const SUITE_TIMEOUT_MS = 15 * 60_000;

async function exerciseFixture(url: string, mode: 'legacy' | 'auto') {
  const client = new Client(
    { name: 'fixture-check', version: '1.0.0' },
    { capabilities: { sampling: {}, elicitation: {} }, versionNegotiation: { mode } },
  );
  client.setRequestHandler('sampling/createMessage', async () => ({
    role: 'assistant',
    content: { type: 'text', text: 'sampled' },
    model: 'test-model',
    stopReason: 'endTurn',
  }));
  client.setRequestHandler('elicitation/create', async () => ({
    action: 'accept',
    content: { username: 'ada', email: 'ada@example.com' },
  }));
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  try {
    const progress: number[] = [];
    await client.callTool(
      { name: 'test_tool_with_progress', arguments: {} },
      { onprogress: (p) => void progress.push(p.progress) },
    );
    const sampling = await client.callTool({ name: 'test_sampling', arguments: { prompt: 'hello' } });
    const elicitation = await client.callTool({ name: 'test_elicitation', arguments: { message: 'who?' } });
    const template = await client.readResource({ uri: 'test://template/42/data' });
    return {
      sampling: sampling.content,
      elicitation: elicitation.content,
      progress,
      template: template.contents,
    };
  } finally {
    await client.close();
  }
}

describe('conformance fixture server', () => {
  it.each(['legacy', 'auto'] as const)(
    'answers sampling, elicitation, progress and templates for a client negotiating %s',
    async (mode) => {
      const fixture = await startFixtureHttp();
      try {
        const seen = await exerciseFixture(fixture.url, mode);
        expect(seen).toEqual({
          sampling: [{ type: 'text', text: 'LLM response: sampled' }],
          elicitation: [
            {
              type: 'text',
              text: 'User response: action=accept, content={"username":"ada","email":"ada@example.com"}',
            },
          ],
          progress: [0, 50, 100],
          template: [
            {
              uri: 'test://template/42/data',
              mimeType: 'application/json',
              text: '{"id":"42","templateTest":true,"data":"Data for ID: 42"}',
            },
          ],
        });
      } finally {
        await fixture.close();
      }
    },
  );
});

describe('MCP conformance suite through the gateway', () => {
  // `auto` is the default upstream hop (2026-07-28 when the upstream offers it); `legacy` pins the
  // 2025 handshake. The stdio cases spawn the compiled fixture, so they need `npm run build` first
  // (the test command builds before it runs jest).
  it.each([
    ['http', 'auto'],
    ['http', 'legacy'],
    ['stdio', 'auto'],
    ['stdio', 'legacy'],
  ] as const)(
    'passes the same scenarios through /mcp/servers/{name} as the upstream passes directly (upstream over %s, hop %s)',
    async (upstreamTransport, upstreamProtocol) => {
      const comparison = await compareDirectAndGateway({ upstreamTransport, upstreamProtocol });
      if (!comparison.equal) process.stderr.write(formatComparison(comparison));

      expect(comparison.direct.passedScenarios).toBeGreaterThan(0);
      expect({
        differingScenarios: comparison.differences.filter((d) => d.scoring).map((d) => d.scenario),
        passedScenarios: comparison.gateway.passedScenarios,
        passedChecks: comparison.gateway.passedChecks,
      }).toEqual({
        differingScenarios: [],
        passedScenarios: comparison.direct.passedScenarios,
        passedChecks: comparison.direct.passedChecks,
      });
    },
    SUITE_TIMEOUT_MS,
  );
});
