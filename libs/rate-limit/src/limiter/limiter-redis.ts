import { Redis } from 'ioredis';
import type { RedisHealth } from './redis-health';

/**
 * The connection a {@link CallLimiter} uses, or none without `redis.url` (limits in memory). It
 * fails at once while disconnected (the limiter's deadline bounds the rest) and reconnects for
 * ever; ioredis reports connection errors as events, and the health state logs the transition
 * once. Call limits and ingest limits each open one, so their health states stay apart.
 */
export function limiterRedis(url: string | undefined, health: RedisHealth): Redis | undefined {
  if (!url) return undefined;
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: (times) => Math.min(times * 100, 1000),
  });
  redis.on('error', (err: Error) => health.fail(err));
  return redis;
}
