import {
  Body,
  Controller,
  Get,
  Header,
  HttpCode,
  Inject,
  Param,
  Post,
  Query,
  UseFilters,
} from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { AdminAction, ApiRoute, apiError, ok, Roles } from '@gatehouse/auth';
import {
  periodQuery,
  periodResponse,
  principalsQuery,
  principalsResponse,
  rollupCheckQuery,
  rollupCheckResponse,
  timelineQuery,
  timelineResponse,
  verifyBody,
  verifyResponse,
  type PeriodResponse,
  type PrincipalsResponse,
  type RollupCheckResponse,
  type TimelineResponse,
  type VerifyResponse,
} from './activity.schemas';
import { ActivityService } from './activity.service';
import { AuditQueryErrorFilter } from './audit-query-error';
import { AUDIT_QUERY_CLOCK } from './audit-query.controller';
import { parse, resolvePeriod, summaryParams } from './filters';

/**
 * The console's Activity screen (issue 15 points 5–8): the person picker, the period resolver,
 * the chart of a principal's calls, the integrity check of a period and the rollups' self-check.
 * Auditors and admins only; requests are validated with the schemas of activity.schemas.ts. Every
 * request is an `audit.query` admin action like the rest of the query API: answered only once its
 * attempt record is committed; refused and malformed requests end as `error` records.
 */
@Controller('api/v1/audit')
@UseFilters(AuditQueryErrorFilter)
@Roles('auditor', 'admin')
export class ActivityController {
  constructor(
    private readonly activity: ActivityService,
    @Inject(AUDIT_QUERY_CLOCK) private readonly clock: () => Date,
  ) {}

  /** `?q=&limit=20`: principals seen in the trail, most recently seen first. */
  @Get('principals')
  @Header('cache-control', 'no-store')
  @AdminAction('audit.query', { target: () => 'principals', details: queryOf })
  @ApiRoute({
    tag: 'audit',
    operationId: 'listAuditPrincipals',
    summary: 'Principals seen in the trail, matched on subject, name or email, most recently seen first',
    query: principalsQuery,
    responses: { 200: ok('The principals', principalsResponse) },
  })
  async principals(@Query() query: unknown): Promise<PrincipalsResponse> {
    const q = parse(principalsQuery, query);
    return this.activity.principals(q.q, q.limit);
  }

  /** `?phrase=last Thursday&tz=Europe/Berlin`: the exact interval the summary would use. */
  @Get('period')
  @Header('cache-control', 'no-store')
  @AdminAction('audit.query', { target: () => 'period', details: queryOf })
  @ApiRoute({
    tag: 'audit',
    operationId: 'resolveAuditPeriod',
    summary: 'The exact interval a period phrase means in a time zone, as the summary would use it',
    query: periodQuery,
    responses: { 200: ok('The resolved interval', periodResponse) },
    errors: {
      400: apiError(
        'the period phrase cannot be read; the refusal lists phrases to try',
        'PERIOD_UNREADABLE',
      ),
    },
  })
  period(@Query() query: unknown): PeriodResponse {
    const q = parse(periodQuery, query);
    const period = resolvePeriod({ period: q.phrase, tz: q.tz, now: q.now }, this.clock);
    return {
      phrase: q.phrase,
      tz: q.tz,
      from: period.from.toISOString(),
      to: period.to.toISOString(),
    };
  }

  /** `?period=&tz=` or `?from&to`: the principal's calls per bucket and series. */
  @Get('users/:subject/timeline')
  @Header('cache-control', 'no-store')
  @AdminAction('audit.query', {
    target: (req) => `users/${(req.params as Record<string, string>).subject}/timeline`,
    details: queryOf,
  })
  @ApiRoute({
    tag: 'audit',
    operationId: 'getUserTimeline',
    summary:
      "One principal's calls over a period, per bucket and series (allowed, denied, shadow-denied, rate-limited, bypassed, failed)",
    description:
      'failed overlaps the others: a call forwarded and then failed counts where it was allowed or bypassed and in failed.',
    params: summaryParams,
    query: timelineQuery,
    responses: { 200: ok('The timeline', timelineResponse) },
    errors: {
      400: apiError(
        'the period phrase cannot be read; the refusal lists phrases to try',
        'PERIOD_UNREADABLE',
      ),
    },
  })
  async timeline(@Param('subject') subject: string, @Query() query: unknown): Promise<TimelineResponse> {
    return this.activity.timeline(subject, resolvePeriod(parse(timelineQuery, query), this.clock));
  }

  /** Body `{ from, to }` or `{ period, tz }`: the chain verification of that period. */
  @Post('verify')
  @HttpCode(200)
  @Header('cache-control', 'no-store')
  @AdminAction('audit.query', { target: () => 'verify', details: bodyOf })
  @ApiRoute({
    tag: 'audit',
    operationId: 'verifyAuditPeriod',
    summary: 'Verifies the hash chain over a period with the verifier of gatehouse audit verify',
    body: verifyBody,
    responses: { 200: ok('The verification', verifyResponse) },
    errors: {
      400: apiError('the period phrase cannot be read', 'PERIOD_UNREADABLE'),
      413: apiError('more than 31 days or 250,000 records', 'VERIFY_TOO_LARGE'),
      429: apiError('a verification is running on this replica', 'VERIFY_BUSY'),
    },
  })
  async verify(@Body() body: unknown): Promise<VerifyResponse> {
    const period = resolvePeriod(parse(verifyBody, body ?? {}), this.clock);
    return this.activity.verify(period, () => new Date());
  }

  /** `?from&to`: whether the rollups of those whole UTC days agree with the raw trail. */
  @Get('rollups/check')
  @Header('cache-control', 'no-store')
  @AdminAction('audit.query', { target: () => 'rollups/check', details: queryOf })
  @ApiRoute({
    tag: 'audit',
    operationId: 'checkAuditRollups',
    summary: 'Whether the rollups of whole UTC days agree with the raw trail',
    query: rollupCheckQuery,
    responses: { 200: ok('The comparison', rollupCheckResponse) },
  })
  async checkRollups(@Query() query: unknown): Promise<RollupCheckResponse> {
    const q = parse(rollupCheckQuery, query);
    return this.activity.checkRollups(new Date(q.from), new Date(q.to));
  }
}

function queryOf(req: FastifyRequest): Record<string, unknown> {
  return { ...(req.query as Record<string, unknown>) };
}

function bodyOf(req: FastifyRequest): Record<string, unknown> {
  const body = req.body;
  return body && typeof body === 'object' && !Array.isArray(body)
    ? { ...(body as Record<string, unknown>) }
    : {};
}
