import {
  Inject,
  Module,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { DataSource } from 'typeorm';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '@gatehouse/config';
import { AUDIT_QUERY_PROVIDERS, AuditQueryController } from './query';
import { AuditStage } from './stage/audit.stage';
import { AuditWriter } from './store/audit-writer';
import { AUDIT_SINK } from './types';

/**
 * The audit trail: {@link AuditStage} records every call in the pipeline, the query API answers
 * "what did this user touch", and {@link AuditWriter} appends to `audit_event` as the {@link AUDIT_SINK}.
 * It creates this month's and next month's partitions at start and writes everything queued
 * before the database closes (DbModule closes it in onApplicationShutdown, after every
 * beforeApplicationShutdown hook).
 */
@Module({
  controllers: [AuditQueryController],
  providers: [
    ...AUDIT_QUERY_PROVIDERS,
    AuditStage,
    {
      provide: AuditWriter,
      inject: [DataSource, GATEHOUSE_CONFIG],
      useFactory: (dataSource: DataSource, config: GatehouseConfig) =>
        new AuditWriter(dataSource, config.audit),
    },
    { provide: AUDIT_SINK, useExisting: AuditWriter },
  ],
  exports: [AuditWriter, AUDIT_SINK, AuditStage],
})
export class AuditModule implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  constructor(@Inject(AuditWriter) private readonly writer: AuditWriter) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.writer.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.writer.flush();
  }

  /** Records appended by other shutdown hooks after ours (aborted calls, R25) are written too. */
  async onApplicationShutdown(): Promise<void> {
    await this.writer.flush();
  }
}
