import { Module, type DynamicModule } from '@nestjs/common';
import { ExportModule } from '@gatehouse/audit';
import { ConfigModule, type LoadedConfig } from '@gatehouse/config';
import { DbModule } from '@gatehouse/db';
import { ObservabilityModule, type Logger, type Metrics } from '@gatehouse/observability';

/**
 * The worker's root module: the gateway's libs without HTTP or the call pipeline, running the
 * audit export (relay and sink processors) from the same `gatehouse.yaml`.
 */
@Module({})
export class WorkerModule {
  static forRoot(loaded: LoadedConfig, logger: Logger, metrics: Metrics): DynamicModule {
    return {
      module: WorkerModule,
      imports: [
        ConfigModule.forRoot(loaded),
        ObservabilityModule.forRoot(logger, metrics),
        DbModule.forRoot(),
        ExportModule.forRoot('worker'),
      ],
    };
  }
}
