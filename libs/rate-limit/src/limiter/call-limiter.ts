import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { InFlight, type Acquired } from './in-flight';
import { LocalMinuteLimits, degradedPoints, type LimitCheck, type LimitState } from './limits';
import { RedisHealth, within } from './redis-health';

/** Length of every counting window. */
const WINDOW_MS = 60_000;

/**
 * The minute windows, counted in order (created with their expiry in the same atomic step as
 * their first count); stops at the first window past its limit. Leaves `used, pttl` per window in
 * `out`. Shared by {@link CHECK_CALL} and {@link COUNT_WINDOWS}.
 */
const WINDOWS = `
local n = tonumber(ARGV[1])
local window = tonumber(ARGV[n + 2])
local out = {}
for i = 1, n do
  redis.call('SET', KEYS[i], 0, 'PX', window, 'NX')
  local used = redis.call('INCR', KEYS[i])
  out[#out + 1] = used
  out[#out + 1] = redis.call('PTTL', KEYS[i])
  if used > tonumber(ARGV[i + 1]) then return out end
end
`;

/**
 * Every limit of one call in one atomic script, so a call costs one Redis round trip however many
 * limits it has. KEYS: the n minute-window counters in order, then the caller's in-flight set.
 * ARGV: n, the n limits, the window in ms, the in-flight limit, the in-flight slot's life in ms,
 * the slot's member.
 *
 * Each window is created with its expiry in the same atomic step as its first count (SET NX PX,
 * then INCR: never INCR then EXPIRE), and a call past a window's limit still counts, as
 * rate-limiter-flexible counts it. The first refused window ends the script: the windows after it
 * are not counted and no in-flight slot is taken. The in-flight set holds one member per call,
 * scored with the time it is presumed dead on Redis's own clock, so slots of a crashed replica free
 * themselves and replicas' clocks never matter.
 *
 * Returns `used, pttl` per window checked, then 1 or 0 for the in-flight slot when every window
 * passed. Single Redis only: the keys hash to different slots, so Redis Cluster would refuse it.
 */
const CHECK_CALL = `
${WINDOWS}local key = KEYS[n + 1]
local limit = tonumber(ARGV[n + 3])
local ttl = tonumber(ARGV[n + 4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
if redis.call('ZCARD', key) >= limit then
  out[#out + 1] = 0
  return out
end
redis.call('ZADD', key, now + ttl, ARGV[n + 5])
if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
out[#out + 1] = 1
return out
`;

/**
 * The minute windows of {@link CHECK_CALL} alone, for calls that never reach an upstream (a call
 * the policy denied still counts against its caller): no in-flight slot. Same KEYS and ARGV for the
 * windows, same reply without the slot.
 */
const COUNT_WINDOWS = `
${WINDOWS}return out
`;

/**
 * One window counted by an amount (a request body's bytes): KEYS[1] the window, ARGV the amount
 * and the window in ms. Created with its expiry in the same atomic step as its first count, like
 * {@link CHECK_CALL}; an amount past the limit still counts. Returns `used, pttl`.
 */
const ADD_TO_WINDOW = `
redis.call('SET', KEYS[1], 0, 'PX', ARGV[2], 'NX')
local used = redis.call('INCRBY', KEYS[1], ARGV[1])
return { used, redis.call('PTTL', KEYS[1]) }
`;

type CheckingRedis = Redis & {
  ghCheckCall(...keysThenArgs: Array<string | number>): Promise<number[]>;
  ghCountWindows(...keysThenArgs: Array<string | number>): Promise<number[]>;
  ghAddToWindow(key: string, amount: number, windowMs: number): Promise<number[]>;
};

/** The in-flight slot a call asks for. */
export interface InFlightRequest {
  principal: string;
  limit: number;
  /** Longest the call can live; the slot frees itself after this even if never released. */
  ttlMs: number;
}

/**
 * What the limits said about one call: every minute window checked, in order, and then either the
 * in-flight slot's answer or, when the last window refused the call, no slot (none was asked for).
 */
export type CallLimits =
  { limits: LimitState[]; inFlight: Acquired } | { limits: LimitState[]; inFlight?: never };

/**
 * The limits of one call: the minute windows in order, then an in-flight slot. With Redis it is
 * one atomic script, exact across replicas (R26), waited for until `deadline`; a Redis that fails
 * or is slow sends the whole call to this replica's in-memory limits at `degradedShare` (R28,
 * R29), never wide open. Without Redis the in-memory limits hold the full limits.
 */
export class CallLimiter {
  private readonly redis: CheckingRedis | undefined;
  private readonly minutes = new LocalMinuteLimits();
  readonly inFlight: InFlight;

  constructor(
    redis: Redis | undefined,
    private readonly keyPrefix: string,
    private readonly health: RedisHealth,
    private readonly degradedShare: number,
  ) {
    if (redis) {
      redis.defineCommand('ghCheckCall', { lua: CHECK_CALL });
      redis.defineCommand('ghCountWindows', { lua: COUNT_WINDOWS });
      redis.defineCommand('ghAddToWindow', { lua: ADD_TO_WINDOW, numberOfKeys: 1 });
      this.redis = redis as CheckingRedis;
    }
    this.inFlight = new InFlight(redis, keyPrefix, health, degradedShare);
  }

