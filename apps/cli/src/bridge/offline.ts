import type { Failure } from './retry';

/**
 * TLS failures that are the gateway refusing *us* (our client certificate), as opposed to the
 * handshake not working at all. A refusal is a decision of the gateway's operator and must not
 * be routed around.
 */
const CERTIFICATE_REFUSED = [
  'CERTIFICATE_REQUIRED',
  'ALERT_UNKNOWN_CA',
  'ALERT_BAD_CERTIFICATE',
  'CERTIFICATE_UNKNOWN',
];

/**
 * Whether a failed send proves the gateway is *unreachable*, which is the only thing that may
 * send a host's call to the direct server in `--fallback` mode:
 *
 * - the message never reached a gateway process: connection refused or reset before sending,
 *   DNS failure, host or network unreachable, connect timeout (kind `retry` without a status);
 * - a proxy or load balancer answered 502/503/504 with a body that is *not* a JSON-RPC answer
 *   (no Gatehouse behind it);
 * - the TLS handshake failed for another reason than our certificate being refused.
 *
 * Everything Gatehouse itself says is a refusal, never unreachability: a policy deny (-32003),
 * a rate limit (429), audit unavailable (503 with a JSON-RPC body), 401 and 403. Routing those to
 * the direct server would bypass the policy. A timeout or a connection that broke after the
 * request was sent is not unreachability either: the call may have run at the gateway, and a
 * write must never run twice.
 */
export function isGatewayUnreachable(failure: Failure): boolean {
  switch (failure.kind) {
    case 'retry':
      if (failure.status === undefined) return true;
      return !isJsonRpcAnswer(failure.body);
    case 'fatal': {
      const code = failure.tlsError?.code;
      if (code === undefined) return false;
      return !CERTIFICATE_REFUSED.some((refused) => code.includes(refused));
    }
    case 'session-lost':
    case 'ambiguous':
    case 'timeout':
    case 'failed':
    case 'rejected':
      return false;
    default:
      return assertUnreachable(failure.kind);
  }
}

/** True when an HTTP error body is a JSON-RPC response: Gatehouse answered, whatever the status. */
export function isJsonRpcAnswer(body: string | undefined): boolean {
  if (body === undefined || body.trim() === '') return false;
  try {
    const parsed = JSON.parse(body) as { jsonrpc?: unknown; error?: unknown; result?: unknown } | null;
    return (
      parsed !== null &&
      typeof parsed === 'object' &&
      parsed.jsonrpc === '2.0' &&
      (typeof parsed.error === 'object' || 'result' in parsed)
    );
  } catch {
    return false;
  }
}

function assertUnreachable(value: never): never {
  throw new Error(`unhandled failure kind: ${String(value)}`);
}
