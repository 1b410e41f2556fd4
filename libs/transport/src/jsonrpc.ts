/** JSON-RPC 2.0 framing as MCP uses it, plus the gateway's error vocabulary. */

export type JsonRpcId = string | number;

export interface JsonRpcRequest {
  jsonrpc: '2.0';
  id: JsonRpcId;
  method: string;
  params?: Record<string, unknown>;
}

export interface JsonRpcNotification {
  jsonrpc: '2.0';
  method: string;
  params?: Record<string, unknown>;
}

export interface JsonRpcResult {
  jsonrpc: '2.0';
  id: JsonRpcId;
  result: Record<string, unknown>;
}

export interface JsonRpcErrorResponse {
  jsonrpc: '2.0';
  id: JsonRpcId | null;
  error: { code: number; message: string; data?: unknown };
}

export type JsonRpcResponse = JsonRpcResult | JsonRpcErrorResponse;
export type JsonRpcMessage = JsonRpcRequest | JsonRpcNotification | JsonRpcResponse;

export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;
export const METHOD_NOT_FOUND = -32601;
export const INVALID_PARAMS = -32602;
export const INTERNAL_ERROR = -32603;
/** 2026-07-28: an HTTP routing header disagrees with the body. */
export const HEADER_MISMATCH = -32020;
/** 2026-07-28 (SEP-2575): the request's protocol version is not one the server speaks; data lists the supported ones. */
export const UNSUPPORTED_PROTOCOL_VERSION = -32022;
/** Gatehouse: no valid credentials (HTTP 401 with a WWW-Authenticate challenge). */
export const UNAUTHENTICATED = -32001;
/** Gatehouse: authenticated, but not allowed (HTTP 403). */
export const FORBIDDEN = -32003;
/** Gatehouse: a rate limit is exhausted; `data.retryAfterSeconds` says when to retry (HTTP 429). */
export const RATE_LIMITED = -32029;
/** Gatehouse: the audit trail cannot record the call, so it is not forwarded (R15, HTTP 503). */
export const AUDIT_UNAVAILABLE = -32030;

/** Why the gateway refused or failed a message; each maps to one HTTP status and one JSON-RPC code. */
export enum TransportErrorCode {
  PARSE_ERROR = 'PARSE_ERROR',
  INVALID_REQUEST = 'INVALID_REQUEST',
  BATCH_REJECTED = 'BATCH_REJECTED',
  TOO_DEEP = 'TOO_DEEP',
  METHOD_NOT_FOUND = 'METHOD_NOT_FOUND',
  INVALID_PARAMS = 'INVALID_PARAMS',
  UNKNOWN_SERVER = 'UNKNOWN_SERVER',
  UNKNOWN_NAME = 'UNKNOWN_NAME',
  SESSION_REQUIRED = 'SESSION_REQUIRED',
  SESSION_NOT_FOUND = 'SESSION_NOT_FOUND',
  UNSUPPORTED_VERSION = 'UNSUPPORTED_VERSION',
  HEADER_MISMATCH = 'HEADER_MISMATCH',
  ORIGIN_FORBIDDEN = 'ORIGIN_FORBIDDEN',
  HOST_FORBIDDEN = 'HOST_FORBIDDEN',
  NOT_ACCEPTABLE = 'NOT_ACCEPTABLE',
  UNSUPPORTED_MEDIA_TYPE = 'UNSUPPORTED_MEDIA_TYPE',
  UPSTREAM_UNAVAILABLE = 'UPSTREAM_UNAVAILABLE',
  UPSTREAM_TIMEOUT = 'UPSTREAM_TIMEOUT',
  UPSTREAM_LIMIT = 'UPSTREAM_LIMIT',
  /** The principal holds as many per-session upstream connections as it may (HTTP 429). */
  TOO_MANY_UPSTREAM_SESSIONS = 'TOO_MANY_UPSTREAM_SESSIONS',
  /** The replica (or that upstream) runs as many per-session connections as it may (HTTP 503). */
  UPSTREAM_CAPACITY = 'UPSTREAM_CAPACITY',
  CLIENT_CANNOT_ANSWER = 'CLIENT_CANNOT_ANSWER',
  SHUTTING_DOWN = 'SHUTTING_DOWN',
  UNAUTHENTICATED = 'UNAUTHENTICATED',
  FORBIDDEN = 'FORBIDDEN',
  /** The policy denies this call; `data` carries the decision (rules, reason, policy version). */
  POLICY_DENIED = 'POLICY_DENIED',
  /** A limit is exhausted; `data.retryAfterSeconds` is set. */
  RATE_LIMITED = 'RATE_LIMITED',
  /** The intent record could not be written durably; nothing was forwarded. */
  AUDIT_UNAVAILABLE = 'AUDIT_UNAVAILABLE',
  IDENTITY_UNAVAILABLE = 'IDENTITY_UNAVAILABLE',
  INTERNAL = 'INTERNAL',
}

