import { Global, Module } from '@nestjs/common';
import { ADMIN_AUDIT } from '@gatehouse/auth';
import { ADMIN_AUDIT_PROVIDERS } from './admin';
import { INGEST_CONTROLLERS, INGEST_IMPORTS, INGEST_PROVIDERS } from './ingest';
import { ActivityController, AUDIT_QUERY_PROVIDERS, AuditQueryController } from './query';
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
 *
 * Admin actions ({@link ADMIN_AUDIT_PROVIDERS}): the module is global so that the console and
 * policy controllers, and anything else marked `@AdminAction`, reach the {@link ADMIN_AUDIT} port
 * without importing the audit lib (it sits above them).
 */
@Global()
@Module({
  imports: [...INGEST_IMPORTS],
  controllers: [AuditQueryController, ActivityController, ...INGEST_CONTROLLERS],
  providers: [
    ...ADMIN_AUDIT_PROVIDERS,
    ...AUDIT_QUERY_PROVIDERS,
    ...INGEST_PROVIDERS,
    AuditStage,
    ...AUDIT_WRITER_PROVIDERS,
  ],
  exports: [AuditWriter, AUDIT_SINK, AuditStage, ADMIN_AUDIT],
})
export class AuditModule {}
