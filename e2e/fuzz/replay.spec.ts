import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunningGateway } from '../../apps/gateway/src/bootstrap';
import { demoUpstreamsYaml, gatewayWith, initializeBody, rawPost } from '../transport/helpers';

const corpus = JSON.parse(readFileSync(join(__dirname, 'jsonrpc-corpus.json'), 'utf8')) as string[];

/**
 * R38: the committed fuzz corpus (hand-written hostile bodies plus seeded mutations of valid
 * messages, see make-corpus.ts) is replayed against a real gateway with real upstreams. Every body
 * gets an HTTP answer below 500 that is either empty (202) or a JSON-RPC message, nothing
 * pollutes a prototype, and the gateway keeps serving.
 */
describe('R38: fuzz corpus replay', () => {
  let gw: RunningGateway;
  let session: string;

  beforeAll(async () => {
    gw = await gatewayWith(demoUpstreamsYaml('shared'));
    session = (await rawPost(`${gw.url}/mcp`, initializeBody())).headers.get('mcp-session-id') as string;
  });
  afterAll(async () => gw.close());

  const META_SHAPES: unknown[] = [null, 'x', [], 7, true];
  const CALLS: Array<[string, Record<string, unknown>]> = [
    ['tools/call', { name: 'everything__echo', arguments: { message: 'x' } }],
    ['tools/list', {}],
    ['resources/list', {}],
    ['resources/read', { uri: 'everything+demo://resource/static/document/a.md' }],
    ['prompts/get', { name: 'everything__simple-prompt' }],
  ];

  // A null _meta was forwarded, dropped by the upstream's SDK without an answer, and held the
  // call until the upstream timeout; the Jest timeout below is far shorter than that one.
  it('13.9 R38: every _meta shape but an object gets -32602 with the reason at once, on every method', async () => {
    for (const [method, params] of CALLS) {
      for (const meta of META_SHAPES) {
        const body = JSON.stringify({ jsonrpc: '2.0', id: 9, method, params: { ...params, _meta: meta } });
        const res = await rawPost(`${gw.url}/mcp`, body, { 'mcp-session-id': session });
        expect([method, meta, res.json.error?.code, res.json.error?.data?.reason]).toEqual([
          method,
          meta,
          -32602,
          'INVALID_PARAMS',
        ]);
        expect(res.json.id).toBe(9);
        expect(res.json.error.message).toMatch(/_meta/);
      }
    }
  }, 20_000);

  it(`answers all ${corpus.length} hostile bodies with a clear error or a valid reply, and keeps serving`, async () => {
    expect(corpus.length).toBeGreaterThan(300);
    const failures: string[] = [];
    for (const [i, body] of corpus.entries()) {
      const res = await rawPost(`${gw.url}/mcp`, body, { 'mcp-session-id': session });
      const json = res.json as
        { jsonrpc?: string; error?: { code?: unknown; message?: unknown }; result?: unknown } | undefined;
      const wellFormed =
        res.status === 202 ||
        (json !== undefined &&
          json.jsonrpc === '2.0' &&
          (json.result !== undefined ||
            (Number.isInteger(json.error?.code) &&
              typeof json.error?.message === 'string' &&
              json.error.message.length > 0)));
      if (res.status >= 500 || !wellFormed)
        failures.push(`#${i} ${res.status} ${JSON.stringify(json)?.slice(0, 200)}`);
    }
    expect(failures).toEqual([]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
    const echo = await rawPost(
      `${gw.url}/mcp`,
      JSON.stringify({
        jsonrpc: '2.0',
        id: 'after',
        method: 'tools/call',
        params: { name: 'everything__echo', arguments: { message: 'alive' } },
      }),
      { 'mcp-session-id': session },
    );
    expect(echo.json.result.content[0].text).toBe('Echo: alive');
  }, 180_000);
});
