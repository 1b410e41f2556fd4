export { SECRET_KEY, SECRET_RULES } from './rules';
export type { SecretRule } from './rules';
export {
  AUDIT_REDACT_LIMITS,
  LOG_REDACT_LIMITS,
  REDACTED,
  redactBoundedText,
  redactText,
  redactValue,
  truncatedMarker,
} from './scan';
export type { RedactLimits, RedactOptions } from './scan';
