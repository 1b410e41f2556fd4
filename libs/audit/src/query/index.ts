import type { Provider } from '@nestjs/common';
import { AUDIT_QUERY_CLOCK } from './audit-query.controller';
import { AuditQueryService } from './audit-query.service';

export { AuditQueryController, AUDIT_QUERY_CLOCK } from './audit-query.controller';
export { AuditQueryService } from './audit-query.service';
export type { ActivitySummary, AuditEventView, EventPage, SummaryEntry } from './audit-query.service';
export { AuditQueryError, AuditQueryErrorCode, auditQueryErrorStatus } from './audit-query-error';
export { parsePeriod, PeriodError } from './period';
export type { Period } from './period';

/**
 * What AuditModule adds for the query API: `controllers: [AuditQueryController]`,
 * `providers: [...AUDIT_QUERY_PROVIDERS]` (it already provides the AUDIT_SINK the controller needs).
 */
export const AUDIT_QUERY_PROVIDERS: Provider[] = [
  AuditQueryService,
  { provide: AUDIT_QUERY_CLOCK, useValue: () => new Date() },
];
