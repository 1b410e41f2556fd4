import { randomUUID } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { principalKey, type Principal } from '@gatehouse/auth';
import { parseConfigText } from '@gatehouse/config';
import { createLogger, Metrics } from '@gatehouse/observability';
import type { Decision } from '@gatehouse/policy';
import { TransportError, TransportErrorCode, type CallContext } from '@gatehouse/transport';
import { RateLimitGate, RateLimitStage, type RateLimitFacts } from './rate-limit.stage';

/** The stage against the real Redis at 127.0.0.1:6379, one key prefix per stage in this file. */
const REDIS_URL = 'redis://127.0.0.1:6379';

interface Limits {
  redisTimeoutMs?: number;
  degradedShare?: number;
  perUserPerMinute?: number;
  perToolPerMinute?: number;
  inFlightPerUser?: number;
  bytesPerUserPerMinute?: number;
}

/** `redisUrl` null: no Redis at all. */
function configWith(limits: Limits, redisUrl: string | null) {
  const rateLimit = Object.entries({
    perUserPerMinute: 1000,
    perToolPerMinute: 1000,
    inFlightPerUser: 100,
    ...limits,
  })
    .map(([k, v]) => `  ${k}: ${v}`)
    .join('\n');
  const redis = redisUrl ? `redis:\n  url: ${redisUrl}\n  keyPrefix: 'test-rl-${randomUUID()}:'\n` : '';
  return parseConfigText(
    `auth:
  mode: none
${redis}rateLimit:
${rateLimit}
upstreams:
  db:
    transport: http
    url: http://127.0.0.1:1/mcp
`,
    {},
  ).config;
}

/** A logger whose lines the test can read. */
function capturedLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger('info', destination), lines };
}

const person = (subject: string): Principal => ({
  kind: 'user',
  issuer: 'https://idp.test',
  subject,
  groups: [],
  roles: [],
  scopes: [],
  expiresAt: Date.now() + 60_000,
});

const allowed = (rateLimitPerMinute?: number): Decision => ({
  allow: true,
  outcome: 'allow',
  matchedRules: ['rule-1'],
  reason: 'allowed',
  action: 'read',
  enforcement: 'enforce',
  touched: [],
  policyVersion: 1,
  ...(rateLimitPerMinute === undefined ? {} : { rateLimitPerMinute }),
});

/** `decision` null: an ungoverned call (no policy decision). */
function call(who: Principal, tool = 'query', decision: Decision | null = allowed()): CallContext {
  const params = { name: tool, arguments: {} };
  return {
    target: '*',
    request: { jsonrpc: '2.0', id: 1, method: 'tools/call', params },
    era: 'legacy',
    protocolVersion: '2025-11-25',
    session: undefined,
    principal: who,
    server: 'db',
    upstreamParams: params,
    headers: {},
    remoteAddress: '127.0.0.1',
    startedAt: 0n,
    facts: decision ? { policy: decision } : {},
  };
}

async function refusal(work: Promise<void>): Promise<TransportError> {
  const err = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof TransportError)) throw new Error(`expected a TransportError, got ${String(err)}`);
  return err;
}

const stages: RateLimitStage[] = [];
async function stageWith(limits: Limits, redisUrl: string | null = REDIS_URL, metrics?: Metrics) {
  const { logger, lines } = capturedLogger();
  const stage = new RateLimitStage(configWith(limits, redisUrl), logger, metrics);
  await stage.onModuleInit();
  stages.push(stage);
  return { stage, lines };
}

afterAll(async () => {
  await Promise.all(stages.map((s) => s.onModuleDestroy()));
});

