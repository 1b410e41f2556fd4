export { createLogger, REDACT_PATHS } from './logger';
export type { Logger } from './logger';
export { Metrics } from './metrics';
export { ObservabilityModule, LOGGER } from './observability.module';
export { Readiness } from './readiness';
export type { ReadinessCheck } from './readiness';
