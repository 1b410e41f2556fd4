export { RateLimitModule } from './rate-limit.module';
export { RateLimitGate, RateLimitStage, type RateLimitFacts } from './rate-limit.stage';
export type { LimitState } from './limiter/limits';
export { CallLimiter, type CallLimits, type InFlightRequest } from './limiter/call-limiter';
export { RedisHealth } from './limiter/redis-health';
export { limiterRedis } from './limiter/limiter-redis';
export type { LimitCheck } from './limiter/limits';