describe('RateLimitStage (Redis)', () => {
  it("refuses the call past the matched rule's rate_limit_per_minute with -32029, the limit and retry-after", async () => {
    const { stage } = await stageWith({});
    const alice = person('alice');
    for (let i = 0; i < 3; i++) await stage.before(call(alice, 'query', allowed(3)));
    const c = call(alice, 'query', allowed(3));
    const err = await refusal(stage.before(c));
    expect(err.code).toBe(TransportErrorCode.RATE_LIMITED);
    expect(err.message).toMatch(/rate limit 'rule' reached: 3 calls per minute; retry in \d+ s/);
    const retry = (err.data as { retryAfterSeconds: number }).retryAfterSeconds;
    expect(retry).toBeGreaterThanOrEqual(1);
    expect(retry).toBeLessThanOrEqual(60);
    expect(err.data).toMatchObject({ limit: { name: 'rule', points: 3, remaining: 0 } });
    expect(c.facts.rateLimit).toMatchObject({ refused: 'rule', degraded: false });
    // Another person has their own budget under the same rule.
    await expect(stage.before(call(person('bob'), 'query', allowed(3)))).resolves.toBeUndefined();
  });

  it('records every checked limit with what remains on an allowed call, for the audit', async () => {
    const { stage } = await stageWith({ perUserPerMinute: 10, perToolPerMinute: 20, inFlightPerUser: 4 });
    const c = call(person('alice'), 'query', allowed(5));
    await stage.before(c);
    const facts = c.facts.rateLimit as RateLimitFacts;
    expect(facts).toEqual({
      degraded: false,
      limits: [
        { name: 'rule', points: 5, remaining: 4, degraded: false },
        { name: 'user', points: 10, remaining: 9, degraded: false },
        { name: 'tool', points: 20, remaining: 19, degraded: false },
      ],
      inFlight: { limit: 4, acquired: true, degraded: false },
    });
  });

  it('caps one person across all tools (perUserPerMinute)', async () => {
    const { stage } = await stageWith({ perUserPerMinute: 2 });
    const alice = person('alice');
    await stage.before(call(alice, 'one'));
    await stage.before(call(alice, 'two'));
    const err = await refusal(stage.before(call(alice, 'three')));
    expect(err.data).toMatchObject({ limit: { name: 'user', points: 2 } });
    await expect(stage.before(call(person('bob'), 'three'))).resolves.toBeUndefined();
  });

  it('caps one tool across all callers (perToolPerMinute)', async () => {
    const { stage } = await stageWith({ perToolPerMinute: 2 });
    await stage.before(call(person('alice'), 'query'));
    await stage.before(call(person('bob'), 'query'));
    const err = await refusal(stage.before(call(person('carol'), 'query')));
    expect(err.data).toMatchObject({ limit: { name: 'tool', points: 2 } });
    await expect(stage.before(call(person('carol'), 'other'))).resolves.toBeUndefined();
  });

  it('caps calls in flight per person and frees the slot after the call, also after an error', async () => {
    const { stage } = await stageWith({ inFlightPerUser: 2 });
    const alice = person('alice');
    const first = call(alice);
    const second = call(alice);
    await stage.before(first);
    await stage.before(second);
    const third = call(alice);
    const err = await refusal(stage.before(third));
    expect(err.data).toMatchObject({ retryAfterSeconds: 1, limit: { name: 'in-flight', points: 2 } });
    // The refused call's `after` runs too and must not free a slot it never held.
    await stage.after(third);
    await expect(refusal(stage.before(call(alice)))).resolves.toBeInstanceOf(TransportError);

    await stage.after(first);
    const fourth = call(alice);
    await stage.before(fourth);
    await expect(refusal(stage.before(call(alice)))).resolves.toBeInstanceOf(TransportError);
    // An upstream error ends the call like any other outcome.
    await stage.after(second);
    await expect(stage.before(call(alice))).resolves.toBeUndefined();
    // Other people are not affected.
    await expect(stage.before(call(person('bob')))).resolves.toBeUndefined();
  });

  it('checks every limit of a call in one Redis command, and every window key expires with its window', async () => {
    const { stage } = await stageWith({});
    // The first call loads the script (EVALSHA answered NOSCRIPT, then EVAL); later calls reuse it.
    await stage.before(call(person(`warm-${randomUUID()}`), 'query', allowed(5)));
    const subject = `one-trip-${randomUUID()}`;
    const redis = new Redis(REDIS_URL);
    const monitor = await redis.monitor();
    const seen: string[][] = [];
    // Commands a script runs are reported too, with source `lua`: only what clients sent counts.
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source !== 'lua' && args.some((arg) => arg.includes(subject))) seen.push(args);
    });
    try {
      const c = call(person(subject), 'query', allowed(5));
      await stage.before(c);
      await until(async () => seen.length >= 1, 'MONITOR to report the check');
      // Rule, user and tool windows plus the in-flight slot: one command, one round trip.
      expect(seen.map((args) => args[0]?.toLowerCase())).toEqual(['evalsha']);
      await stage.after(c);
      await until(async () => seen.length >= 2, 'MONITOR to report the release');
      expect(seen[1]?.[0]?.toLowerCase()).toBe('zrem');
      const keys = await redis.keys(`*rl:*${subject}*`);
      expect(keys).toHaveLength(2);
      for (const key of keys) {
        const ttl = await redis.pttl(key);
        expect(ttl).toBeGreaterThan(0);
        expect(ttl).toBeLessThanOrEqual(60_000);
      }
    } finally {
      monitor.disconnect();
      redis.disconnect();
    }
  });

  it('does not limit ungoverned calls (no policy decision: lists, ping)', async () => {
    const { stage } = await stageWith({ perUserPerMinute: 1, inFlightPerUser: 1 });
    const alice = person('alice');
    for (let i = 0; i < 3; i++) {
      const c = call(alice, 'query', null);
      await stage.before(c);
      expect(c.facts.rateLimit).toBeUndefined();
    }
  });
});

