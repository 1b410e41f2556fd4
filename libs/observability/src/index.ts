export { createLogger, REDACT_PATHS } from './logger';
export { nestLogger } from './nest-logger';
export type { Logger } from './logger';
export { Metrics } from './metrics';
export { ObservabilityModule, LOGGER } from './observability.module';
export { Readiness } from './readiness';
export type { ReadinessCheck } from './readiness';
export { apiErrorFilter, apiErrorInterceptor } from './api-errors';
export type { ApiErrorHandling, CodedApiError } from './api-errors';
export {
  AUDIT_REDACT_LIMITS,
  LOG_REDACT_LIMITS,
  REDACTED,
  SECRET_KEY,
  SECRET_RULES,
  redactBoundedText,
  redactText,
  redactValue,
  truncatedMarker,
} from './secrets';
export type { RedactLimits, RedactOptions, SecretRule } from './secrets';
