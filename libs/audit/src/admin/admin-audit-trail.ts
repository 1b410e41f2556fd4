import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import {
  AdminAuditUnavailableError,
  type AdminAudit,
  type AdminAuditEntry,
  type AdminAuditFailure,
  type AdminAuditResult,
  type AdminAuditTicket,
} from '@gatehouse/auth';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '@gatehouse/config';
import { LOGGER, type Logger } from '@gatehouse/observability';
import { redactArguments } from '../stage/redact';
import { AUDIT_SINK, type AuditOutcome, type AuditRecord, type AuditSink } from '../types';

/**
 * The audit trail's side of the {@link AdminAudit} port: `admin` records in `audit_event`. An
 * action gets two records sharing a `callId`: the attempt (outcome `allowed`, with the redacted
 * request details), committed before the action takes effect, and the end (`ok`, or `error` with
 * the HTTP status in `errorCode` and `CODE: message` in `errorMessage`), queued afterwards. A
 * refusal before the action ran (a missing role) is one `denied` record.
 */
@Injectable()
export class AdminAuditTrail implements AdminAudit {
  constructor(
    @Inject(AUDIT_SINK) private readonly sink: AuditSink,
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async begin(entry: AdminAuditEntry): Promise<AdminAuditTicket> {
    const callId = randomUUID();
    try {
      await this.sink.append([this.record(entry, callId, 'allowed', true)]);
    } catch (err) {
      this.logger.error(
        { err, action: entry.action, target: entry.target, actor: entry.actor.subject },
        'admin action not recorded; refused',
      );
      throw new AdminAuditUnavailableError(entry.action, { cause: err });
    }
    return { callId, done: (result) => this.end(entry, callId, result) };
  }

  async refused(entry: AdminAuditEntry, refusal: AdminAuditFailure): Promise<void> {
    try {
      await this.sink.append([{ ...this.record(entry, randomUUID(), 'denied', true), ...failure(refusal) }]);
    } catch (err) {
      this.logger.error(
        { err, action: entry.action, actor: entry.actor.subject, code: refusal.code },
        'refused admin action not recorded',
      );
    }
  }

  private end(entry: AdminAuditEntry, callId: string, result: AdminAuditResult): void {
    const record =
      result.outcome === 'ok'
        ? {
            ...this.record(entry, callId, 'ok', false),
            ...(result.target !== undefined ? { adminTarget: result.target } : {}),
          }
        : { ...this.record(entry, callId, 'error', false), ...failure(result) };
    // The answer does not wait for the ending record; the attempt is already durable.
    this.sink
      .append([record])
      .catch((err: unknown) =>
        this.logger.error(
          { err, action: entry.action, callId, outcome: result.outcome },
          'admin action: ending record not written',
        ),
      );
  }

  /** The ending record repeats who, what and to what, but not the details: they are on the attempt. */
  private record(
    entry: AdminAuditEntry,
    callId: string,
    outcome: AuditOutcome,
    withDetails: boolean,
  ): AuditRecord {
    const { actor, client } = entry;
    return {
      id: randomUUID(),
      kind: 'admin',
      callId,
      occurredAt: new Date(),
      outcome,
      principal: {
        subject: actor.subject,
        issuer: actor.issuer,
        kind: actor.kind,
        groups: actor.groups,
        ...(actor.name !== undefined ? { name: actor.name } : {}),
        ...(actor.email !== undefined ? { email: actor.email } : {}),
        ...(actor.certificateSubject !== undefined ? { certificateSubject: actor.certificateSubject } : {}),
      },
      // An admin client is a browser or a script: its user agent stands in for the MCP client name.
      client: {
        ...(client?.userAgent !== undefined ? { name: client.userAgent } : {}),
        ...(client?.ip !== undefined ? { ip: client.ip } : {}),
      },
      method: entry.method,
      ...(withDetails && entry.details
        ? { arguments: redactArguments(entry.details, this.config.audit.redactPaths) }
        : {}),
      matchedRules: [],
      touched: [],
      adminAction: entry.action,
      ...(entry.target !== undefined ? { adminTarget: entry.target } : {}),
    };
  }
}

function failure(f: AdminAuditFailure): Pick<AuditRecord, 'errorCode' | 'errorMessage'> {
  return {
    ...(f.status !== undefined ? { errorCode: f.status } : {}),
    errorMessage: `${f.code}: ${f.message}`.slice(0, 2000),
  };
}