describe('RateLimitStage without redis.url', () => {
  it('limits in process at the full limit and says at start-up that limits are per replica', async () => {
    const { stage, lines } = await stageWith({ perUserPerMinute: 3 }, null);
    expect(lines.some((l) => /rate limits are per replica/.test(String(l.msg)))).toBe(true);
    const alice = person('alice');
    for (let i = 0; i < 3; i++) await stage.before(call(alice));
    const err = await refusal(stage.before(call(alice)));
    expect(err.data).toMatchObject({ limit: { name: 'user', points: 3 } });
    expect(stage.degraded).toBe(false);
  });
});

/**
 * A TCP proxy in front of the real Redis that the test controls: `pass` forwards, `hold` keeps
 * Redis's replies back (a slow Redis), `down` drops every connection and refuses new ones.
 */
class RedisProxy {
  private mode: 'pass' | 'hold' | 'down' = 'pass';
  private readonly sockets = new Set<Socket>();
  private held: Array<() => void> = [];
  private readonly server: Server = createServer((client) => this.onClient(client));

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    if (!address || typeof address === 'string') throw new Error('proxy has no port');
    return `redis://127.0.0.1:${address.port}`;
  }

  get heldReplies(): number {
    return this.held.length;
  }

  down(): void {
    this.mode = 'down';
    for (const s of this.sockets) s.destroy();
  }

  hold(): void {
    this.mode = 'hold';
  }

  pass(): void {
    this.mode = 'pass';
    const held = this.held;
    this.held = [];
    for (const deliver of held) deliver();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private onClient(client: Socket): void {
    if (this.mode === 'down') {
      client.destroy();
      return;
    }
    const redis = connect(6379, '127.0.0.1');
    this.sockets.add(client).add(redis);
    const drop = () => {
      client.destroy();
      redis.destroy();
      this.sockets.delete(client);
      this.sockets.delete(redis);
    };
    client.on('error', drop).on('close', drop);
    redis.on('error', drop).on('close', drop);
    client.pipe(redis);
    redis.on('data', (chunk: Buffer) => {
      if (this.mode === 'hold') this.held.push(() => client.write(chunk));
      else client.write(chunk);
    });
  }
}

