import { Module } from '@nestjs/common';
import { AUDIT_QUERY_PROVIDERS, AuditQueryController } from './query';
import { AuditStage } from './stage/audit.stage';
import { AUDIT_WRITER_PROVIDERS } from './store/audit-writer.provider';
import { AuditWriter } from './store/audit-writer';
import { AUDIT_SINK } from './types';

/**
 * The audit trail: {@link AuditStage} records every call in the pipeline, the query API answers
 * "what did this user touch", and {@link AuditWriter} appends to `audit_event` as the {@link AUDIT_SINK}.
 * The writer's own hooks create this month's and next month's partitions at start and write
 * everything queued before the database closes (DbModule closes it in onApplicationShutdown,
 * after every beforeApplicationShutdown hook).
 */
@Module({
  controllers: [AuditQueryController],
  providers: [...AUDIT_QUERY_PROVIDERS, AuditStage, ...AUDIT_WRITER_PROVIDERS],
  exports: [AuditWriter, AUDIT_SINK, AuditStage],
})
export class AuditModule {}
