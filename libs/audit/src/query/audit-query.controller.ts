import { Readable } from 'node:stream';
import { Controller, Get, Header, Inject, Param, Query, StreamableFile, UseFilters } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { AdminAction, ApiRoute, ok, Roles, type ApiRouteSpec } from '@gatehouse/auth';
import { activitySummarySchema, eventPageSchema } from '../api-schemas';
import { AuditQueryErrorFilter } from './audit-query-error';
import { AuditQueryService, type ActivitySummary, type EventPage } from './audit-query.service';
import { CSV_HEADER, csvLine } from './csv';
import { eventFilter, eventQuery, summaryParams, summaryPeriod, summaryQuery } from './filters';

const AUDITED = 'Recorded as an audit.query admin record (with the query) before it is answered.';

/** The CSV and JSONL exports of the events the filters select. */
function exportOf(
  operationId: string,
  summary: string,
  contentType: string,
  description: string,
): ApiRouteSpec {
  return {
    tag: 'audit',
    operationId,
    summary,
    description:
      'Streamed, newest first, every event the filters select: not paged (limit is accepted and ignored; cursor starts after that row). Recorded as an audit.query admin record before the first byte.',
    query: eventQuery,
    responses: { 200: { description, contentType } },
  };
}

/** Injectable clock, so "today" is testable without a `now=` parameter. */
export const AUDIT_QUERY_CLOCK = Symbol('AUDIT_QUERY_CLOCK');

/**
 * Asking the trail questions (issue 5 point 10): events with filters and keyset pagination, a
 * user's activity summary over a natural-language period, and streamed CSV / JSONL exports.
 * Auditors and admins only. Every query is an admin action (`audit.query`, target the route):
 * answered only once its attempt record, with the query, is committed (503 `AUDIT_UNAVAILABLE`
 * otherwise); refused and malformed queries end as `error` records.
 */
@Controller('api/v1/audit')
@UseFilters(AuditQueryErrorFilter)
@Roles('auditor', 'admin')
export class AuditQueryController {
  constructor(
    private readonly query: AuditQueryService,
    @Inject(AUDIT_QUERY_CLOCK) private readonly clock: () => Date,
  ) {}

  /** `?user&from&to&server&tool&decision&outcome&kind&cursor&limit`: newest first. */
  @Get('events')
  @Header('cache-control', 'no-store')
  @AdminAction('audit.query', { target: () => 'events', details: queryOf })
  @ApiRoute({
    tag: 'audit',
    operationId: 'listAuditEvents',
    summary: 'Audit records with filters and keyset pagination, newest first',
    description: AUDITED,
    query: eventQuery,
    responses: { 200: ok('One page', eventPageSchema) },
  })
  async events(@Query() q: Record<string, string>): Promise<EventPage> {
    return this.query.events(eventFilter(q));
  }

  @Get('events.csv')
  @Header('cache-control', 'no-store')
  @Header('content-type', 'text/csv; charset=utf-8')
  @Header('content-disposition', 'attachment; filename="audit-events.csv"')
  @AdminAction('audit.query', { target: () => 'events.csv', details: queryOf })
  @ApiRoute(
    exportOf(
      'exportAuditEventsCsv',
      'The selected events as CSV, one row per event',
      'text/csv',
      'CSV with a header row',
    ),
  )
  csv(@Query() q: Record<string, string>): StreamableFile {
    const rows = this.query.stream(eventFilter(q));
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
  @AdminAction('audit.query', { target: () => 'events.jsonl', details: queryOf })
  @ApiRoute(
    exportOf(
      'exportAuditEventsJsonl',
      'The selected events as JSON lines',
      'application/jsonl',
      'One AuditEvent object per line',
    ),
  )
  jsonl(@Query() q: Record<string, string>): StreamableFile {
    const rows = this.query.stream(eventFilter(q));
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
  @AdminAction('audit.query', {
    target: (req) => `users/${(req.params as Record<string, string>).subject}/summary`,
    details: summaryDetails,
  })
  @ApiRoute({
    tag: 'audit',
    operationId: 'getUserActivitySummary',
    summary:
      'What one person touched in a period: servers, tools and resources with counts and first/last time',
    description:
      'The period is a natural phrase in the caller\'s time zone ("last Thursday", "yesterday 9-17") or explicit from/to; default today. The answer names the exact interval. Recorded as an audit.query admin record, with the interval, before it is answered.',
    params: summaryParams,
    query: summaryQuery,
    responses: { 200: ok('The summary', activitySummarySchema) },
  })
  async summary(
    @Param('subject') subject: string,
    @Query() q: Record<string, string>,
  ): Promise<ActivitySummary> {
    return this.query.summary(subject, summaryPeriod(q, this.clock));
  }
}

/** The query string as asked: what an auditor of the auditors wants to see. */
function queryOf(req: FastifyRequest): Record<string, unknown> {
  return { ...(req.query as Record<string, unknown>) };
}

/**
 * The query plus the exact interval it resolves to, so "last Thursday" is on the record as the
 * instants answered. Resolved with the wall clock: the controller's injectable clock is the wall
 * clock outside tests, and tests fix both with `now=`. An unreadable period keeps the raw query
 * (the handler refuses it, and that refusal ends the record).
 */
function summaryDetails(req: FastifyRequest): Record<string, unknown> {
  const q = queryOf(req);
  const period = summaryPeriod(q, () => new Date());
  return { ...q, from: period.from.toISOString(), to: period.to.toISOString() };
}
