import { Global, Module, type DynamicModule } from '@nestjs/common';
import type { Logger } from 'pino';
import { Metrics } from './metrics';
import { Readiness } from './readiness';

/** Injection token for the process pino logger. */
export const LOGGER = Symbol('LOGGER');

@Global()
@Module({})
export class ObservabilityModule {
  static forRoot(logger: Logger, metrics: Metrics): DynamicModule {
    return {
      module: ObservabilityModule,
      providers: [{ provide: LOGGER, useValue: logger }, { provide: Metrics, useValue: metrics }, Readiness],
      exports: [LOGGER, Metrics, Readiness],
    };
  }
}
