import { Module } from '@nestjs/common';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '@gatehouse/config';
import { LOGGER, type Logger } from '@gatehouse/observability';
import { ActivationBus, LocalActivationBus, RedisActivationBus } from './active/activation-bus';
import { ACTIVE_CHECK_MS, ActivePolicy, DEFAULT_ACTIVE_CHECK_MS } from './active/active-policy';
import { compilePolicy } from './engine/compile';
import { parsePolicy } from './language/parse';
import { PolicyCompiler } from './lifecycle/compiler';
import { FirstStartImport } from './lifecycle/first-start';
import { PolicyController } from './lifecycle/policy.controller';
import { PolicyLifecycle } from './lifecycle/policy-lifecycle.service';
import { PolicyStage } from './stage/policy.stage';
import { POLICY_SOURCE } from './types';

/**
 * Policy: versions in Postgres and their lifecycle API, the active compiled version of this
 * replica ({@link POLICY_SOURCE}) kept in step across replicas, and the first-start import of
 * `policy.dir`. Needs the global config, logger, database and console guard.
 */
@Module({
  controllers: [PolicyController],
  providers: [
    { provide: PolicyCompiler, useValue: { parse: parsePolicy, compile: compilePolicy } },
    {
      provide: ActivationBus,
      inject: [GATEHOUSE_CONFIG, LOGGER],
      useFactory: (config: GatehouseConfig, logger: Logger): ActivationBus =>
        config.redis.url
          ? new RedisActivationBus(config.redis.url, config.redis.keyPrefix, logger)
          : new LocalActivationBus(),
    },
    { provide: ACTIVE_CHECK_MS, useValue: DEFAULT_ACTIVE_CHECK_MS },
    FirstStartImport,
    ActivePolicy,
    { provide: POLICY_SOURCE, useExisting: ActivePolicy },
    PolicyLifecycle,
    PolicyStage,
  ],
  exports: [POLICY_SOURCE, ActivePolicy, PolicyLifecycle, PolicyCompiler, PolicyStage],
})
export class PolicyModule {}
