import { Controller, Get, Header, Query, UseFilters } from '@nestjs/common';
import { Roles } from '@gatehouse/auth';
import { apiErrorFilter } from '@gatehouse/observability';
import { OverviewError } from './overview-error';
import { overviewQuerySchema, type OverviewResponse } from './overview.schemas';
import { OverviewService } from './overview.service';

/** `GET /api/v1/overview` (any console role): the last hour at a glance, for the console. */
@Controller('api/v1')
@Roles('admin', 'policy-approver', 'incident-responder', 'auditor')
@UseFilters(
  apiErrorFilter({
    area: 'overview',
    type: OverviewError,
    status: (err) => (err.code === 'INTERNAL' ? 500 : 400),
    internal: (message, errorId) => new OverviewError('INTERNAL', message, errorId),
  }),
)
export class OverviewController {
  constructor(private readonly service: OverviewService) {}

  @Get('overview')
  @Header('cache-control', 'no-store')
  async overview(@Query() query: unknown): Promise<OverviewResponse> {
    const parsed = overviewQuerySchema.safeParse(query ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new OverviewError(
        'INVALID_QUERY',
        `${issue?.path.join('.') || 'query'}: ${issue?.message ?? 'invalid'} (minutes is a whole number from 5 to 60)`,
      );
    }
    return this.service.overview(parsed.data.minutes);
  }
}
