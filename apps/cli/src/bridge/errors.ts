/** Why the bridge had to answer a host request itself instead of relaying the gateway's answer. */
export enum BridgeErrorCode {
  /** Nothing answered at the gateway's address (or only 502/503/504) for the whole retry budget. */
  GATEWAY_UNREACHABLE = 'GATEWAY_UNREACHABLE',
  /** The gateway answered with an HTTP status that retrying cannot fix (401, 403, 413, ...). */
  GATEWAY_REJECTED = 'GATEWAY_REJECTED',
  /** The connection could not be made for a reason retrying cannot fix (TLS, certificates, bad address). */
  CONNECTION_FAILED = 'CONNECTION_FAILED',
  /** The request may have reached the gateway but its response stream broke; not resent to avoid a double call. */
  RESPONSE_LOST = 'RESPONSE_LOST',
  /** The gateway did not start answering within `--timeout`. */
  TIMEOUT = 'TIMEOUT',
  /** The gateway forgot the session and re-establishing it failed. */
  SESSION_LOST = 'SESSION_LOST',
  /** The bridge is shutting down (stdin closed or a signal). */
  SHUTTING_DOWN = 'SHUTTING_DOWN',
  /** The gateway answered 500 (or another 5xx but 502/503/504) without a JSON-RPC error; not resent, as it may have run. */
  GATEWAY_FAILED = 'GATEWAY_FAILED',
  /** No usable login: the gateway refused the token (401), or the stored login could not be refreshed; the message says what to run. */
  LOGIN_REQUIRED = 'LOGIN_REQUIRED',
  /** The stored login's access token expired and the IdP could not be reached to refresh it, for the whole retry budget. */
  IDP_UNREACHABLE = 'IDP_UNREACHABLE',
}

/** Extra facts carried in the JSON-RPC error's `data`, for hosts and for people reading logs. */
export interface BridgeErrorDetails {
  url?: string;
  status?: number;
  attempts?: number;
  elapsedMs?: number;
  cause?: string;
}

/** A failure of the bridge itself, mapped to a JSON-RPC error by {@link toJsonRpcError}. */
export class BridgeError extends Error {
  constructor(
    readonly code: BridgeErrorCode,
    message: string,
    readonly details: BridgeErrorDetails = {},
    /**
     * The failure proves the gateway unreachable (see `isGatewayUnreachable`): the message never
     * reached Gatehouse. Only such a failure may send a call to the direct server in fallback mode.
     */
    readonly unreachable = false,
  ) {
    super(message);
    this.name = 'BridgeError';
  }
}

function assertUnreachable(value: never): never {
  throw new Error(`unhandled bridge error code: ${String(value)}`);
}

/**
 * JSON-RPC error code for each bridge failure, in the implementation-defined
 * server-error range (-32000..-32099) so hosts can tell them from the
 * gateway's own errors.
 */
export function jsonRpcCodeOf(code: BridgeErrorCode): number {
  switch (code) {
    case BridgeErrorCode.GATEWAY_UNREACHABLE:
      return -32010;
    case BridgeErrorCode.GATEWAY_REJECTED:
      return -32011;
    case BridgeErrorCode.CONNECTION_FAILED:
      return -32012;
    case BridgeErrorCode.RESPONSE_LOST:
      return -32013;
    case BridgeErrorCode.TIMEOUT:
      return -32014;
    case BridgeErrorCode.SESSION_LOST:
      return -32015;
    case BridgeErrorCode.SHUTTING_DOWN:
      return -32016;
    case BridgeErrorCode.GATEWAY_FAILED:
      return -32017;
    case BridgeErrorCode.LOGIN_REQUIRED:
      return -32018;
    case BridgeErrorCode.IDP_UNREACHABLE:
      return -32019;
    default:
      return assertUnreachable(code);
  }
}

/** The `error` member of the JSON-RPC response the host receives for a failed request. */
export function toJsonRpcError(error: BridgeError): {
  code: number;
  message: string;
  data: Record<string, unknown>;
} {
  return {
    code: jsonRpcCodeOf(error.code),
    message: `Gatehouse bridge: ${error.message}`,
    data: { reason: error.code, ...error.details },
  };
}
