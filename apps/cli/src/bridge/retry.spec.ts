import { SdkErrorCode, SdkHttpError } from '@modelcontextprotocol/client';

import { backoffDelay, classifyFailure, DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry';

function fetchFailed(code: string, message = `connect ${code}`): Error {
  return new TypeError('fetch failed', { cause: Object.assign(new Error(message), { code }) });
}

function http(status: number, text = ''): SdkHttpError {
  return new SdkHttpError(SdkErrorCode.ClientHttpNotImplemented, `Error POSTing to endpoint: ${text}`, {
    status,
    statusText: '',
    text,
  });
}

describe('backoffDelay', () => {
  const policy: RetryPolicy = { retries: 10, initialDelayMs: 100, maxDelayMs: 1_000, budgetMs: 10_000 };

  it.each([
    [0, 50, 100],
    [1, 100, 200],
    [2, 200, 400],
    [3, 400, 800],
    [4, 500, 1_000],
    [9, 500, 1_000],
  ])('keeps retry %i between %i and %i ms', (retry, low, high) => {
    expect(backoffDelay(policy, retry, () => 0)).toBe(low);
    expect(backoffDelay(policy, retry, () => 1)).toBe(high);
    const sampled = backoffDelay(policy, retry);
    expect(sampled).toBeGreaterThanOrEqual(low);
    expect(sampled).toBeLessThanOrEqual(high);
  });

  it('never waits zero, so a flapping gateway is not hammered', () => {
    expect(backoffDelay(DEFAULT_RETRY_POLICY, 0, () => 0)).toBeGreaterThan(0);
  });
});

describe('classifyFailure', () => {
  it.each([
    ['ECONNREFUSED', 'retry'],
    ['ENOTFOUND', 'retry'],
    ['EAI_AGAIN', 'retry'],
    ['EHOSTUNREACH', 'retry'],
    ['UND_ERR_CONNECT_TIMEOUT', 'retry'],
    ['UND_ERR_HEADERS_TIMEOUT', 'timeout'],
    ['ECONNRESET', 'ambiguous'],
    ['UND_ERR_SOCKET', 'ambiguous'],
    ['EPIPE', 'ambiguous'],
    ['ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'fatal'],
    ['SELF_SIGNED_CERT_IN_CHAIN', 'fatal'],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'fatal'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'fatal'],
    ['ESOMETHINGELSE', 'fatal'],
  ])('treats a fetch failing with %s as %s', (code, kind) => {
    const failure = classifyFailure(fetchFailed(code));
    expect(failure.kind).toBe(kind);
    expect(failure.detail).toContain(code);
  });

  it.each([
    [404, 'session-lost'],
    [500, 'failed'],
    [501, 'failed'],
    [502, 'retry'],
    [503, 'retry'],
    [504, 'retry'],
    [505, 'failed'],
    [400, 'rejected'],
    [401, 'rejected'],
    [403, 'rejected'],
    [413, 'rejected'],
    [429, 'rejected'],
  ])('treats HTTP %i as %s', (status, kind) => {
    const failure = classifyFailure(http(status, 'body text'));
    expect(failure).toMatchObject({ kind, status, body: 'body text' });
  });

  it('keeps the TLS error for explaining it', () => {
    const failure = classifyFailure(fetchFailed('CERT_HAS_EXPIRED', 'certificate has expired'));
    expect(failure.tlsError?.code).toBe('CERT_HAS_EXPIRED');
  });
});
