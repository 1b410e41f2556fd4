import { Controller, Get, Header } from '@nestjs/common';
import { Roles } from '@gatehouse/auth';
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
  async health(): Promise<ExportHealth> {
    return this.exports.health();
  }
}
