import type { Provider } from '@nestjs/common';
import { APP_FILTER, APP_INTERCEPTOR } from '@nestjs/core';
import { ADMIN_AUDIT } from '@gatehouse/auth';
import { AdminActionInterceptor } from './admin-action.interceptor';
import { AdminAuditErrorFilter } from './admin-audit-error.filter';
import { AdminAuditTrail } from './admin-audit-trail';

export { AdminAuditTrail } from './admin-audit-trail';
export { AdminActionInterceptor } from './admin-action.interceptor';
export { AdminAuditErrorFilter } from './admin-audit-error.filter';

/**
 * What AuditModule adds for admin actions: the {@link ADMIN_AUDIT} port, the global interceptor
 * that acts on `@AdminAction` handlers and the filter that answers 503 `AUDIT_UNAVAILABLE`.
 */
export const ADMIN_AUDIT_PROVIDERS: Provider[] = [
  AdminAuditTrail,
  { provide: ADMIN_AUDIT, useExisting: AdminAuditTrail },
  { provide: APP_INTERCEPTOR, useClass: AdminActionInterceptor },
  { provide: APP_FILTER, useClass: AdminAuditErrorFilter },
];
