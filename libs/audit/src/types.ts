/**
 * What happened to a call or admin action, as the audit trail says it (issue 5). One list, so the
 * query API's filter and anything else that enumerates outcomes cannot fall behind the type.
 */
export const AUDIT_OUTCOMES = [
  'allowed',
  'denied',
  'shadow_denied',
  'rate_limited',
  'bypassed',
  'policy_error',
  'ok',
  'error',
  'aborted',
  /** A call a bridge ran on a legacy direct server in shadow mode; the gateway only decided it. */
  'shadow',
  /** A call a bridge ran on a direct server while the gateway was unreachable, uploaded later. */
  'fallback',
] as const;

export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

/**
 * One audit record. A call gets an `intent` record (written durably before anything is forwarded)
 * and an `outcome` record; admin API actions get two `admin` records (the attempt and its end). The writer adds the chain
 * fields (writer id, sequence, previous hash, hash) when it commits.
 */
export interface AuditRecord {
  /** Random UUID of the record. */
  id: string;
  kind: 'intent' | 'outcome' | 'admin';
  /** Shared by a call's intent and outcome. */
  callId: string;
  occurredAt: Date;
  outcome: AuditOutcome;
  principal: {
    subject: string;
    issuer: string;
    kind: string;
    name?: string;
    email?: string;
    groups: string[];
    certificateSubject?: string;
  };
  client: { name?: string; version?: string; bridgeVersion?: string; ip?: string };
  /** First 16 characters of the MCP session id (never the whole id: it is a capability). */
  session?: string;
  server?: string;
  tool?: string;
  method: string;
  action?: 'read' | 'write';
  /** The call's arguments with configured paths and secret-looking values redacted (R20). */
  arguments?: Record<string, unknown>;
  decision?: string;
  matchedRules: string[];
  policyVersion?: number;
  bypassId?: string;
  rateLimit?: Record<string, unknown>;
  /** Resources the inspectors found (`schema.table`, paths, repos). */
  touched: string[];
  /** Outcome records: JSON-RPC error code and message, latency split, response size. */
  errorCode?: number;
  errorMessage?: string;
  gatewayUs?: number;
  upstreamUs?: number;
  responseBytes?: number;
  traceId?: string;
  /** Admin records: what was done (e.g. `policy.activate`, `console.login`, `audit.query`) and to what. */
  adminAction?: string;
  adminTarget?: string;
}

/** Where records go; resolves once they are durable (committed), rejects when they cannot be. */
export interface AuditSink {
  append(records: AuditRecord[]): Promise<void>;
}

export const AUDIT_SINK = Symbol('AUDIT_SINK');