export class TransportError extends Error {
  constructor(
    readonly code: TransportErrorCode,
    message: string,
    readonly data?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'TransportError';
  }
}

function assertUnreachable(value: never): never {
  throw new Error(`unhandled case ${String(value)}`);
}

/** The one mapping from a gateway error to HTTP status and JSON-RPC code; a new code that is not mapped fails to compile. */
export function errorMapping(code: TransportErrorCode): { status: number; rpc: number } {
  switch (code) {
    case TransportErrorCode.PARSE_ERROR:
      return { status: 400, rpc: PARSE_ERROR };
    case TransportErrorCode.INVALID_REQUEST:
    case TransportErrorCode.BATCH_REJECTED:
    case TransportErrorCode.TOO_DEEP:
      return { status: 400, rpc: INVALID_REQUEST };
    case TransportErrorCode.METHOD_NOT_FOUND:
      return { status: 200, rpc: METHOD_NOT_FOUND };
    case TransportErrorCode.INVALID_PARAMS:
    case TransportErrorCode.UNKNOWN_NAME:
      return { status: 200, rpc: INVALID_PARAMS };
    case TransportErrorCode.UNKNOWN_SERVER:
      return { status: 404, rpc: INVALID_PARAMS };
    case TransportErrorCode.SESSION_REQUIRED:
      return { status: 400, rpc: INVALID_REQUEST };
    case TransportErrorCode.SESSION_NOT_FOUND:
      return { status: 404, rpc: INVALID_REQUEST };
    case TransportErrorCode.UNSUPPORTED_VERSION:
      return { status: 400, rpc: UNSUPPORTED_PROTOCOL_VERSION };
    case TransportErrorCode.HEADER_MISMATCH:
      return { status: 400, rpc: HEADER_MISMATCH };
    case TransportErrorCode.ORIGIN_FORBIDDEN:
    case TransportErrorCode.HOST_FORBIDDEN:
      return { status: 403, rpc: INVALID_REQUEST };
    case TransportErrorCode.NOT_ACCEPTABLE:
      return { status: 406, rpc: INVALID_REQUEST };
    case TransportErrorCode.UNSUPPORTED_MEDIA_TYPE:
      return { status: 415, rpc: INVALID_REQUEST };
    case TransportErrorCode.UPSTREAM_UNAVAILABLE:
    case TransportErrorCode.UPSTREAM_TIMEOUT:
    case TransportErrorCode.UPSTREAM_LIMIT:
    case TransportErrorCode.CLIENT_CANNOT_ANSWER:
      return { status: 200, rpc: INTERNAL_ERROR };
    case TransportErrorCode.SHUTTING_DOWN:
    case TransportErrorCode.IDENTITY_UNAVAILABLE:
    case TransportErrorCode.UPSTREAM_CAPACITY:
      return { status: 503, rpc: INTERNAL_ERROR };
    case TransportErrorCode.TOO_MANY_UPSTREAM_SESSIONS:
      return { status: 429, rpc: RATE_LIMITED };
    case TransportErrorCode.UNAUTHENTICATED:
      return { status: 401, rpc: UNAUTHENTICATED };
    case TransportErrorCode.FORBIDDEN:
      return { status: 403, rpc: FORBIDDEN };
    case TransportErrorCode.RATE_LIMITED:
      return { status: 429, rpc: RATE_LIMITED };
    case TransportErrorCode.AUDIT_UNAVAILABLE:
      return { status: 503, rpc: AUDIT_UNAVAILABLE };
    case TransportErrorCode.POLICY_DENIED:
      // The HTTP exchange itself was fine: the refusal is the call's JSON-RPC answer.
      return { status: 200, rpc: FORBIDDEN };
    case TransportErrorCode.INTERNAL:
      return { status: 500, rpc: INTERNAL_ERROR };
    default:
      return assertUnreachable(code);
  }
}

