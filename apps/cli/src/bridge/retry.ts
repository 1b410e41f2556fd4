import { SdkError, SdkErrorCode, SdkHttpError } from '@modelcontextprotocol/client';

/** Bounds on how long and how often the bridge retries a message the gateway did not take. */
export interface RetryPolicy {
  /** Retries after the first attempt. */
  retries: number;
  /** Ceiling of the first backoff delay; doubles each retry. */
  initialDelayMs: number;
  /** Largest single backoff delay. */
  maxDelayMs: number;
  /** No retry starts once this much time has passed since the first attempt. */
  budgetMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  retries: 8,
  initialDelayMs: 250,
  maxDelayMs: 5_000,
  budgetMs: 60_000,
};

/**
 * Delay before retry number `retry` (0-based): exponential growth capped at
 * `maxDelayMs`, with "equal jitter" (half fixed, half random) so many bridges
 * restarting against one gateway spread out without ever retrying instantly.
 */
export function backoffDelay(policy: RetryPolicy, retry: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** retry);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/**
 * What a failed send means for delivery:
 * - `retry`: the gateway certainly did not process it (nothing listening, or 502/503/504); safe to resend.
 * - `session-lost`: HTTP 404 on a session; re-establish, then resend.
 * - `ambiguous`: the connection broke after the message may have been read; resending a request could run it twice.
 * - `timeout`: no response headers within the timeout; the gateway may be working on it.
 * - `failed`: another 5xx (500, 501, ...): the gateway may have run the message before failing, so it is not resent.
 * - `rejected`: an HTTP answer retrying cannot change; `body` is what the gateway said.
 * - `fatal`: a local or TLS failure retrying cannot change.
 */
export type FailureKind =
  'retry' | 'session-lost' | 'ambiguous' | 'timeout' | 'failed' | 'rejected' | 'fatal';

export interface Failure {
  kind: FailureKind;
  /** One line naming the cause, safe to show (never contains headers). */
  detail: string;
  status?: number;
  body?: string;
  /** The TLS error, when TLS is the cause. */
  tlsError?: Error & { code?: string };
}

/** Socket errors that prove the message never reached the gateway process. */
const NOT_DELIVERED = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** Errors where the connection died mid-exchange. */
const BROKEN_CONNECTION = new Set([
  'ECONNRESET',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'ECONNABORTED',
]);

const TIMEOUT = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/**
 * Statuses that mean the message was not processed: a proxy found no gateway
 * behind it (502, 504) or the gateway refused before doing anything (503, as a
 * draining replica answers). Any other 5xx can come after the call ran.
 */
const NOT_PROCESSED_STATUS = new Set([502, 503, 504]);

function isTlsCode(code: string): boolean {
  return (
    code.startsWith('ERR_SSL_') ||
    code.startsWith('ERR_TLS_') ||
    code.startsWith('CERT_') ||
    code.startsWith('UNABLE_TO_') ||
    code.includes('SELF_SIGNED') ||
    code === 'ERR_OSSL_PEM_NO_START_LINE' ||
    code === 'HOSTNAME_MISMATCH'
  );
}

interface Coded {
  code?: unknown;
  message?: unknown;
  cause?: unknown;
}

/** Walks an error and its `cause` chain (undici wraps socket errors in `TypeError: fetch failed`). */
function chain(error: unknown): Coded[] {
  const out: Coded[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 6 && current !== null && typeof current === 'object'; depth++) {
    out.push(current);
    current = (current as Coded).cause;
  }
  return out;
}

function describe(links: Coded[]): string {
  const parts: string[] = [];
  for (const link of links) {
    const message = typeof link.message === 'string' ? link.message : '';
    const code = typeof link.code === 'string' ? link.code : '';
    const text = code && !message.includes(code) ? `${message} (${code})` : message;
    if (text && !parts.includes(text)) parts.push(text);
  }
  return parts.join(': ') || 'unknown error';
}

/** Sorts a failed `transport.send` into what the bridge should do next. */
export function classifyFailure(error: unknown): Failure {
  if (error instanceof SdkHttpError) {
    const status = error.status;
    const text = error.data.text;
    const body = typeof text === 'string' ? text : undefined;
    const detail = `HTTP ${status}${error.statusText ? ` ${error.statusText}` : ''}`;
    if (status === 404) return { kind: 'session-lost', detail, status, body };
    if (NOT_PROCESSED_STATUS.has(status)) return { kind: 'retry', detail, status, body };
    if (status >= 500) return { kind: 'failed', detail, status, body };
    return { kind: 'rejected', detail, status, body };
  }
  if (error instanceof SdkError && error.code === SdkErrorCode.ClientHttpUnexpectedContent) {
    return { kind: 'fatal', detail: error.message };
  }
  const links = chain(error);
  const detail = describe(links);
  // TLS is checked first: a refused client certificate often surfaces as a reset too.
  for (const link of links) {
    if (typeof link.code === 'string' && isTlsCode(link.code)) {
      const tlsError = Object.assign(new Error(typeof link.message === 'string' ? link.message : detail), {
        code: link.code,
      });
      return { kind: 'fatal', detail, tlsError };
    }
  }
  for (const link of links) {
    if (typeof link.code !== 'string') continue;
    if (NOT_DELIVERED.has(link.code)) return { kind: 'retry', detail };
    if (TIMEOUT.has(link.code)) return { kind: 'timeout', detail };
    if (BROKEN_CONNECTION.has(link.code)) return { kind: 'ambiguous', detail };
  }
  return { kind: 'fatal', detail };
}
