import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { degradedPoints } from './limits';
import { RedisHealth, within } from './redis-health';

/**
 * One sorted set per principal: a member per call in flight, scored with the time it is
 * presumed dead. Expired members are dropped before counting, so a replica that crashes
 * mid-call frees its slots by itself once its calls could no longer be running. Redis's own
 * clock decides, so replicas' clocks do not matter.
 */
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[3])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
`;

/** A slot held by one call; give it back with {@link InFlight.release}. */
export interface Lease {
  key: string;
  member: string;
  /** Held in this replica's memory (no Redis, or degraded) rather than in Redis. */
  local: boolean;
}

/** `lease` is absent when the principal already has `limit` calls in flight. */
export interface Acquired {
  lease: Lease | undefined;
  limit: number;
  degraded: boolean;
}

type InFlightRedis = Redis & {
  ghInFlight(key: string, limit: number, ttlMs: number, member: string): Promise<number>;
};

/** Concurrent calls per principal (rate limit 4): acquired in `before`, released in `after`. */
export class InFlight {
  private readonly local = new Map<string, number>();
  private readonly redis: InFlightRedis | undefined;

  constructor(
    redis: Redis | undefined,
    private readonly keyPrefix: string,
    private readonly health: RedisHealth,
    private readonly degradedShare: number,
  ) {
    if (redis) {
      redis.defineCommand('ghInFlight', { numberOfKeys: 1, lua: ACQUIRE });
      this.redis = redis as InFlightRedis;
    }
  }

  /** A slot if fewer than `limit` calls of `principal` are in flight; `ttlMs` bounds a call's life. */
  async acquire(principal: string, limit: number, ttlMs: number, deadline: number): Promise<Acquired> {
    const key = `${this.keyPrefix}inflight:${principal}`;
    const remainingMs = deadline - Date.now();
    if (this.redis && remainingMs > 0) {
      try {
        const member = randomUUID();
        const got = await within(this.redis.ghInFlight(key, limit, ttlMs, member), remainingMs);
        this.health.ok();
        return { lease: got === 1 ? { key, member, local: false } : undefined, limit, degraded: false };
      } catch (err) {
        this.health.fail(err);
      }
    }
    const localLimit = this.redis ? degradedPoints(limit, this.degradedShare) : limit;
    const held = this.local.get(key) ?? 0;
    if (held >= localLimit)
      return { lease: undefined, limit: localLimit, degraded: this.redis !== undefined };
    this.local.set(key, held + 1);
    return { lease: { key, member: '', local: true }, limit: localLimit, degraded: this.redis !== undefined };
  }

  /** Gives the slot back. A Redis that does not answer leaves the member to expire by its score. */
  async release(lease: Lease, timeoutMs: number): Promise<void> {
    if (lease.local) {
      const held = (this.local.get(lease.key) ?? 1) - 1;
      if (held > 0) this.local.set(lease.key, held);
      else this.local.delete(lease.key);
      return;
    }
    if (!this.redis) return;
    try {
      await within(this.redis.zrem(lease.key, lease.member), timeoutMs);
      this.health.ok();
    } catch (err) {
      this.health.fail(err);
    }
  }

  /** Calls this replica holds in memory for a principal key (tests and diagnostics). */
  localCount(principal: string): number {
    return this.local.get(`${this.keyPrefix}inflight:${principal}`) ?? 0;
  }
}
