import type { Provider } from '@nestjs/common';
import { AUDIT_QUERY_CLOCK } from './audit-query.controller';
import { AuditQueryService } from './audit-query.service';
import { ActivityService } from './activity.service';

export { AuditQueryController, AUDIT_QUERY_CLOCK } from './audit-query.controller';
export { AuditQueryService } from './audit-query.service';
export { ActivityController } from './activity.controller';
export { ActivityService, bucketSecondsFor, MAX_VERIFY_DAYS, MAX_VERIFY_RECORDS } from './activity.service';
export * from './activity.schemas';
export { checkRollups, splitPeriod } from './rollups';
export type { ActivitySummary, AuditEventView, EventPage, SummaryEntry } from './audit-query.service';
export { AuditQueryError, AuditQueryErrorCode, auditQueryErrorStatus } from './audit-query-error';
export { parsePeriod, PeriodError, periodSuggestions } from './period';
export type { Period } from './period';

/**
 * What AuditModule adds for the query API: `controllers: [AuditQueryController]`,
 * `providers: [...AUDIT_QUERY_PROVIDERS]` (it already provides the AUDIT_SINK the controller needs).
 */
export const AUDIT_QUERY_PROVIDERS: Provider[] = [
  AuditQueryService,
  ActivityService,
  { provide: AUDIT_QUERY_CLOCK, useValue: () => new Date() },
];
