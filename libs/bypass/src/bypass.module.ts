import { Global, Module } from '@nestjs/common';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '@gatehouse/config';
import { LOGGER, type Logger } from '@gatehouse/observability';
import { BYPASS_GRANTS, LocalActivationBus, RedisActivationBus, type ActivationBus } from '@gatehouse/policy';
import { BypassAlerts } from './alerts/bypass-alerts.service';
import { BypassController } from './bypass.controller';
import { BypassService } from './bypass.service';
import { BYPASS_BUS, BYPASS_TOPIC, GrantCache } from './grant-cache';
import { BYPASS_SETTINGS, settingsFrom } from './settings';

/**
 * Break glass (issue 7): grants in Postgres, their admin API, {@link BYPASS_GRANTS}, the
 * port the policy stage consults when the policy denies, and the alerts ({@link BypassAlerts}). Global so that the policy lib's stage
 * finds the port without importing this lib (it sits above policy). Needs the global config,
 * logger, metrics, database, console guard and admin-audit port.
 */
@Global()
@Module({
  controllers: [BypassController],
  providers: [
    {
      provide: BYPASS_SETTINGS,
      inject: [GATEHOUSE_CONFIG],
      useFactory: (config: GatehouseConfig) => settingsFrom(config.bypass),
    },
    {
      provide: BYPASS_BUS,
      inject: [GATEHOUSE_CONFIG, LOGGER],
      useFactory: (config: GatehouseConfig, logger: Logger): ActivationBus =>
        config.redis.url
          ? new RedisActivationBus(config.redis.url, config.redis.keyPrefix, logger, BYPASS_TOPIC)
          : new LocalActivationBus(),
    },
    GrantCache,
    { provide: BYPASS_GRANTS, useExisting: GrantCache },
    BypassService,
    BypassAlerts,
  ],
  exports: [BYPASS_GRANTS, BypassService],
})
export class BypassModule {}
