import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { principalKey, type Principal } from '@gatehouse/auth';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '@gatehouse/config';
import { LOGGER, Metrics, type Logger } from '@gatehouse/observability';
import { PolicyStage } from '@gatehouse/policy';
import { callRecord, type DecisionFacts } from '../stage/call-record';
import { AUDIT_SINK, type AuditRecord, type AuditSink } from '../types';
import type { IngestCall, IngestDecision, IngestRequest, IngestResponse } from './contract';
import { IngestError, IngestErrorCode } from './ingest-error';
import { Serial } from './serial';

/** Who reported, from where: the authenticated caller, never anything in the body. */
export interface Reporter {
  principal: Principal;
  ip?: string;
}

/** One reported call, decided, with its two records. */
interface Prepared {
  decision: Omit<IngestDecision, 'stored'>;
  records: AuditRecord[];
}

type Query = (sql: string, params: unknown[]) => Promise<Array<{ call_id: string }>>;

/**
 * Ingest transactions of one replica at once. Each holds a pooled connection (its advisory lock)
 * while the writer, which needs connections of its own, commits its records: a small number
 * keeps the pool free for the writer and the pipeline.
 */
const CONCURRENT_INGESTS = 2;

/** Waits this long at most for another replica's ingest of the same principal, then 503. */
const LOCK_TIMEOUT = '10s';

const EXISTING = `SELECT DISTINCT call_id FROM audit_event
   WHERE principal_subject = $1 AND principal_issuer = $2 AND outcome = $3 AND kind = 'intent'
     AND occurred_at >= $4 AND occurred_at <= $5 AND call_id = ANY($6::text[])`;

/** The advisory lock of a principal's ingests: 64 bits of a hash of issuer and subject. */
function lockId(key: string): string {
  return createHash('sha256')
    .update(`gatehouse.audit.ingest\u0000${key}`)
    .digest()
    .readBigInt64BE(0)
    .toString();
}

/**
 * Records calls a bridge ran itself on a direct server (issue 5 points 12, 13): each is decided
 * with the active policy exactly as the pipeline would ({@link PolicyStage.evaluate}) and recorded
 * as an intent at `startedAt` and an outcome at `startedAt + durationMs`, both with outcome
 * `shadow` or `fallback`. Nothing is forwarded upstream and no rate limit is consumed (the calls
 * already ran).
 *
 * Idempotent by call id per principal and mode. The bridge's id becomes the records' `callId`;
 * the records get ids of their own, so a duplicate never reaches the writer as a duplicate key
 * (which would fail every other caller's rows in the same group-commit INSERT). Instead, the ids
 * already stored are looked up and skipped, and that check and the append are serialised per
 * principal: in-process by {@link Serial} (same principal waits without holding a connection),
 * across replicas by `pg_advisory_xact_lock` on a hash of issuer and subject (a collision only
 * serialises two principals), held from before the check until the writer has committed the
 * records. The embedded database is one process
 * with a single pooled connection, which the writer needs, so there the in-process order is the
 * whole lock. One gap remains: an append that times out (R30) may still commit after the lock is
 * released, and a retry racing that commit can store the call twice under distinct record ids.
 */
