import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

/** One per-minute limit to check for a call. */
export interface LimitCheck {
  /** `rule`, `user` or `tool`: which configured limit this is. */
  name: string;
  /** Whose budget: principal, principal × rule, or server × tool. */
  key: string;
  points: number;
}

/** What one limit said, for the caller's error and the audit. */
export interface LimitState {
  name: string;
  points: number;
  remaining: number;
  /** Set when the limit refused the call. */
  retryAfterSeconds?: number;
  /** Counted by this replica alone at its degraded share (R28). */
  degraded: boolean;
}

/** This replica's share of a limit while Redis is away: never zero, never the whole limit unless it is 1. */
export function degradedPoints(points: number, share: number): number {
  return Math.max(1, Math.floor(points * share));
}

/**
 * Fixed one-minute windows in this process (rate-limiter-flexible's memory limiter): the limits
 * of a gateway without Redis, and this replica's degraded share while Redis is away.
 */
export class LocalMinuteLimits {
  private readonly limiters = new Map<number, RateLimiterMemory>();

  /**
   * Consumes `amount` (one call, or a body's bytes) of `points`; never rejects (a refusal is a
   * state with `retryAfterSeconds`).
   */
  async consume(check: LimitCheck, points: number, degraded: boolean, amount = 1): Promise<LimitState> {
    const base = { name: check.name, points, degraded };
    try {
      const res = await this.limiter(points).consume(check.key, amount);
      return { ...base, remaining: Math.max(0, res.remainingPoints) };
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err;
      return { ...base, remaining: 0, retryAfterSeconds: Math.max(1, Math.ceil(err.msBeforeNext / 1000)) };
    }
  }

  private limiter(points: number): RateLimiterMemory {
    let limiter = this.limiters.get(points);
    if (!limiter) {
      limiter = new RateLimiterMemory({ keyPrefix: 'rl', points, duration: 60 });
      this.limiters.set(points, limiter);
    }
    return limiter;
  }
}
