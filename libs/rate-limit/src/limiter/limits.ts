import type { Redis } from 'ioredis';
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import { RedisHealth, within } from './redis-health';

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

type Answer = { allowed: boolean; res: RateLimiterRes };

/**
 * Fixed one-minute windows. With Redis, each check is one atomic Lua call of
 * rate-limiter-flexible (set-if-absent with expiry, then increment: never INCR then EXPIRE), so a
 * limit holds exactly across replicas (R26). Each call waits at most until `deadline`; a Redis
 * that fails or is slow sends the check to this replica's in-memory limiter at `degradedShare`
 * of the limit (R28, R29). Without Redis the in-memory limiters hold the full limit.
 */
export class MinuteLimits {
  private readonly redisLimiters = new Map<number, RateLimiterAbstract>();
  private readonly memoryLimiters = new Map<number, RateLimiterAbstract>();

  constructor(
    private readonly redis: Redis | undefined,
    private readonly keyPrefix: string,
    private readonly health: RedisHealth,
    private readonly degradedShare: number,
  ) {}

  /** Consumes one point; never rejects (a refusal is a state with `retryAfterSeconds`). */
  async consume(check: LimitCheck, deadline: number): Promise<LimitState> {
    const remainingMs = deadline - Date.now();
    if (this.redis && remainingMs > 0) {
      try {
        const answer = await within(
          answerOf(this.redisLimiter(check.points).consume(check.key)),
          remainingMs,
        );
        this.health.ok();
        return state(check, check.points, answer, false);
      } catch (err) {
        this.health.fail(err);
      }
    }
    const points = this.redis ? degradedPoints(check.points, this.degradedShare) : check.points;
    const answer = await answerOf(this.memoryLimiter(points).consume(check.key));
    return state(check, points, answer, this.redis !== undefined);
  }

  private redisLimiter(points: number): RateLimiterAbstract {
    let limiter = this.redisLimiters.get(points);
    if (!limiter) {
      limiter = new RateLimiterRedis({
        storeClient: this.redis,
        keyPrefix: `${this.keyPrefix}rl`,
        points,
        duration: 60,
        // A disconnected client answers at once instead of queueing until the deadline.
        rejectIfRedisNotReady: true,
      });
      this.redisLimiters.set(points, limiter);
    }
    return limiter;
  }

  private memoryLimiter(points: number): RateLimiterAbstract {
    let limiter = this.memoryLimiters.get(points);
    if (!limiter) {
      limiter = new RateLimiterMemory({ keyPrefix: 'rl', points, duration: 60 });
      this.memoryLimiters.set(points, limiter);
    }
    return limiter;
  }
}

/** This replica's share of a limit while Redis is away: never zero, never the whole limit unless it is 1. */
export function degradedPoints(points: number, share: number): number {
  return Math.max(1, Math.floor(points * share));
}

/** A limiter's refusal (a RateLimiterRes) becomes an answer; store errors stay errors. */
function answerOf(work: Promise<RateLimiterRes>): Promise<Answer> {
  return work.then(
    (res) => ({ allowed: true, res }),
    (err: unknown) => {
      if (err instanceof RateLimiterRes) return { allowed: false, res: err };
      throw err instanceof Error ? err : new Error(String(err));
    },
  );
}

function state(check: LimitCheck, points: number, answer: Answer, degraded: boolean): LimitState {
  const base = { name: check.name, points, remaining: Math.max(0, answer.res.remainingPoints), degraded };
  if (answer.allowed) return base;
  return { ...base, remaining: 0, retryAfterSeconds: Math.max(1, Math.ceil(answer.res.msBeforeNext / 1000)) };
}
