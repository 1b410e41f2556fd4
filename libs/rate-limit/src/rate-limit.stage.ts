import { Inject, Injectable, Optional, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { principalKey, type Principal } from '@gatehouse/auth';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '@gatehouse/config';
import { LOGGER, Metrics, type Logger } from '@gatehouse/observability';
import { governedTarget, type BypassFacts, type Decision } from '@gatehouse/policy';
import {
  type CallContext,
  type CallOutcome,
  type CallStage,
  type BytesRefusal,
  type RequestBytesBudget,
  TransportError,
  TransportErrorCode,
} from '@gatehouse/transport';
import { CallLimiter } from './limiter/call-limiter';
import type { Lease } from './limiter/in-flight';
import type { LimitCheck, LimitState } from './limiter/limits';
import { RedisHealth } from './limiter/redis-health';
import { limiterRedis } from './limiter/limiter-redis';

/** What the stage records in `call.facts.rateLimit` for the audit, on allowed and refused calls. */
export interface RateLimitFacts {
  /** Every limit checked, in order, with what remained after this call. */
  limits: LimitState[];
  inFlight?: { limit: number; acquired: boolean; degraded: boolean };
  /** The limit that refused the call. */
  refused?: string;
  /** Some limit was counted by this replica alone because Redis was away (R28). */
  degraded: boolean;
}

/** A call stays counted as in flight this much past its upstream's request timeout. */
const IN_FLIGHT_MARGIN_MS = 30_000;

/** Principals this replica remembers as over their per-user limit, at most (expired ones go first). */
const MAX_BLOCKED = 100_000;

/** A principal whose per-user window is spent, until the window ends. */
interface Blocked {
  until: number;
  points: number;
  degraded: boolean;
}

/**
 * Rate limits for governed calls (those the policy decided), after the policy stage: the matched
 * rule's `rate_limit_per_minute` per principal × rule, `rateLimit.perUserPerMinute` per
 * principal, `rateLimit.perToolPerMinute` per server × tool, and `rateLimit.inFlightPerUser`
 * concurrent calls per principal. Checked in that order in one Redis round trip (one atomic
 * script) within `rateLimit.redisTimeoutMs`; the first refusal ends the check, so a refused call
 * uses up the more specific limits it passed but not the broader ones after it.
 *
 * A call the policy denied counts against its caller's per-user window too (after its answer, in
 * {@link after}), so a flood of denied calls ends in `rate_limited` like any other. Once a
 * principal's per-user window is spent, this replica remembers it until the window ends and
 * {@link RateLimitGate}, placed before the policy step, refuses their governed calls at once,
 * before anything about them is inspected.
 */
@Injectable()
export class RateLimitStage implements CallStage, RequestBytesBudget, OnModuleInit, OnModuleDestroy {
  readonly name = 'rate-limit';
  private readonly redis: Redis | undefined;
  private readonly health: RedisHealth;
  private readonly limiter: CallLimiter;
  private readonly leases = new WeakMap<CallContext, Lease>();
  private readonly blocked = new Map<string, Blocked>();
  /** Principals this replica saw past their request-byte budget, until the window ends. */
  private readonly overBytes = new Map<string, Blocked>();

  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    @Optional() metrics?: Metrics,
  ) {
    const { keyPrefix, url } = config.redis;
    const share = config.rateLimit.degradedShare;
    this.health = new RedisHealth(logger, metrics, share);
    this.redis = limiterRedis(url, this.health);
    this.limiter = new CallLimiter(this.redis, keyPrefix, this.health, share);
  }

  async onModuleInit(): Promise<void> {
    if (!this.redis) {
      this.logger.warn(
        'rate limits are per replica: no redis.url, so each gateway process counts its own calls (fine for one replica)',
      );
      return;
    }
    await this.redis.connect().catch((err: unknown) => this.health.fail(err));
  }

  async onModuleDestroy(): Promise<void> {
    if (this.redis && this.redis.status !== 'end') await this.redis.quit().catch(() => undefined);
  }

  /** True while this replica applies its degraded share (R28). */
  get degraded(): boolean {
    return this.health.degraded;
  }

  async before(call: CallContext): Promise<void> {
    const decision = call.facts.policy as Decision | undefined;
    // Ungoverned methods (lists, ping) have no decision; denied calls never get here.
    if (!decision?.allow || !call.server) return;
    // A break-glass grant lifts limits only when its opener asked for that (R51).
    if ((call.facts.bypass as BypassFacts | undefined)?.liftsRateLimits) return;
    const { rateLimit } = this.config;
    const deadline = Date.now() + rateLimit.redisTimeoutMs;
    const who = principalKey(call.principal);
    const checks: LimitCheck[] = [];
    if (decision.rateLimitPerMinute !== undefined) {
      checks.push({
        name: 'rule',
        key: `rule:${decision.matchedRules.join('+')}:${who}`,
        points: decision.rateLimitPerMinute,
      });
    }
    checks.push({ name: 'user', key: `user:${who}`, points: rateLimit.perUserPerMinute });
    checks.push({
      name: 'tool',
      key: `tool:${call.server}:${toolOf(call)}`,
      points: rateLimit.perToolPerMinute,
    });

    const ttlMs = (this.config.upstreams[call.server]?.timeouts.requestMs ?? 60_000) + IN_FLIGHT_MARGIN_MS;
    const answer = await this.limiter.check(
      checks,
      { principal: who, limit: rateLimit.inFlightPerUser, ttlMs },
      deadline,
    );
    const facts: RateLimitFacts = {
      limits: answer.limits,
      degraded: answer.limits.some((state) => state.degraded),
    };
    call.facts.rateLimit = facts;
    const got = answer.inFlight;
    if (!got) {
      // No slot was asked for: the last window checked refused the call.
      const refused = answer.limits.at(-1) as LimitState;
      const retryAfter = refused.retryAfterSeconds ?? 1;
      facts.refused = refused.name;
      if (refused.name === 'user') this.block(who, refused);
      throw limited(
        `rate limit '${refused.name}' reached: ${refused.points} calls per minute${refused.degraded ? ' (degraded share)' : ''}; retry in ${retryAfter} s`,
        retryAfter,
        refused.name,
        refused.points,
      );
    }
    facts.inFlight = { limit: got.limit, acquired: got.lease !== undefined, degraded: got.degraded };
    facts.degraded ||= got.degraded;
    if (!got.lease) {
      facts.refused = 'in-flight';
      throw limited(
        `in-flight limit reached: ${got.limit} calls at once${got.degraded ? ' (degraded share)' : ''}; retry in 1 s`,
        1,
        'in-flight',
        got.limit,
      );
    }
    this.leases.set(call, got.lease);
  }

  /**
   * Gives the in-flight slot back whatever the outcome (result, upstream error, later refusal), and
   * counts a call the policy denied against its caller's per-user window.
   */
  async after(call: CallContext, outcome?: CallOutcome): Promise<void> {
    if (outcome?.status === 'denied') return this.countDenied(call);
    const lease = this.leases.get(call);
    if (!lease) return;
    this.leases.delete(call);
    await this.limiter.inFlight.release(lease, this.config.rateLimit.redisTimeoutMs);
  }

  /**
   * The gate before the policy step ({@link RateLimitGate}): a governed call of a principal whose
   * per-user window this replica saw spent is refused until the window ends, without a Redis round
   * trip and before the policy inspects anything. Lists and ping are not governed and pass.
   */
  refuseIfBlocked(call: CallContext): void {
    const params = call.upstreamParams ?? call.request.params ?? {};
    if (!governedTarget(call.server, call.request.method, params)) return;
    const who = principalKey(call.principal);
    const blocked = this.blocked.get(who);
    if (!blocked) return;
    const left = blocked.until - Date.now();
    if (left <= 0) {
      this.blocked.delete(who);
      return;
    }
    const retryAfter = Math.max(1, Math.ceil(left / 1000));
    const state: LimitState = {
      name: 'user',
      points: blocked.points,
      remaining: 0,
      retryAfterSeconds: retryAfter,
      degraded: blocked.degraded,
    };
    const facts: RateLimitFacts = { limits: [state], refused: 'user', degraded: blocked.degraded };
    call.facts.rateLimit = facts;
    throw limited(
      `rate limit 'user' reached: ${blocked.points} calls per minute, denied calls included${blocked.degraded ? ' (degraded share)' : ''}; retry in ${retryAfter} s`,
      retryAfter,
      'user',
      blocked.points,
    );
  }

  /**
   * The request-byte budget (`rateLimit.bytesPerUserPerMinute`), charged by the front door before
   * a body is parsed: `bytes` go to the principal's `rl:bytes:<principal>` minute window in one
   * atomic script (R26), or this replica's share while Redis is away (R28). A request that passes
   * the budget is refused, its bytes still counted, and this replica then refuses the principal's
   * requests without a round trip until the window ends. `bytes` 0 only asks that.
   */
  async charge(principal: Principal, bytes: number): Promise<BytesRefusal | undefined> {
    const who = principalKey(principal);
    const limit = this.config.rateLimit.bytesPerUserPerMinute;
    const known = this.overBytes.get(who);
    if (known) {
      const left = known.until - Date.now();
      if (left > 0) return bytesRefusal(known.points, Math.ceil(left / 1000), known.degraded);
      this.overBytes.delete(who);
    }
    if (bytes <= 0) return undefined;
    const state = await this.limiter.add(
      { name: 'bytes', key: `bytes:${who}`, points: limit },
      bytes,
      Date.now() + this.config.rateLimit.redisTimeoutMs,
    );
    if (state.retryAfterSeconds === undefined) return undefined;
    remember(this.overBytes, who, state);
    return bytesRefusal(state.points, state.retryAfterSeconds, state.degraded);
  }

  /** A denied call uses one point of its caller's per-user window; spending it blocks them. */
  private async countDenied(call: CallContext): Promise<void> {
    const decision = call.facts.policy as Decision | undefined;
    if (!decision || decision.allow || !call.server) return;
    const who = principalKey(call.principal);
    const { rateLimit } = this.config;
    const [state] = await this.limiter.count(
      [{ name: 'user', key: `user:${who}`, points: rateLimit.perUserPerMinute }],
      Date.now() + rateLimit.redisTimeoutMs,
    );
    if (state?.retryAfterSeconds !== undefined) this.block(who, state);
  }

  private block(who: string, state: LimitState): void {
    remember(this.blocked, who, state);
  }
}

