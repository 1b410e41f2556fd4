import type { JsonRpcRequest } from './jsonrpc';
import { checkEnvelope, checkMethodServed, checkRequestParams } from './methods';

const request = (method: string, params?: Record<string, unknown>): JsonRpcRequest => ({
  jsonrpc: '2.0',
  id: 1,
  method,
  ...(params === undefined ? {} : { params }),
});

function reason(check: () => void): string | undefined {
  try {
    check();
    return undefined;
  } catch (err) {
    return `${(err as { code: string }).code}: ${(err as Error).message}`;
  }
}

describe('front-door params (13.9)', () => {
  it.each([null, 'x', [], 7, true])('refuses _meta %p on any method, named', (meta) => {
    for (const method of ['tools/call', 'tools/list', 'resources/list', 'acme/frobnicate']) {
      expect(reason(() => checkEnvelope(request(method, { _meta: meta })))).toMatch(
        /^INVALID_PARAMS: invalid params for .*_meta/,
      );
    }
  });

  it.each([
    ['no params', request('tools/list')],
    [
      '2026-07-28 envelope',
      request('tools/list', {
        _meta: {
          'io.modelcontextprotocol/protocolVersion': '2026-07-28',
          'io.modelcontextprotocol/clientInfo': { name: 'c', version: '1' },
        },
      }),
    ],
    ['a progress token', request('tools/call', { name: 'a__b', _meta: { progressToken: 3 } })],
    [
      'members a newer revision adds',
      request('tools/call', { name: 'a__b', inputResponses: {}, requestState: 's' }),
    ],
  ])('accepts %s', (_label, r) => {
    expect(reason(() => checkEnvelope(r))).toBeUndefined();
    expect(reason(() => checkRequestParams(r))).toBeUndefined();
  });

  it.each([
    ['tools/call', { name: 'a__b', arguments: 'x' }, 'arguments'],
    ['tools/call', {}, 'name'],
    ['tools/list', { cursor: 5 }, 'cursor'],
    ['resources/read', { uri: null }, 'uri'],
    ['logging/setLevel', { level: 'loud' }, 'level'],
    [
      'initialize',
      { protocolVersion: {}, capabilities: {}, clientInfo: { name: 'x', version: '1' } },
      'protocolVersion',
    ],
  ])('refuses %s with %p naming %s', (method, params, member) => {
    expect(reason(() => checkRequestParams(request(method, params)))).toMatch(
      new RegExp(`^INVALID_PARAMS: .*${member}`),
    );
  });
});

describe('methods the gateway serves (13.8)', () => {
  it.each([
    ['legacy', 'resources/subscribe'],
    ['legacy', 'tasks/list'],
    ['modern', 'subscriptions/listen'],
    ['modern', 'server/discover'],
    ['modern', 'ping'],
  ] as const)('%s serves %s', (era, method) => {
    expect(reason(() => checkMethodServed(method, era, []))).toBeUndefined();
  });

  it.each([
    ['legacy', 'subscriptions/listen'],
    ['modern', 'resources/subscribe'],
    ['modern', 'logging/setLevel'],
    ['legacy', 'sampling/createMessage'],
    ['legacy', 'acme/frobnicate'],
  ] as const)('%s answers %s with -32601', (era, method) => {
    expect(reason(() => checkMethodServed(method, era, []))).toMatch(/^METHOD_NOT_FOUND: .*not a/);
  });

  it('forwards an extension method only when it is listed', () => {
    expect(reason(() => checkMethodServed('acme/frobnicate', 'modern', ['acme/frobnicate']))).toBeUndefined();
  });
});
