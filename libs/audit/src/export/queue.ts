import { Redis, type RedisOptions } from 'ioredis';
import type { JobsOptions } from 'bullmq';
import { ExportError, ExportErrorCode } from './export-error';

/** The queue settings of `export.*` the relay and processors share. */
export interface QueueSettings {
  /** BullMQ key prefix (`export.queuePrefix`). */
  prefix: string;
  attempts: number;
  backoffMs: number;
}

/** The BullMQ queue of one sink. Queue names carry no `:` (BullMQ's key separator). */
export function queueName(sink: string): string {
  return `audit-export-${sink}`;
}

/**
 * The longest a job can keep retrying: the sum of its exponential backoff delays
 * (`backoffMs · (2^(attempts-1) − 1)`), in seconds.
 */
export function retryHorizonSeconds(settings: QueueSettings): number {
  return Math.ceil((settings.backoffMs * (2 ** (settings.attempts - 1) - 1)) / 1000);
}

/**
 * Job options: exponential backoff, and completed and failed jobs kept in Redis longer than the
 * retry horizon (at least a week), so a job id the relay adds again while its earlier job is still
 * remembered is a no-op rather than a second delivery (R24).
 */
export function jobOptions(settings: QueueSettings, jobId: string, priority?: number): JobsOptions {
  const keepSeconds = Math.max(7 * 86_400, 2 * retryHorizonSeconds(settings));
  return {
    jobId,
    attempts: settings.attempts,
    backoff: { type: 'exponential', delay: settings.backoffMs },
    removeOnComplete: { age: keepSeconds },
    removeOnFail: { age: keepSeconds },
    ...(priority !== undefined ? { priority } : {}),
  };
}

/**
 * A Redis connection for BullMQ. Workers block on Redis and must retry forever
 * (`maxRetriesPerRequest: null`); producers (the relay) fail fast instead, so a Redis outage
 * pauses the relay rather than hanging it (R31).
 */
export function redisConnection(url: string, role: 'worker' | 'producer'): Redis {
  const options: RedisOptions =
    role === 'worker'
      ? { maxRetriesPerRequest: null, lazyConnect: true }
      : { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: true, connectTimeout: 5_000 };
  return new Redis(url, options);
}

/**
 * Refuses a Redis that may evict keys: with any `maxmemory-policy` other than `noeviction`,
 * Redis drops queued jobs silently under memory pressure (R23). Read from `INFO memory`, which
 * managed Redis services allow even where `CONFIG GET` is disabled.
 */
export async function assertNoEviction(redis: Redis): Promise<void> {
  const info = await redis.info('memory');
  const policy = /^maxmemory_policy:(\S+)/m.exec(info)?.[1];
  if (policy !== 'noeviction') {
    throw new ExportError(
      ExportErrorCode.REDIS_EVICTION,
      `Redis maxmemory-policy is "${policy ?? 'unknown'}": queued export jobs could be evicted. Set it to noeviction (redis.conf "maxmemory-policy noeviction", or CONFIG SET maxmemory-policy noeviction; on managed Redis, in its parameter group)`,
    );
  }
}