/** Remembers `who` as over a limit until its window ends; the map is bounded (expired ones go first). */
function remember(map: Map<string, Blocked>, who: string, state: LimitState): void {
  const now = Date.now();
  if (map.size >= MAX_BLOCKED) {
    for (const [key, b] of map) if (b.until <= now) map.delete(key);
    if (map.size >= MAX_BLOCKED) map.clear();
  }
  map.set(who, {
    until: now + (state.retryAfterSeconds ?? 1) * 1000,
    points: state.points,
    degraded: state.degraded,
  });
}

/** The front door's answer past the byte budget, and its audit facts. */
function bytesRefusal(points: number, retryAfterSeconds: number, degraded: boolean): BytesRefusal {
  const retryAfter = Math.max(1, retryAfterSeconds);
  const state: LimitState = { name: 'bytes', points, remaining: 0, retryAfterSeconds: retryAfter, degraded };
  const facts: RateLimitFacts = { limits: [state], refused: 'bytes', degraded };
  return {
    error: limited(
      `rate limit 'bytes' reached: request bytes past ${points.toLocaleString('en-US')} bytes per minute${degraded ? ' (degraded share)' : ''}; this request was refused before its body was parsed; retry in ${retryAfter} s`,
      retryAfter,
      'bytes',
      points,
    ),
    facts: facts as unknown as Record<string, unknown>,
  };
}

/**
 * The rate limit's first look at a call, before the policy step: refuses at once the governed
 * calls of a principal whose per-user window is spent ({@link RateLimitStage.refuseIfBlocked}),
 * so a caller past their limit costs no inspection. Order: `[RateLimitGate, PolicyStage,
 * RateLimitStage, …]`.
 */
@Injectable()
export class RateLimitGate implements CallStage {
  readonly name = 'rate-limit-gate';

  constructor(private readonly limits: RateLimitStage) {}

  async before(call: CallContext): Promise<void> {
    this.limits.refuseIfBlocked(call);
  }
}

function limited(message: string, retryAfterSeconds: number, name: string, points: number): TransportError {
  return new TransportError(TransportErrorCode.RATE_LIMITED, message, {
    retryAfterSeconds,
    limit: { name, points, remaining: 0 },
  });
}

/** The tool, prompt or resource the call is about, as the upstream knows it. */
function toolOf(call: CallContext): string {
  const params = call.upstreamParams ?? call.request.params ?? {};
  const ref = params.ref as Record<string, unknown> | undefined;
  const name = params.name ?? params.uri ?? ref?.name ?? ref?.uri;
  return typeof name === 'string' ? name : call.request.method;
}
