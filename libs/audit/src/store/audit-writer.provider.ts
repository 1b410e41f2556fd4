import type { Provider } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '@gatehouse/config';
import { AUDIT_SINK } from '../types';
import { AuditWriter } from './audit-writer';

/**
 * The writer on the app's DataSource with the `audit.*` sizes, also as {@link AUDIT_SINK}. Its own
 * lifecycle hooks create the month's partitions at start and flush on shutdown.
 */
export const AUDIT_WRITER_PROVIDERS: Provider[] = [
  {
    provide: AuditWriter,
    inject: [DataSource, GATEHOUSE_CONFIG],
    useFactory: (dataSource: DataSource, config: GatehouseConfig) =>
      new AuditWriter(dataSource, config.audit),
  },
  { provide: AUDIT_SINK, useExisting: AuditWriter },
];