/** Polls an observable condition (no fixed sleep): Redis reconnecting is the event awaited. */
async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('RateLimitStage when Redis is down or slow (R28, R29)', () => {
  const proxy = new RedisProxy();
  let url: string;
  beforeAll(async () => {
    url = await proxy.start();
  });
  afterEach(() => proxy.pass());
  afterAll(async () => {
    await Promise.all(stages.splice(0).map((s) => s.onModuleDestroy()));
    await proxy.close();
  });

  const degradedGauge = async (metrics: Metrics) => (await metrics.rateLimitDegraded.get()).values[0]?.value;

  it('applies the degraded share of each limit (not open), raises the alarm gauge, logs once and recovers by itself', async () => {
    const metrics = new Metrics(false);
    const { stage, lines } = await stageWith(
      { perUserPerMinute: 4, degradedShare: 0.5, redisTimeoutMs: 200 },
      url,
      metrics,
    );
    const healthy = call(person('alice'));
    await stage.before(healthy);
    expect(healthy.facts.rateLimit).toMatchObject({ degraded: false });
    expect(await degradedGauge(metrics)).toBe(0);

    proxy.down();
    const bob = person('bob');
    const first = call(bob);
    await stage.before(first);
    expect(first.facts.rateLimit).toMatchObject({
      degraded: true,
      limits: [
        { name: 'user', points: 2, remaining: 1, degraded: true },
        { name: 'tool', degraded: true },
      ],
    });
    await stage.before(call(bob));
    const err = await refusal(stage.before(call(bob)));
    expect(err.code).toBe(TransportErrorCode.RATE_LIMITED);
    expect(err.message).toMatch(/'user' reached: 2 calls per minute \(degraded share\)/);
    expect(stage.degraded).toBe(true);
    expect(await degradedGauge(metrics)).toBe(1);
    const warnings = (re: RegExp) => lines.filter((l) => re.test(String(l.msg))).length;
    expect(warnings(/rate limits degraded/)).toBe(1);

    proxy.pass();
    await until(async () => {
      const probe = call(person(`probe-${randomUUID()}`));
      await stage.before(probe);
      await stage.after(probe);
      return !(probe.facts.rateLimit as RateLimitFacts).degraded;
    }, 'Redis to answer again');
    expect(stage.degraded).toBe(false);
    expect(await degradedGauge(metrics)).toBe(0);
    expect(warnings(/rate limits recovered/)).toBe(1);
    // Back on Redis, the full limit applies again.
    const carol = person('carol');
    for (let i = 0; i < 4; i++) await stage.before(call(carol));
    const after = await refusal(stage.before(call(carol)));
    expect(after.data).toMatchObject({ limit: { name: 'user', points: 4 } });
  });

  it('13.5 R28: the request-byte budget falls back to the degraded share while Redis is down, never open', async () => {
    const { stage } = await stageWith(
      { bytesPerUserPerMinute: 1000, degradedShare: 0.5, redisTimeoutMs: 200 },
      url,
    );
    await expect(stage.charge(person('warm-up'), 10)).resolves.toBeUndefined();
    proxy.down();
    const erin = person('erin');
    await expect(stage.charge(erin, 400)).resolves.toBeUndefined();
    const refused = await stage.charge(erin, 200);
    expect(refused?.error.message).toMatch(/'bytes' reached: .*500 bytes per minute \(degraded share\)/);
    expect(refused?.facts).toMatchObject({ refused: 'bytes', degraded: true });
  });

  it('caps calls in flight at the degraded share while Redis is down', async () => {
    const { stage } = await stageWith({ inFlightPerUser: 4, degradedShare: 0.5, redisTimeoutMs: 200 }, url);
    await stage.before(call(person('warm-up')));
    proxy.down();
    const dave = person('dave');
    const a = call(dave);
    await stage.before(a);
    await stage.before(call(dave));
    const err = await refusal(stage.before(call(dave)));
    expect(err.data).toMatchObject({ limit: { name: 'in-flight', points: 2 } });
    await stage.after(a);
    await expect(stage.before(call(dave))).resolves.toBeUndefined();
  });

  it('answers without waiting for a slow Redis: the call is decided while Redis still holds its reply', async () => {
    const { stage } = await stageWith({ perUserPerMinute: 4, degradedShare: 0.5, redisTimeoutMs: 100 }, url);
    await stage.before(call(person('warm-up')));
    proxy.hold();
    const c = call(person('erin'));
    await stage.before(c);
    // The stage answered from its degraded share; Redis's reply had not been delivered yet.
    expect(proxy.heldReplies).toBeGreaterThan(0);
    expect(c.facts.rateLimit).toMatchObject({ degraded: true });
    expect(stage.degraded).toBe(true);
    proxy.pass();
    await until(async () => {
      const probe = call(person(`probe-${randomUUID()}`));
      await stage.before(probe);
      await stage.after(probe);
      return !(probe.facts.rateLimit as RateLimitFacts).degraded;
    }, 'Redis to answer in time again');
    expect(stage.degraded).toBe(false);
  });
});

