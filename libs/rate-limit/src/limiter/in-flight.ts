import type { Redis } from 'ioredis';
import { degradedPoints } from './limits';
import { RedisHealth, within } from './redis-health';

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

/**
 * Concurrent calls per principal (rate limit 4). With Redis a slot is a member of the principal's
 * sorted set, taken by {@link CallLimiter}'s script together with the minute windows; here are the
 * in-memory slots (no Redis, or this replica's degraded share) and the release of both kinds.
 */
export class InFlight {
  private readonly local = new Map<string, number>();

  constructor(
    private readonly redis: Redis | undefined,
    private readonly keyPrefix: string,
    private readonly health: RedisHealth,
    private readonly degradedShare: number,
  ) {}

  keyOf(principal: string): string {
    return `${this.keyPrefix}inflight:${principal}`;
  }

  /** A slot in this replica's memory: the full limit without Redis, the degraded share with it. */
  acquireLocally(principal: string, limit: number): Acquired {
    const key = this.keyOf(principal);
    const degraded = this.redis !== undefined;
    const localLimit = degraded ? degradedPoints(limit, this.degradedShare) : limit;
    const held = this.local.get(key) ?? 0;
    if (held >= localLimit) return { lease: undefined, limit: localLimit, degraded };
    this.local.set(key, held + 1);
    return { lease: { key, member: '', local: true }, limit: localLimit, degraded };
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
    return this.local.get(this.keyOf(principal)) ?? 0;
  }
}
