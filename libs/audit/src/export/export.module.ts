import { Module, type DynamicModule } from '@nestjs/common';
import { ExportHealthController } from './export-health.controller';
import { EXPORT_MODE, ExportService, type ExportMode } from './export.service';

/**
 * The audit export as a NestJS module. `forRoot('gateway')` serves the health endpoint and runs
 * the export in-process when `export.inProcess` is true; `forRoot('worker')` (apps/worker, no
 * HTTP) always runs it. Needs the config, database and observability modules of the root.
 */
@Module({})
export class ExportModule {
  static forRoot(mode: ExportMode): DynamicModule {
    return {
      module: ExportModule,
      controllers: mode === 'gateway' ? [ExportHealthController] : [],
      providers: [{ provide: EXPORT_MODE, useValue: mode }, ExportService],
      exports: [ExportService],
    };
  }
}
