import { Global, Module, type DynamicModule } from '@nestjs/common';
import type { LoadedConfig } from './load';

/** Injection token for the validated configuration object. */
export const GATEHOUSE_CONFIG = Symbol('GATEHOUSE_CONFIG');
/** Injection token for the whole {@link LoadedConfig} (file path, secret keys). */
export const LOADED_CONFIG = Symbol('LOADED_CONFIG');

/** Makes the configuration, validated once at boot, injectable everywhere. */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(loaded: LoadedConfig): DynamicModule {
    return {
      module: ConfigModule,
      providers: [
        { provide: LOADED_CONFIG, useValue: loaded },
        { provide: GATEHOUSE_CONFIG, useValue: loaded.config },
      ],
      exports: [LOADED_CONFIG, GATEHOUSE_CONFIG],
    };
  }
}