export function errorResponse(id: JsonRpcId | null, err: TransportError): JsonRpcErrorResponse {
  return {
    jsonrpc: '2.0',
    id,
    error: {
      code: errorMapping(err.code).rpc,
      message: err.message,
      data: { reason: err.code, ...err.data },
    },
  };
}

export function isRequest(m: JsonRpcMessage): m is JsonRpcRequest {
  return 'method' in m && 'id' in m && m.id !== undefined;
}

export function isNotification(m: JsonRpcMessage): m is JsonRpcNotification {
  return 'method' in m && !('id' in m && m.id !== undefined);
}

/**
 * Checks one decoded value is a JSON-RPC 2.0 message MCP allows. Throws a {@link TransportError}
 * naming what is wrong, so the client learns the reason instead of a bare -32600.
 */
export function validateMessage(value: unknown, maxDepth: number): JsonRpcMessage {
  if (Array.isArray(value)) {
    throw new TransportError(
      TransportErrorCode.BATCH_REJECTED,
      'JSON-RPC batches are not supported from protocol 2025-06-18 on; send one message per request',
    );
  }
  if (!value || typeof value !== 'object') {
    throw new TransportError(TransportErrorCode.INVALID_REQUEST, 'the body must be a JSON-RPC object');
  }
  if (depthExceeds(value, maxDepth)) {
    throw new TransportError(TransportErrorCode.TOO_DEEP, `the message nests deeper than ${maxDepth} levels`);
  }
  const m = value as Record<string, unknown>;
  if (m.jsonrpc !== '2.0')
    throw new TransportError(TransportErrorCode.INVALID_REQUEST, 'jsonrpc must be "2.0"');
  const hasId = 'id' in m;
  if (hasId && !(typeof m.id === 'string' || (typeof m.id === 'number' && Number.isFinite(m.id)))) {
    throw new TransportError(
      TransportErrorCode.INVALID_REQUEST,
      'id must be a string or a number (MCP forbids null)',
    );
  }
  if ('method' in m) {
    if (typeof m.method !== 'string' || m.method.length === 0) {
      throw new TransportError(TransportErrorCode.INVALID_REQUEST, 'method must be a non-empty string');
    }
    if ('params' in m && (typeof m.params !== 'object' || m.params === null || Array.isArray(m.params))) {
      throw new TransportError(TransportErrorCode.INVALID_REQUEST, 'params must be an object');
    }
    return m as unknown as JsonRpcMessage;
  }
  if (hasId && ('result' in m || 'error' in m)) return m as unknown as JsonRpcMessage;
  throw new TransportError(
    TransportErrorCode.INVALID_REQUEST,
    'not a JSON-RPC request, notification or response (method or result/error missing)',
  );
}

function depthExceeds(root: object, max: number): boolean {
  const stack: Array<[unknown, number]> = [[root, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop() as [unknown, number];
    if (depth > max) return true;
    if (node && typeof node === 'object') {
      for (const child of Object.values(node)) {
        if (child && typeof child === 'object') stack.push([child, depth + 1]);
      }
    }
  }
  return false;
}
