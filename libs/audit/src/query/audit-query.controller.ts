import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { Controller, Get, Header, Inject, Param, Query, StreamableFile, UseFilters } from '@nestjs/common';
import { Caller, Roles, type ConsoleCaller } from '@gatehouse/auth';
import { AUDIT_SINK, type AuditSink } from '../types';
import { AuditQueryError, AuditQueryErrorCode, AuditQueryErrorFilter } from './audit-query-error';
import { AuditQueryService, type ActivitySummary, type EventPage } from './audit-query.service';
import { CSV_HEADER, csvLine } from './csv';
import { eventFilter, summaryPeriod } from './filters';

/** Injectable clock, so "today" is testable without a `now=` parameter. */
export const AUDIT_QUERY_CLOCK = Symbol('AUDIT_QUERY_CLOCK');

/**
 * Asking the trail questions (issue 5 point 10): events with filters and keyset pagination, a
 * user's activity summary over a natural-language period, and streamed CSV / JSONL exports.
 * Auditors and admins only. Every query is recorded as an `admin` record (`audit.query`) and
 * answered only once that record is committed.
 */
@Controller('api/v1/audit')
@UseFilters(AuditQueryErrorFilter)
@Roles('auditor', 'admin')
export class AuditQueryController {
  constructor(
    private readonly query: AuditQueryService,
    @Inject(AUDIT_SINK) private readonly sink: AuditSink,
    @Inject(AUDIT_QUERY_CLOCK) private readonly clock: () => Date,
  ) {}

  /** `?user&from&to&server&tool&decision&outcome&kind&cursor&limit`: newest first. */
  @Get('events')
  @Header('cache-control', 'no-store')
  async events(@Query() q: Record<string, string>, @Caller() caller: ConsoleCaller): Promise<EventPage> {
    const filter = eventFilter(q);
    await this.record(caller, 'events', q);
    return this.query.events(filter);
  }

  @Get('events.csv')
  @Header('cache-control', 'no-store')
  @Header('content-type', 'text/csv; charset=utf-8')
  @Header('content-disposition', 'attachment; filename="audit-events.csv"')
  async csv(@Query() q: Record<string, string>, @Caller() caller: ConsoleCaller): Promise<StreamableFile> {
    const filter = eventFilter(q);
    await this.record(caller, 'events.csv', q);
    const rows = this.query.stream(filter);
    return new StreamableFile(
      Readable.from(
        (async function* () {
          yield CSV_HEADER;
          for await (const e of rows) yield csvLine(e);
        })(),
      ),
    );
  }

  @Get('events.jsonl')
  @Header('cache-control', 'no-store')
  @Header('content-type', 'application/jsonl; charset=utf-8')
  @Header('content-disposition', 'attachment; filename="audit-events.jsonl"')
  async jsonl(@Query() q: Record<string, string>, @Caller() caller: ConsoleCaller): Promise<StreamableFile> {
    const filter = eventFilter(q);
    await this.record(caller, 'events.jsonl', q);
    const rows = this.query.stream(filter);
    return new StreamableFile(
      Readable.from(
        (async function* () {
          for await (const e of rows) yield `${JSON.stringify(e)}\n`;
        })(),
      ),
    );
  }

  /** `?period=last Thursday&tz=Europe/Berlin` or `?from&to`; the answer names the exact interval. */
  @Get('users/:subject/summary')
  @Header('cache-control', 'no-store')
  async summary(
    @Param('subject') subject: string,
    @Query() q: Record<string, string>,
    @Caller() caller: ConsoleCaller,
  ): Promise<ActivitySummary> {
    const period = summaryPeriod(q, this.clock);
    await this.record(caller, `users/${subject}/summary`, {
      ...q,
      from: period.from.toISOString(),
      to: period.to.toISOString(),
    });
    return this.query.summary(subject, period);
  }

  /** Writes the `audit.query` admin record; if it cannot be committed, nothing is answered. */
  private async record(caller: ConsoleCaller, target: string, query: Record<string, string>): Promise<void> {
    const p = caller.principal;
    const id = randomUUID();
    try {
      await this.sink.append([
        {
          id,
          kind: 'admin',
          callId: id,
          occurredAt: new Date(),
          outcome: 'ok',
          principal: {
            subject: p.subject,
            issuer: p.issuer,
            kind: p.kind,
            ...(p.name !== undefined ? { name: p.name } : {}),
            ...(p.email !== undefined ? { email: p.email } : {}),
            groups: p.groups,
            ...(p.certificate ? { certificateSubject: p.certificate.subject } : {}),
          },
          client: {},
          method: 'GET',
          arguments: { ...query },
          matchedRules: [],
          touched: [],
          adminAction: 'audit.query',
          adminTarget: target,
        },
      ]);
    } catch {
      throw new AuditQueryError(
        AuditQueryErrorCode.AUDIT_UNAVAILABLE,
        'the audit trail cannot record this query right now, so it is not answered; try again shortly',
      );
    }
  }
}
