/**
 * Calls a bridge ran on a direct (legacy) MCP server and reports to the gateway afterwards
 * (issue 5 points 12 and 13): in shadow mode each call as it happens, in fallback mode the
 * spool of calls made while the gateway was unreachable. The gateway decides each call with the
 * active policy (it never forwards anything upstream) and records it with outcome `shadow` or
 * `fallback` and the original times. Shared by the gateway's ingest endpoint and the bridge.
 * Changes are additive only.
 */
export type IngestMode = 'shadow' | 'fallback';

/** `POST` with a bearer token (the bridge's own), JSON body {@link IngestRequest}. */
export const INGEST_PATH = '/api/v1/audit/ingest';

/** Most calls in one request; a bigger spool is uploaded in several requests, oldest first. */
export const INGEST_MAX_CALLS = 500;

/*
 * Added by the gateway side (B1), additive: the limits the endpoint enforces. A request that breaks
 * any of them gets 400 with `{ error: { code: 'INVALID_REQUEST', message, issues: [{ path, message }] } }`
 * naming each offending call index and field (`calls[3].startedAt`), and nothing of that request is
 * stored. The whole body is also capped by the gateway's `server.bodyLimitBytes` (default 4 MiB;
 * 413 over it), so a bridge splits a spool by size as well as by count. Unknown fields are refused.
 */

/**
 * The methods a report may name: what the gateway's pipeline records. Requests that are not calls
 * (`initialize`, notifications, responses) are not reported.
 */
export const INGEST_METHODS = [
  'tools/call',
  'prompts/get',
  'resources/read',
  'resources/subscribe',
  'resources/unsubscribe',
  'completion/complete',
  'tools/list',
  'prompts/list',
  'resources/list',
  'resources/templates/list',
  'ping',
  'logging/setLevel',
] as const;

/**
 * `startedAt`, and `startedAt + durationMs`, at most this far in the future by default (clock skew
 * between bridge and gateway; the gateway's `audit.ingest.maxFutureSeconds`).
 */
export const INGEST_MAX_FUTURE_MS = 60_000;

/**
 * The oldest `startedAt` any gateway can be configured to take (30 days, the ceiling of
 * `audit.ingest.maxAgeHours`): a spool older than that is refused rather than written into months
 * an auditor may already have archived and verified. Keep older spools for a manual import.
 */
export const INGEST_MAX_AGE_MS = 30 * 24 * 60 * 60 * 1000;

/** The oldest `startedAt` a gateway takes by default (7 days; `audit.ingest.maxAgeHours`). */
export const INGEST_DEFAULT_MAX_AGE_MS = 7 * 24 * 60 * 60 * 1000;

/*
 * Added in issue 13, additive: a call naming a server the gateway has no upstream for is refused
 * (400, `calls[i].server`) instead of stored; a principal over its ingest rate gets 429 with
 * `Retry-After` and `{ error: { code: 'RATE_LIMITED', message } }`, nothing stored.
 */

/** `durationMs` at most a day. */
export const INGEST_MAX_DURATION_MS = 24 * 60 * 60 * 1000;

/** A call's `params`, as JSON, at most this many bytes (1 MiB) and 64 levels deep. */
export const INGEST_MAX_PARAMS_BYTES = 1024 * 1024;

/** `errorMessage` at most this many characters; a bridge truncates longer messages. */
export const INGEST_MAX_ERROR_MESSAGE = 8192;

export interface IngestCall {
  /**
   * UUID the bridge gave the call when it ran it; the same id uploaded twice is stored once. A
   * re-upload sends the call unchanged: duplicates are looked up by id among the caller's calls of
   * the same mode that started within the request's `startedAt` range.
   */
  id: string;
  /**
   * The gateway upstream name the call would have gone to (policy decides by it): one of the
   * gateway's upstreams. A name it has no upstream for is refused (400 naming `calls[i].server`).
   */
  server: string;
  /** One of {@link INGEST_METHODS}, as sent to the direct server. */
  method: string;
  /**
   * The request params as sent to the direct server (tool name without any gateway prefix): an
   * object; `tools/call` and `prompts/get` need a non-empty `name` (and `arguments`, if any, an
   * object), `resources/read|subscribe|unsubscribe` a non-empty `uri`, `completion/complete` a `ref`.
   */
  params: Record<string, unknown>;
  /** When the bridge started the call, ISO 8601 with offset. */
  startedAt: string;
  /** How long the direct server took, in milliseconds. */
  durationMs: number;
  status: 'ok' | 'error';
  /**
   * JSON-RPC error code, or -32603 for a transport failure of the direct server. Required when
   * `status` is `error`, refused when it is `ok`.
   */
  errorCode?: number;
  errorMessage?: string;
  /** Size of the JSON result in bytes. */
  responseBytes?: number;
}

export interface IngestRequest {
  mode: IngestMode;
  /** The MCP host behind the bridge (its initialize clientInfo; each at most 200 characters). */
  client?: { name?: string; version?: string };
  /** The bridge's version (`gatehouse --version`; at most 100 characters). */
  bridgeVersion?: string;
  /** 1 to {@link INGEST_MAX_CALLS} calls. */
  calls: IngestCall[];
}

/**
 * What the active policy says of one reported call (it already ran: this is for the trail and the
 * logs). Methods the policy does not decide (lists, ping) answer `allow` with no rules.
 */
export interface IngestDecision {
  id: string;
  decision: 'allow' | 'deny' | 'shadow-deny';
  /** Human reason, as a deny at the gateway would give it. */
  reason: string;
  matchedRules: string[];
  policyVersion?: number;
  /** false when an earlier upload already stored this id (nothing stored twice). */
  stored: boolean;
}

export interface IngestResponse {
  stored: number;
  duplicates: number;
  decisions: IngestDecision[];
}
