export { RateLimitModule } from './rate-limit.module';
export { RateLimitStage, type RateLimitFacts } from './rate-limit.stage';
export type { LimitState } from './limiter/limits';
