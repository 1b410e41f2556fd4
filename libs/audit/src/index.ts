import type { OpenApiFragment } from '@gatehouse/policy';
import { AUDIT_OPENAPI as HAND_WRITTEN_AUDIT_OPENAPI } from './openapi';
import { ACTIVITY_OPENAPI } from './query/activity.openapi';

export type { AuditOutcome, AuditRecord, AuditSink } from './types';
export { AUDIT_SINK } from './types';
export { AUDIT_OUTCOMES } from './types';
export { AuditModule } from './audit.module';
export { AuditWriter, AUDIT_INSERT } from './store/audit-writer';
export type { AuditWriterOptions, AuditWriterStats } from './store/audit-writer';
export { AUDIT_WRITER_PROVIDERS } from './store/audit-writer.provider';
export { verifyChains } from './store/verify';
export type { VerifyOptions, VerifyReport, BrokenLink } from './store/verify';
export {
  canonical,
  chainedRow,
  chainHash,
  contentRow,
  contentRowFromDb,
  GENESIS_HASH,
  CANONICAL_VERSION,
} from './store/canonical';
export type { ChainedRow } from './store/canonical';
export { AuditStage } from './stage/audit.stage';
export { redactArguments, REDACTED } from './stage/redact';
export * from './query';
export * from './ingest';
export * from './export';
export {
  AdminAuditTrail,
  AdminActionInterceptor,
  AdminAuditErrorFilter,
  ADMIN_AUDIT_PROVIDERS,
} from './admin';

/** The audit routes' part of the OpenAPI document: the hand-written part and the Activity routes (from their zod schemas). */
export const AUDIT_OPENAPI: OpenApiFragment = {
  paths: { ...HAND_WRITTEN_AUDIT_OPENAPI.paths, ...ACTIVITY_OPENAPI.paths },
  schemas: HAND_WRITTEN_AUDIT_OPENAPI.schemas,
};