@Injectable()
export class IngestService {
  private readonly serial = new Serial(CONCURRENT_INGESTS);
  private readonly crossReplica: boolean;

  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    @Inject(AUDIT_SINK) private readonly sink: AuditSink,
    private readonly dataSource: DataSource,
    private readonly policy: PolicyStage,
    private readonly metrics: Metrics,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.crossReplica = config.database.url !== undefined;
  }

  /** Decides and records `request` for `reporter`; resolves once every new record is committed. */
  async ingest(reporter: Reporter, request: IngestRequest): Promise<IngestResponse> {
    const prepared = request.calls.map((call) => this.prepare(reporter, request, call));
    const key = principalKey(reporter.principal);
    const stored = await this.serial.run(key, () =>
      this.locked(key, (query) => this.store(reporter.principal, request.mode, prepared, query)),
    );
    const decisions = prepared.map((p, i) => ({ ...p.decision, stored: stored[i] === true }));
    const count = decisions.filter((d) => d.stored).length;
    decisions.forEach((d, i) => {
      this.metrics.ingestedCalls.inc({
        mode: request.mode,
        decision: d.decision,
        result: d.stored ? 'stored' : 'duplicate',
      });
      // What shadow mode is for: learning what the policy would break before enforcing it.
      if (d.stored && d.decision !== 'allow') {
        const intent = prepared[i]?.records[0];
        this.logger.warn(
          {
            principal: reporter.principal.subject,
            mode: request.mode,
            server: intent?.server,
            tool: intent?.tool,
            decision: d.decision,
            rules: d.matchedRules,
            reason: d.reason,
          },
          'a reported call the policy would refuse (it already ran on a direct server)',
        );
      }
    });
    this.logger.info(
      {
        principal: reporter.principal.subject,
        mode: request.mode,
        stored: count,
        duplicates: decisions.length - count,
        denied: decisions.filter((d) => d.decision !== 'allow').length,
      },
      'bridge-reported calls recorded',
    );
    return { stored: count, duplicates: decisions.length - count, decisions };
  }

  private prepare(reporter: Reporter, request: IngestRequest, call: IngestCall): Prepared {
    const startedAt = new Date(call.startedAt);
    // Conditions on `now` judge the call by when it ran (the active version decides, though).
    const evaluation = this.policy.evaluate(
      reporter.principal,
      call.server,
      { method: call.method, params: call.params },
      startedAt,
    );
    const decision: DecisionFacts | undefined = evaluation?.decision;
    const base = {
      callId: call.id.toLowerCase(),
      outcome: request.mode,
      principal: reporter.principal,
      client: {
        name: request.client?.name,
        version: request.client?.version,
        bridgeVersion: request.bridgeVersion,
        ip: reporter.ip,
      },
      server: call.server,
      method: call.method,
      params: call.params,
      ...(decision ? { decision } : {}),
      redactPaths: this.config.audit.redactPaths,
    };
    const intent = callRecord({ ...base, kind: 'intent', occurredAt: startedAt });
    const outcome = callRecord({
      ...base,
      kind: 'outcome',
      occurredAt: new Date(startedAt.getTime() + call.durationMs),
    });
    outcome.upstreamUs = Math.round(call.durationMs * 1000);
    if (call.errorCode !== undefined) outcome.errorCode = call.errorCode;
    if (call.errorMessage !== undefined) outcome.errorMessage = call.errorMessage;
    if (call.responseBytes !== undefined) outcome.responseBytes = call.responseBytes;
    return {
      decision: evaluation
        ? {
            id: call.id,
            decision: evaluation.decision.outcome,
            reason: evaluation.decision.reason,
            matchedRules: evaluation.decision.matchedRules,
            policyVersion: evaluation.decision.policyVersion,
          }
        : {
            id: call.id,
            decision: 'allow',
            reason: `${call.method} is not decided per call by the policy (lists are filtered, pings carry no data)`,
            matchedRules: [],
          },
      records: [intent, outcome],
    };
  }

  /**
   * Skips the ids this principal already stored in this mode (and repeats within the request) and
   * appends the rest in one append (one INSERT: all of the request's new records, or none).
   * Returns, per call, whether it was stored now.
   */
  private async store(
    principal: Principal,
    mode: IngestRequest['mode'],
    prepared: Prepared[],
    query: Query,
  ): Promise<boolean[]> {
    // An intent's time is the call's startedAt, so the stored copies lie within the request's range.
    const times = prepared.map((p) => (p.records[0] as AuditRecord).occurredAt.getTime());
    const rows = await query(EXISTING, [
      principal.subject,
      principal.issuer,
      mode,
      new Date(Math.min(...times)),
      new Date(Math.max(...times)),
      [...new Set(prepared.map((p) => p.records[0]?.callId))],
    ]);
    const seen = new Set(rows.map((r) => r.call_id));
    const fresh = prepared.map((p) => {
      const callId = (p.records[0] as AuditRecord).callId;
      if (seen.has(callId)) return false;
      seen.add(callId);
      return true;
    });
    await this.sink.append(prepared.filter((_, i) => fresh[i]).flatMap((p) => p.records));
    return fresh;
  }

  /** Runs `work` holding the principal's cross-replica lock; any database failure is a 503. */
  private async locked<T>(key: string, work: (query: Query) => Promise<T>): Promise<T> {
    try {
      if (!this.crossReplica) return await work((sql, params) => this.dataSource.query(sql, params));
      const runner = this.dataSource.createQueryRunner();
      try {
        await runner.connect();
        await runner.startTransaction();
        await runner.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
        await runner.query('SELECT pg_advisory_xact_lock($1::bigint)', [lockId(key)]);
        const result = await work(
          (sql, params) => runner.query(sql, params) as Promise<Array<{ call_id: string }>>,
        );
        await runner.commitTransaction();
        return result;
      } finally {
        if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
        await runner.release();
      }
    } catch (err) {
      this.logger.error({ err }, 'reported calls not recorded; the bridge keeps them and retries');
      throw new IngestError(
        IngestErrorCode.AUDIT_UNAVAILABLE,
        'the audit trail cannot record these calls right now, so none was acknowledged; keep them and retry shortly',
      );
    }
  }
}