  async check(checks: LimitCheck[], slot: InFlightRequest, deadline: number): Promise<CallLimits> {
    const remainingMs = deadline - Date.now();
    if (this.redis && remainingMs > 0) {
      try {
        const answer = await within(this.checkInRedis(checks, slot), remainingMs);
        this.health.ok();
        return answer;
      } catch (err) {
        this.health.fail(err);
      }
    }
    return this.checkLocally(checks, slot);
  }

  /**
   * Counts one call against the minute windows only (no in-flight slot), in order, the first
   * refusal ending the count; the same Redis deadline and degraded fallback as {@link check}.
   */
  async count(checks: LimitCheck[], deadline: number): Promise<LimitState[]> {
    const remainingMs = deadline - Date.now();
    if (this.redis && remainingMs > 0) {
      try {
        const reply = await within(
          this.redis.ghCountWindows(
            checks.length,
            ...checks.map((c) => `${this.keyPrefix}rl:${c.key}`),
            checks.length,
            ...checks.map((c) => c.points),
            WINDOW_MS,
          ),
          remainingMs,
        );
        this.health.ok();
        const limits: LimitState[] = [];
        for (let i = 0; i + 1 < reply.length; i += 2) {
          limits.push(windowState(checks[i / 2] as LimitCheck, reply[i] as number, reply[i + 1] as number));
        }
        return limits;
      } catch (err) {
        this.health.fail(err);
      }
    }
    const degraded = this.redis !== undefined;
    const limits: LimitState[] = [];
    for (const check of checks) {
      const points = degraded ? degradedPoints(check.points, this.degradedShare) : check.points;
      const state = await this.minutes.consume(check, points, degraded);
      limits.push(state);
      if (state.retryAfterSeconds !== undefined) break;
    }
    return limits;
  }

  /**
   * Adds `amount` (a request body's bytes) to one minute window of `check.points`: one atomic
   * script, shared by replicas (R26); the same Redis deadline and degraded fallback as
   * {@link check} (R28, R29).
   */
  async add(check: LimitCheck, amount: number, deadline: number): Promise<LimitState> {
    const remainingMs = deadline - Date.now();
    if (this.redis && remainingMs > 0) {
      try {
        const [used, pttl] = await within(
          this.redis.ghAddToWindow(`${this.keyPrefix}rl:${check.key}`, amount, WINDOW_MS),
          remainingMs,
        );
        this.health.ok();
        return windowState(check, used as number, pttl as number);
      } catch (err) {
        this.health.fail(err);
      }
    }
    const degraded = this.redis !== undefined;
    const points = degraded ? degradedPoints(check.points, this.degradedShare) : check.points;
    return this.minutes.consume(check, points, degraded, amount);
  }

  private async checkInRedis(checks: LimitCheck[], slot: InFlightRequest): Promise<CallLimits> {
    const redis = this.redis as CheckingRedis;
    const slotKey = this.inFlight.keyOf(slot.principal);
    const member = randomUUID();
    const reply = await redis.ghCheckCall(
      checks.length + 1,
      ...checks.map((c) => `${this.keyPrefix}rl:${c.key}`),
      slotKey,
      checks.length,
      ...checks.map((c) => c.points),
      WINDOW_MS,
      slot.limit,
      slot.ttlMs,
      member,
    );
    const limits: LimitState[] = [];
    for (let i = 0; i + 1 < reply.length && limits.length < checks.length; i += 2) {
      const check = checks[limits.length] as LimitCheck;
      limits.push(windowState(check, reply[i] as number, reply[i + 1] as number));
    }
    if (reply.length % 2 === 0) return { limits };
    const got = reply[reply.length - 1] === 1;
    return {
      limits,
      inFlight: {
        lease: got ? { key: slotKey, member, local: false } : undefined,
        limit: slot.limit,
        degraded: false,
      },
    };
  }

  private async checkLocally(checks: LimitCheck[], slot: InFlightRequest): Promise<CallLimits> {
    const degraded = this.redis !== undefined;
    const limits: LimitState[] = [];
    for (const check of checks) {
      const points = degraded ? degradedPoints(check.points, this.degradedShare) : check.points;
      const state = await this.minutes.consume(check, points, degraded);
      limits.push(state);
      if (state.retryAfterSeconds !== undefined) return { limits };
    }
    return { limits, inFlight: this.inFlight.acquireLocally(slot.principal, slot.limit) };
  }
}

/** A Redis window's count as the caller's state: refused when `used` passed the limit. */
function windowState(check: LimitCheck, used: number, pttlMs: number): LimitState {
  const { name, points } = check;
  const base = { name, points, remaining: Math.max(0, points - used), degraded: false };
  if (used <= points) return base;
  return { ...base, retryAfterSeconds: Math.max(1, Math.ceil(Math.max(0, pttlMs) / 1000)) };
}
