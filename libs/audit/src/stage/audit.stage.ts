import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '@gatehouse/config';
import { LOGGER, type Logger } from '@gatehouse/observability';
import {
  type CallContext,
  type CallOutcome,
  type CallStage,
  errorMapping,
  TransportError,
  TransportErrorCode,
} from '@gatehouse/transport';
import { AUDIT_SINK, type AuditOutcome, type AuditRecord, type AuditSink } from '../types';
import { redactArguments } from './redact';

/** What the policy stage leaves in `call.facts.policy` (kept structural: audit does not import policy). */
interface DecisionFacts {
  outcome?: 'allow' | 'deny' | 'shadow-deny';
  matchedRules?: string[];
  policyVersion?: number;
  touched?: string[];
  action?: 'read' | 'write';
  error?: true;
}

interface AuditFacts {
  callId: string;
  intentWritten: boolean;
  responseBytes?: number;
}

const META_CLIENT = 'io.modelcontextprotocol/clientInfo';
const RATE_LIMITED_CODE = errorMapping(TransportErrorCode.RATE_LIMITED).rpc;

/**
 * The audit trail in the call pipeline, last before the upstream: an intent record is committed
 * before anything is forwarded, or the call is refused (R15); every call, refused or not, gets an
 * outcome record after (denied, rate-limited and shadow-denied calls included).
 */
@Injectable()
export class AuditStage implements CallStage {
  readonly name = 'audit';

  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    @Inject(AUDIT_SINK) private readonly sink: AuditSink,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async before(call: CallContext): Promise<void> {
    const facts = this.facts(call);
    try {
      await this.sink.append([this.record(call, 'intent', intentOutcome(call))]);
    } catch (err) {
      this.logger.error(
        { err, method: call.request.method, server: call.server },
        'audit intent not written; call refused',
      );
      throw new TransportError(
        TransportErrorCode.AUDIT_UNAVAILABLE,
        'the audit trail cannot record this call right now, so it was not forwarded; retry shortly',
      );
    }
    facts.intentWritten = true;
  }

  result(call: CallContext, result: Record<string, unknown>): Record<string, unknown> {
    this.facts(call).responseBytes = Buffer.byteLength(JSON.stringify(result));
    return result;
  }

  async after(call: CallContext, outcome: CallOutcome): Promise<void> {
    const facts = this.facts(call);
    const records: AuditRecord[] = [];
    // Refused before this stage (policy, rate limit): intent and outcome go together.
    if (!facts.intentWritten) records.push(this.record(call, 'intent', intentOutcome(call, outcome)));
    const done = this.record(call, 'outcome', finalOutcome(call, outcome));
    if (outcome.errorCode !== undefined) done.errorCode = outcome.errorCode;
    if (outcome.errorMessage !== undefined) done.errorMessage = outcome.errorMessage;
    const totalUs = Number((process.hrtime.bigint() - call.startedAt) / 1000n);
    const upstreamUs = Number((outcome.upstreamNs ?? 0n) / 1000n);
    done.upstreamUs = upstreamUs;
    done.gatewayUs = Math.max(0, totalUs - upstreamUs);
    if (facts.responseBytes !== undefined) done.responseBytes = facts.responseBytes;
    records.push(done);
    // The client's answer does not wait for the outcome record: it is queued, written in the next
    // group commit, and flushed on shutdown (R25). A failure is logged; the intent is already durable.
    this.sink
      .append(records)
      .catch((err: unknown) => this.logger.error({ err, callId: facts.callId }, 'audit outcome not written'));
  }

  private facts(call: CallContext): AuditFacts {
    let facts = call.facts.audit as AuditFacts | undefined;
    if (!facts) call.facts.audit = facts = { callId: randomUUID(), intentWritten: false };
    return facts;
  }

  private record(call: CallContext, kind: 'intent' | 'outcome', outcome: AuditOutcome): AuditRecord {
    const { principal, request } = call;
    const decision = call.facts.policy as DecisionFacts | undefined;
    const params = request.params ?? {};
    const clientInfo = (call.session?.clientInfo ??
      ((params._meta as Record<string, unknown> | undefined)?.[META_CLIENT] as
        Record<string, unknown> | undefined) ??
      {}) as { name?: unknown; version?: unknown };
    const upstream = call.upstreamParams ?? params;
    const args = upstream.arguments;
    const record: AuditRecord = {
      id: randomUUID(),
      kind,
      callId: this.facts(call).callId,
      occurredAt: new Date(),
      outcome,
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
        ...(typeof clientInfo.name === 'string' ? { name: clientInfo.name } : {}),
        ...(typeof clientInfo.version === 'string' ? { version: clientInfo.version } : {}),
        ...(call.remoteAddress ? { ip: call.remoteAddress } : {}),
      },
      method: request.method,
      matchedRules: decision?.matchedRules ?? [],
      touched: decision?.touched ?? [],
    };
    if (call.session) record.session = call.session.id.slice(0, 16);
    if (call.server && call.server !== '*') record.server = call.server;
    const name = upstream.name ?? upstream.uri;
    if (typeof name === 'string') record.tool = name;
    if (decision?.action) record.action = decision.action;
    if (args && typeof args === 'object' && !Array.isArray(args)) {
      record.arguments = redactArguments(args as Record<string, unknown>, this.config.audit.redactPaths);
    }
    if (decision?.outcome) record.decision = decision.outcome;
    if (decision?.policyVersion !== undefined) record.policyVersion = decision.policyVersion;
    const limits = call.facts.rateLimit as Record<string, unknown> | undefined;
    if (limits) record.rateLimit = limits;
    const trace = call.headers.traceparent;
    if (typeof trace === 'string') record.traceId = trace.split('-')[1] ?? trace;
    return record;
  }
}

/** What was decided before forwarding. */
function intentOutcome(call: CallContext, outcome?: CallOutcome): AuditOutcome {
  const decision = call.facts.policy as DecisionFacts | undefined;
  if (outcome?.errorCode === RATE_LIMITED_CODE) return 'rate_limited';
  if (decision?.error) return 'policy_error';
  if (decision?.outcome === 'deny') return 'denied';
  if (decision?.outcome === 'shadow-deny') return 'shadow_denied';
  return 'allowed';
}

/** How the call ended. */
function finalOutcome(call: CallContext, outcome: CallOutcome): AuditOutcome {
  if (outcome.aborted) return 'aborted';
  if (outcome.status === 'ok') return 'ok';
  const intent = intentOutcome(call, outcome);
  return intent === 'allowed' || intent === 'shadow_denied' ? 'error' : intent;
}
