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
import { callRecord, type DecisionFacts } from './call-record';

interface AuditFacts {
  callId: string;
  intentWritten: boolean;
  /** The result the client gets; measured for the outcome record after the answer. */
  result?: Record<string, unknown>;
}

const META_CLIENT = 'io.modelcontextprotocol/clientInfo';
/** Set by `gatehouse bridge` (apps/cli `BRIDGE_VERSION_HEADER`); the CLI is an app, so not imported. */
const BRIDGE_VERSION_HEADER = 'gatehouse-bridge-version';
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
    this.facts(call).result = result;
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
    if (facts.result !== undefined) done.responseBytes = Buffer.byteLength(JSON.stringify(facts.result));
    records.push(done);
    // The client's answer does not wait for the outcome record: it is committed at once on a free
    // lane, while the client reads the answer, and flushed on shutdown (R25). A failure is logged;
    // the intent is already durable.
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
    const params = call.request.params ?? {};
    const clientInfo = (call.session?.clientInfo ??
      ((params._meta as Record<string, unknown> | undefined)?.[META_CLIENT] as
        Record<string, unknown> | undefined) ??
      {}) as { name?: unknown; version?: unknown };
    const trace = call.headers.traceparent;
    const bypass = call.facts.bypass as { grantId?: string } | undefined;
    return callRecord({
      kind,
      callId: this.facts(call).callId,
      occurredAt: new Date(),
      outcome,
      principal: call.principal,
      client: {
        name: clientInfo.name,
        version: clientInfo.version,
        bridgeVersion: bridgeVersion(call),
        ip: call.remoteAddress,
      },
      ...(call.session ? { sessionId: call.session.id } : {}),
      ...(call.server !== undefined ? { server: call.server } : {}),
      method: call.request.method,
      params: auditedParams(call),
      ...(call.facts.policy ? { decision: call.facts.policy } : {}),
      ...(call.facts.rateLimit ? { rateLimit: call.facts.rateLimit as Record<string, unknown> } : {}),
      ...(bypass?.grantId ? { bypassId: bypass.grantId } : {}),
      ...(typeof trace === 'string' ? { traceparent: trace } : {}),
      redactPaths: this.config.audit.redactPaths,
    });
  }
}

/**
 * The `gatehouse bridge` sends its version on every request; a client-chosen header, so only a
 * short printable value is kept.
 */
function bridgeVersion(call: CallContext): string | undefined {
  const value = call.headers[BRIDGE_VERSION_HEADER];
  return typeof value === 'string' && /^[\x21-\x7e]{1,100}$/.test(value) ? value : undefined;
}

/**
 * What the record says the call was about. A task call (13.3) is about a task: the record names
 * the tool that created it (when the caller owns it) and the task id as the client sent it, so a
 * task's result read later is found beside the call that started it.
 */
function auditedParams(call: CallContext): Record<string, unknown> {
  const params = call.upstreamParams ?? call.request.params ?? {};
  const taskId = call.request.params?.taskId;
  if (!call.request.method.startsWith('tasks/') || typeof taskId !== 'string') return params;
  const tool = call.task?.createdBy.params.name;
  return { ...(typeof tool === 'string' ? { name: tool } : {}), arguments: { taskId } };
}

/** What was decided before forwarding. */
function intentOutcome(call: CallContext, outcome?: CallOutcome): AuditOutcome {
  const decision = call.facts.policy as DecisionFacts | undefined;
  if (outcome?.errorCode === RATE_LIMITED_CODE) return 'rate_limited';
  if (decision?.error) return 'policy_error';
  if (decision?.outcome === 'deny') return 'denied';
  if (decision?.outcome === 'shadow-deny') return 'shadow_denied';
  if (decision?.outcome === 'bypass') return 'bypassed';
  return 'allowed';
}

/** How the call ended. */
function finalOutcome(call: CallContext, outcome: CallOutcome): AuditOutcome {
  if (outcome.aborted) return 'aborted';
  if (outcome.status === 'ok') return 'ok';
  const intent = intentOutcome(call, outcome);
  return intent === 'allowed' || intent === 'shadow_denied' || intent === 'bypassed' ? 'error' : intent;
}
