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
import { AdminAction, Roles } from '@gatehouse/auth';
import {
  periodQuery,
  principalsQuery,
  rollupCheckQuery,
  timelineQuery,
  verifyBody,
  type PeriodResponse,
  type PrincipalsResponse,
  type RollupCheckResponse,
  type TimelineResponse,
  type VerifyResponse,
} from './activity.schemas';
import { ActivityService } from './activity.service';
import { AuditQueryErrorFilter } from './audit-query-error';
import { AUDIT_QUERY_CLOCK } from './audit-query.controller';
import { parse, resolvePeriod } from './filters';

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
  async principals(@Query() query: unknown): Promise<PrincipalsResponse> {
    const q = parse(principalsQuery, query);
    return this.activity.principals(q.q, q.limit);
  }

  /** `?phrase=last Thursday&tz=Europe/Berlin`: the exact interval the summary would use. */
  @Get('period')
  @Header('cache-control', 'no-store')
  @AdminAction('audit.query', { target: () => 'period', details: queryOf })
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
  async timeline(@Param('subject') subject: string, @Query() query: unknown): Promise<TimelineResponse> {
    return this.activity.timeline(subject, resolvePeriod(parse(timelineQuery, query), this.clock));
  }

  /** Body `{ from, to }` or `{ period, tz }`: the chain verification of that period. */
  @Post('verify')
  @HttpCode(200)
  @Header('cache-control', 'no-store')
  @AdminAction('audit.query', { target: () => 'verify', details: bodyOf })
  async verify(@Body() body: unknown): Promise<VerifyResponse> {
    const period = resolvePeriod(parse(verifyBody, body ?? {}), this.clock);
    return this.activity.verify(period, () => new Date());
  }

  /** `?from&to`: whether the rollups of those whole UTC days agree with the raw trail. */
  @Get('rollups/check')
  @Header('cache-control', 'no-store')
  @AdminAction('audit.query', { target: () => 'rollups/check', details: queryOf })
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
