import { randomUUID } from 'node:crypto';
import type { Principal } from '@gatehouse/auth';
import type { AuditOutcome, AuditRecord } from '../types';
import { redactArguments } from './redact';

/**
 * What the policy decided of a call, as the audit keeps it: the policy stage's `call.facts.policy`
 * or a `PolicyStage.evaluate` decision. Structural, so records are built the same way from both.
 */
export interface DecisionFacts {
  /** `bypass`: the policy denied and an active break-glass grant lifted the deny. */
  outcome?: 'allow' | 'deny' | 'shadow-deny' | 'bypass';
  matchedRules?: string[];
  policyVersion?: number;
  touched?: string[];
  action?: 'read' | 'write';
  error?: true;
}

/** Everything an intent or outcome record of a call is made of. */
export interface CallRecordInput {
  kind: 'intent' | 'outcome';
  /** Shared by the call's intent and outcome. */
  callId: string;
  occurredAt: Date;
  outcome: AuditOutcome;
  principal: Principal;
  client: { name?: unknown; version?: unknown; bridgeVersion?: unknown; ip?: string | undefined };
  /** The MCP session id; only its first 16 characters are kept (the whole id is a capability). */
  sessionId?: string;
  /** The upstream; `*` (the aggregated endpoint itself) is not recorded as a server. */
  server?: string;
  method: string;
  /** The params as the upstream sees them (tool names without the gateway's prefix). */
  params: Record<string, unknown>;
  decision?: DecisionFacts;
  rateLimit?: Record<string, unknown>;
  /** The break-glass grant the call went through under (a lifted deny or lifted limits). */
  bypassId?: string;
  /** A W3C `traceparent` header; its trace id is kept. */
  traceparent?: string;
  /** `audit.redactPaths` (R20). */
  redactPaths: readonly string[];
}

/**
 * One intent or outcome record of a call. The pipeline's {@link AuditStage} and the ingest
 * endpoint (calls a bridge ran itself) both build their records here, so a reported call reads
 * in the trail exactly like a call through the gateway. Arguments are redacted (R20); text that
 * came from a client or an upstream is made storable by the writer (`contentRow`).
 */
export function callRecord(input: CallRecordInput): AuditRecord {
  const { principal, client, params, decision } = input;
  const record: AuditRecord = {
    id: randomUUID(),
    kind: input.kind,
    callId: input.callId,
    occurredAt: input.occurredAt,
    outcome: input.outcome,
    principal: {
      subject: principal.subject,
      issuer: principal.issuer,
      kind: principal.kind,
      groups: principal.groups,
      ...(principal.name !== undefined ? { name: principal.name } : {}),
      ...(principal.email !== undefined ? { email: principal.email } : {}),
      ...(principal.certificate ? { certificateSubject: principal.certificate.subject } : {}),
    },
    client: {
      ...(typeof client.name === 'string' ? { name: client.name } : {}),
      ...(typeof client.version === 'string' ? { version: client.version } : {}),
      ...(typeof client.bridgeVersion === 'string' ? { bridgeVersion: client.bridgeVersion } : {}),
      ...(client.ip ? { ip: client.ip } : {}),
    },
    method: input.method,
    matchedRules: decision?.matchedRules ?? [],
    touched: decision?.touched ?? [],
  };
  if (input.sessionId) record.session = input.sessionId.slice(0, 16);
  if (input.server && input.server !== '*') record.server = input.server;
  const name = params.name ?? params.uri;
  if (typeof name === 'string') record.tool = name;
  if (decision?.action) record.action = decision.action;
  const args = params.arguments;
  if (args && typeof args === 'object' && !Array.isArray(args)) {
    record.arguments = redactArguments(args as Record<string, unknown>, input.redactPaths);
  }
  if (decision?.outcome) record.decision = decision.outcome;
  if (decision?.policyVersion !== undefined) record.policyVersion = decision.policyVersion;
  if (input.rateLimit) record.rateLimit = input.rateLimit;
  if (input.bypassId !== undefined) record.bypassId = input.bypassId;
  if (input.traceparent !== undefined) {
    record.traceId = input.traceparent.split('-')[1] ?? input.traceparent;
  }
  return record;
}