describe('RateLimitStage: denied calls count (issue 13.5)', () => {
  const denied: Decision = { ...allowed(), allow: false, outcome: 'deny', matchedRules: [], reason: 'no' };

  for (const redisUrl of [REDIS_URL, null]) {
    it(`R27: denied calls use the per-user window; past it the gate refuses before the policy step (${redisUrl ? 'Redis' : 'no Redis'})`, async () => {
      const { stage } = await stageWith({ perUserPerMinute: 3 }, redisUrl);
      const gate = new RateLimitGate(stage);
      const bob = person('bob');
      for (let i = 0; i < 3; i++) {
        const c = call(bob, 'query', denied);
        await gate.before(c);
        await stage.after(c, { status: 'denied', errorCode: -32003 });
      }
      // The fourth denied call spends the window: from now on bob is refused at the gate.
      await stage.after(call(bob, 'query', denied), { status: 'denied', errorCode: -32003 });
      // The gate runs before the policy: nothing is decided yet.
      const next = call(bob, 'query', null);
      const err = await refusal(gate.before(next));
      expect(err.code).toBe(TransportErrorCode.RATE_LIMITED);
      expect(err.message).toMatch(
        /rate limit 'user' reached: 3 calls per minute, denied calls included; retry in \d+ s/,
      );
      expect(err.data).toMatchObject({ limit: { name: 'user', points: 3, remaining: 0 } });
      expect(next.facts.rateLimit).toMatchObject({ refused: 'user' });
      // Lists are not governed and pass; another person has their own budget.
      const list = {
        ...call(bob, 'query', null),
        request: { jsonrpc: '2.0' as const, id: 2, method: 'tools/list' },
      };
      await expect(gate.before({ ...list, server: '*' })).resolves.toBeUndefined();
      await expect(gate.before(call(person('alice'), 'query', null))).resolves.toBeUndefined();
    });
  }

  it('R27: an allowed call refused by the per-user window also closes the gate until the window ends', async () => {
    const { stage } = await stageWith({ perUserPerMinute: 2 });
    const gate = new RateLimitGate(stage);
    const carol = person('carol');
    for (let i = 0; i < 2; i++) {
      const c = call(carol);
      await stage.before(c);
      await stage.after(c, { status: 'ok' });
    }
    await refusal(stage.before(call(carol)));
    const err = await refusal(gate.before(call(carol, 'query', null)));
    expect(err.code).toBe(TransportErrorCode.RATE_LIMITED);
  });
});

describe('RateLimitStage: request-byte budget (issue 13.5)', () => {
  for (const redisUrl of [REDIS_URL, null]) {
    it(`13.5 R27: bytes per principal and minute; past the budget -32029 with the limit, then refused without a round trip (${redisUrl ? 'Redis' : 'no Redis'})`, async () => {
      const { stage } = await stageWith({ bytesPerUserPerMinute: 10_000 }, redisUrl);
      const bob = person('bob');
      await expect(stage.charge(bob, 6_000)).resolves.toBeUndefined();
      // Asking with 0 bytes (a chunked body, before it is read) costs nothing while under budget.
      await expect(stage.charge(bob, 0)).resolves.toBeUndefined();
      const refused = await stage.charge(bob, 6_000);
      expect(refused?.error.code).toBe(TransportErrorCode.RATE_LIMITED);
      expect(refused?.error.message).toMatch(
        /rate limit 'bytes' reached: request bytes past 10,000 bytes per minute; .*before its body was parsed; retry in \d+ s/,
      );
      expect(refused?.error.data).toMatchObject({ limit: { name: 'bytes', points: 10_000, remaining: 0 } });
      expect(refused?.facts).toMatchObject({ refused: 'bytes', degraded: false });
      // Remembered: even a 0-byte ask is refused now; alice has her own budget.
      expect((await stage.charge(bob, 0))?.error.code).toBe(TransportErrorCode.RATE_LIMITED);
      await expect(stage.charge(person('alice'), 9_000)).resolves.toBeUndefined();
    });
  }

  it('13.5 R26: two replicas share one budget through Redis (one atomic script, the window expires)', async () => {
    const config = configWith({ bytesPerUserPerMinute: 10_000 }, REDIS_URL);
    const replicas = [0, 1].map(() => new RateLimitStage(config, capturedLogger().logger));
    for (const r of replicas) {
      await r.onModuleInit();
      stages.push(r);
    }
    const [a, b] = replicas as [RateLimitStage, RateLimitStage];
    const carol = person('carol');
    await expect(a.charge(carol, 4_000)).resolves.toBeUndefined();
    await expect(b.charge(carol, 4_000)).resolves.toBeUndefined();
    expect((await a.charge(carol, 4_000))?.error.code).toBe(TransportErrorCode.RATE_LIMITED);
    // The other replica learns it from Redis at its next charge.
    expect((await b.charge(carol, 1))?.error.code).toBe(TransportErrorCode.RATE_LIMITED);
    const redis = new Redis(REDIS_URL);
    try {
      const key = `${config.redis.keyPrefix}rl:bytes:${principalKey(carol)}`;
      const ttl = await redis.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60_000);
      expect(Number(await redis.get(key))).toBe(12_001);
    } finally {
      redis.disconnect();
    }
  });
});
