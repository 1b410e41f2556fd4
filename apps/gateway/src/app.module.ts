import { Module, type DynamicModule } from '@nestjs/common';
import { AuditModule, AuditStage, ExportModule } from '@gatehouse/audit';
import { BypassModule } from '@gatehouse/bypass';
import { ConfigModule, type LoadedConfig } from '@gatehouse/config';
import { DbModule } from '@gatehouse/db';
import { ObservabilityModule, type Logger, type Metrics } from '@gatehouse/observability';
import { PolicyModule, PolicyStage } from '@gatehouse/policy';
import { RateLimitGate, RateLimitModule, RateLimitStage } from '@gatehouse/rate-limit';
import { TransportModule } from '@gatehouse/transport';
import { ConsoleModule } from './console/console.module';
import { HealthController } from './health/health.controller';
import { OpenApiFragmentsModule } from './openapi-fragments.module';

/** The gateway's root module: every lib plugs in here, the call pipeline lives in transport. */
@Module({})
export class AppModule {
  static forRoot(loaded: LoadedConfig, logger: Logger, metrics: Metrics): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(loaded),
        ObservabilityModule.forRoot(logger, metrics),
        DbModule.forRoot(),
        OpenApiFragmentsModule,
        // The call pipeline and its stages, in order: the rate-limit gate (a caller whose per-user
        // window is spent, denied calls included, is refused before anything is inspected), policy
        // (consulting the bypass grants when it denies), rate limit, audit.
        TransportModule.forRoot({
          imports: [PolicyModule, BypassModule, RateLimitModule, AuditModule],
          // The audit stage is last: its intent record is committed just before the upstream.
          stages: [RateLimitGate, PolicyStage, RateLimitStage, AuditStage],
        }),
        // The audit export: health endpoint, and the relay and sinks themselves with export.inProcess.
        ExportModule.forRoot('gateway'),
        // The browser console at /console (dist/web) and its overview endpoint.
        ConsoleModule,
      ],
      controllers: [HealthController],
    };
  }
}
