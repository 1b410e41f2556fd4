import { errorMapping, TransportError, TransportErrorCode, validateMessage } from './jsonrpc';

describe('validateMessage', () => {
  it.each([
    ['a request', { jsonrpc: '2.0', id: 1, method: 'tools/list' }],
    ['a string id', { jsonrpc: '2.0', id: 'a', method: 'ping', params: {} }],
    ['a notification', { jsonrpc: '2.0', method: 'notifications/initialized' }],
    ['a result', { jsonrpc: '2.0', id: 1, result: {} }],
    ['an error', { jsonrpc: '2.0', id: 1, error: { code: -1, message: 'x' } }],
  ])('accepts %s', (_name, value) => {
    expect(validateMessage(value, 64)).toBe(value);
  });

  it.each([
    ['a batch', [], TransportErrorCode.BATCH_REJECTED],
    ['a number', 5, TransportErrorCode.INVALID_REQUEST],
    ['jsonrpc 1.0', { jsonrpc: '1.0', id: 1, method: 'x' }, TransportErrorCode.INVALID_REQUEST],
    ['a null id', { jsonrpc: '2.0', id: null, method: 'x' }, TransportErrorCode.INVALID_REQUEST],
    ['a boolean id', { jsonrpc: '2.0', id: true, method: 'x' }, TransportErrorCode.INVALID_REQUEST],
    ['an empty method', { jsonrpc: '2.0', id: 1, method: '' }, TransportErrorCode.INVALID_REQUEST],
    ['array params', { jsonrpc: '2.0', id: 1, method: 'x', params: [1] }, TransportErrorCode.INVALID_REQUEST],
    ['no method, no result', { jsonrpc: '2.0', id: 1 }, TransportErrorCode.INVALID_REQUEST],
  ])('refuses %s with a reason', (_name, value, code) => {
    expect(() => validateMessage(value, 64)).toThrow(TransportError);
    try {
      validateMessage(value, 64);
    } catch (err) {
      expect((err as TransportError).code).toBe(code);
      expect((err as TransportError).message.length).toBeGreaterThan(10);
    }
  });

  it('refuses nesting one level past the cap and accepts it at the cap', () => {
    const nest = (levels: number): unknown => {
      let v: unknown = 1;
      for (let i = 0; i < levels; i++) v = { v };
      return v;
    };
    // The message itself is level 1, so params may nest nine more objects under a cap of 10.
    expect(() => validateMessage({ jsonrpc: '2.0', id: 1, method: 'x', params: nest(9) }, 10)).not.toThrow();
    expect(() => validateMessage({ jsonrpc: '2.0', id: 1, method: 'x', params: nest(10) }, 10)).toThrow(
      /deeper than 10/,
    );
  });
});

describe('errorMapping', () => {
  it('maps every code to an HTTP status and a JSON-RPC code', () => {
    for (const code of Object.values(TransportErrorCode)) {
      const { status, rpc } = errorMapping(code);
      expect(status).toBeGreaterThanOrEqual(200);
      expect(rpc).toBeLessThan(0);
    }
    expect(errorMapping(TransportErrorCode.PARSE_ERROR)).toEqual({ status: 400, rpc: -32700 });
    expect(errorMapping(TransportErrorCode.UNSUPPORTED_VERSION)).toEqual({ status: 400, rpc: -32022 });
    expect(errorMapping(TransportErrorCode.HEADER_MISMATCH)).toEqual({ status: 400, rpc: -32020 });
  });
});
