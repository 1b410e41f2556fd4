import { SdkHttpError, SdkErrorCode } from '@modelcontextprotocol/client';

import { isGatewayUnreachable } from './offline';
import { classifyFailure, type Failure } from './retry';

function socketError(code: string): Error {
  return new TypeError('fetch failed', { cause: Object.assign(new Error(`connect ${code}`), { code }) });
}

function httpError(status: number, body: string): SdkHttpError {
  return new SdkHttpError(SdkErrorCode.ClientHttpNotImplemented, `HTTP ${status}`, {
    status,
    statusText: '',
    text: body,
  });
}

const DENY = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  error: { code: -32003, message: 'denied by policy', data: { reason: 'POLICY_DENIED' } },
});
const AUDIT_DOWN = JSON.stringify({
  jsonrpc: '2.0',
  id: null,
  error: { code: -32030, message: 'audit unavailable', data: { reason: 'AUDIT_UNAVAILABLE' } },
});

describe('unreachable gateway versus a Gatehouse refusal', () => {
  it.each<[string, unknown, boolean]>([
    ['connection refused', socketError('ECONNREFUSED'), true],
    ['DNS failure', socketError('ENOTFOUND'), true],
    ['DNS temporary failure', socketError('EAI_AGAIN'), true],
    ['host unreachable', socketError('EHOSTUNREACH'), true],
    ['connect timeout', socketError('UND_ERR_CONNECT_TIMEOUT'), true],
    ['a TLS handshake failure', socketError('ERR_SSL_WRONG_VERSION_NUMBER'), true],
    ['an untrusted gateway certificate', socketError('SELF_SIGNED_CERT_IN_CHAIN'), true],
    ['502 from a proxy with an HTML page', httpError(502, '<html>Bad Gateway</html>'), true],
    ['503 from a proxy with no body', httpError(503, ''), true],
    ['504 from a proxy', httpError(504, 'upstream timed out'), true],
    ['503 audit unavailable from Gatehouse (JSON-RPC body)', httpError(503, AUDIT_DOWN), false],
    ['502 carrying a JSON-RPC error', httpError(502, DENY), false],
    ['a policy deny relayed in an HTTP error', httpError(403, DENY), false],
    ['401', httpError(401, '{"error":"invalid_token"}'), false],
    ['403', httpError(403, ''), false],
    ['429 rate limited', httpError(429, DENY), false],
    ['500 (the call may have run)', httpError(500, 'oops'), false],
    ['404 (session lost)', httpError(404, ''), false],
    ['a reset after sending (the call may have run)', socketError('ECONNRESET'), false],
    ['no response headers in time', socketError('UND_ERR_HEADERS_TIMEOUT'), false],
    ['our client certificate refused', socketError('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED'), false],
    ['our client certificate from an unknown CA', socketError('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA'), false],
  ])('%s → unreachable: %s', (_what, error, unreachable) => {
    expect(isGatewayUnreachable(classifyFailure(error))).toBe(unreachable);
  });

  it('treats a fatal failure without TLS as a refusal', () => {
    const failure: Failure = { kind: 'fatal', detail: 'unexpected content type' };
    expect(isGatewayUnreachable(failure)).toBe(false);
  });
});
