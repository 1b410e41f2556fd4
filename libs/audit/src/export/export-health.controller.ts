import { Controller, Get, Header } from '@nestjs/common';
import { ApiRoute, ok, Roles } from '@gatehouse/auth';
import { exportHealthSchema } from '../api-schemas';
import { ExportService, type ExportHealth } from './export.service';

/**
 * `GET /api/v1/export/health` (auditors and admins): per sink the lag (age of the oldest
 * undelivered record), last success, last error and dead letters, for the console (R32).
 */
@Controller('api/v1/export')
@Roles('auditor', 'admin')
export class ExportHealthController {
  constructor(private readonly exports: ExportService) {}

  @Get('health')
  @Header('cache-control', 'no-store')
  @ApiRoute({
    tag: 'audit',
    operationId: 'getExportHealth',
    summary: 'Per sink: lag, last success, last error, dead letters and the last reconciliation',
    description:
      'lagSeconds is the age of the oldest record not yet delivered to the sink; alerting turns true above export.lagAlertSeconds (R32).',
    responses: { 200: ok('The export health', exportHealthSchema) },
  })
  async health(): Promise<ExportHealth> {
    return this.exports.health();
  }
}
