export type { AuditOutcome, AuditRecord, AuditSink } from './types';
export { AUDIT_SINK } from './types';
