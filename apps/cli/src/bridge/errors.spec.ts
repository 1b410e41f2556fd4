import { BridgeError, BridgeErrorCode, jsonRpcCodeOf, toJsonRpcError } from './errors';

describe('bridge errors', () => {
  it('gives each reason its own JSON-RPC code in the server-error range', () => {
    const codes = Object.values(BridgeErrorCode).map(jsonRpcCodeOf);
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) {
      expect(code).toBeLessThanOrEqual(-32000);
      expect(code).toBeGreaterThanOrEqual(-32099);
    }
  });

  it('names the reason and details in the error data', () => {
    const error = new BridgeError(BridgeErrorCode.GATEWAY_UNREACHABLE, 'gateway unreachable', {
      url: 'http://127.0.0.1:1/mcp',
      attempts: 3,
    });
    expect(toJsonRpcError(error)).toEqual({
      code: -32010,
      message: 'Gatehouse bridge: gateway unreachable',
      data: { reason: 'GATEWAY_UNREACHABLE', url: 'http://127.0.0.1:1/mcp', attempts: 3 },
    });
  });
});
