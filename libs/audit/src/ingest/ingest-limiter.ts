import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { principalKey, type Principal } from '@gatehouse/auth';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '@gatehouse/config';
import { LOGGER, type Logger } from '@gatehouse/observability';
import { CallLimiter, limiterRedis, RedisHealth } from '@gatehouse/rate-limit';
import { IngestError, IngestErrorCode } from './ingest-error';

/** An ingest holds its in-flight slot at most this long, even if its replica dies before releasing it. */
const SLOT_TTL_MS = 120_000;

/**
 * Ingest requests per principal (`audit.ingest.perPrincipalPerMinute`, `inFlightPerPrincipal`):
 * the pipeline's {@link CallLimiter}, so the minute window and the in-flight slot are one atomic
 * Redis script (exact across replicas), with this replica's degraded share while Redis is away
 * and the full limits in memory without `redis.url`. Its keys (`ingest:…`) are apart from the
 * call limits: reporting calls that already ran never uses up a principal's call budget.
 */
@Injectable()
export class IngestLimiter implements OnModuleInit, OnModuleDestroy {
  private readonly redis: Redis | undefined;
  private readonly health: RedisHealth;
  private readonly limiter: CallLimiter;

  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    @Inject(LOGGER) logger: Logger,
  ) {
    const { keyPrefix, url } = config.redis;
    const share = config.rateLimit.degradedShare;
    // No metrics: the degraded gauge belongs to the call limits, which keep their own health.
    this.health = new RedisHealth(logger, undefined, share);
    this.redis = limiterRedis(url, this.health);
    this.limiter = new CallLimiter(this.redis, `${keyPrefix}ingest:`, this.health, share);
  }

  async onModuleInit(): Promise<void> {
    await this.redis?.connect().catch((err: unknown) => this.health.fail(err));
  }

  async onModuleDestroy(): Promise<void> {
    if (this.redis && this.redis.status !== 'end') await this.redis.quit().catch(() => undefined);
  }

  /**
   * Runs `work` within `principal`'s ingest limits, or throws RATE_LIMITED (429 with Retry-After)
   * without running it. The in-flight slot is given back however `work` ends.
   */
  async run<T>(principal: Principal, work: () => Promise<T>): Promise<T> {
    const { ingest } = this.config.audit;
    const who = principalKey(principal);
    const answer = await this.limiter.check(
      [{ name: 'ingest', key: who, points: ingest.perPrincipalPerMinute }],
      { principal: who, limit: ingest.inFlightPerPrincipal, ttlMs: SLOT_TTL_MS },
      Date.now() + this.config.rateLimit.redisTimeoutMs,
    );
    const got = answer.inFlight;
    if (!got) {
      const refused = answer.limits.at(-1);
      const retryAfter = refused?.retryAfterSeconds ?? 1;
      throw new IngestError(
        IngestErrorCode.RATE_LIMITED,
        `too many ingest requests: ${refused?.points ?? ingest.perPrincipalPerMinute} per minute${refused?.degraded ? ' (degraded share)' : ''}; nothing of this request was stored, retry in ${retryAfter} s`,
        [],
        retryAfter,
      );
    }
    if (!got.lease) {
      throw new IngestError(
        IngestErrorCode.RATE_LIMITED,
        `too many ingest requests at once: ${got.limit} in flight${got.degraded ? ' (degraded share)' : ''}; nothing of this request was stored, retry in 1 s`,
        [],
        1,
      );
    }
    try {
      return await work();
    } finally {
      await this.limiter.inFlight.release(got.lease, this.config.rateLimit.redisTimeoutMs);
    }
  }
}
