import type { Principal } from '@gatehouse/auth';
import { parseConfigText } from '@gatehouse/config';
import { createLogger } from '@gatehouse/observability';
import {
  compilePolicy,
  parsePolicy,
  PolicyStage,
  type Action,
  type BypassCover,
  type BypassGrants,
  type CompiledPolicy,
  type PolicySource,
} from '@gatehouse/policy';
import { RateLimitStage } from '@gatehouse/rate-limit';
import { TransportError, TransportErrorCode, type CallContext } from '@gatehouse/transport';
import { CompiledGrant, coverOf, type GrantScope } from './grant-matcher';
import { refusedWith } from './__tests__/support';

/**
 * The effect of a grant in the pipeline: the real policy stage (engine, classification) and the
 * real rate-limit stage (in-process counting: no `redis.url`), with grants held in memory through
 * the real matcher instead of the database cache (e2e/bypass covers that part on two replicas).
 */

const CONFIG = parseConfigText(
  `auth:
  mode: none
rateLimit:
  perUserPerMinute: 1
upstreams:
  db:
    transport: http
    url: http://127.0.0.1:1/mcp
  files:
    transport: http
    url: http://127.0.0.1:1/mcp
  search:
    transport: http
    url: http://127.0.0.1:1/mcp
`,
  {},
).config;

const POLICY = `- subject: { group: support }
  resource: { server: files }
  action: '*'
- id: small-queries
  subject: { group: data-platform }
  resource: { server: search }
  action: '*'
  conditions:
    when: args.limit < 10
`;

class HeldPolicy implements PolicySource {
  constructor(private readonly policy: CompiledPolicy | undefined) {}
  current() {
    return this.policy;
  }
  onChange() {
    return () => undefined;
  }
}

/** Grants in memory, matched exactly as the cache of the bypass lib matches them. */
class HeldGrants implements BypassGrants {
  grants: CompiledGrant[] = [];
  covering(principal: Principal, server: string, tool: string, _action: Action): BypassCover | undefined {
    return coverOf(this.grants, principal, server, tool, Date.now());
  }
  hold(over: Partial<GrantScope>): void {
    this.grants = [
      new CompiledGrant({
        id: 'grant-1',
        servers: ['db'],
        tools: ['*'],
        everyone: true,
        users: [],
        groups: [],
        liftsRateLimits: false,
        activatedAt: new Date(Date.now() - 1000),
        expiresAt: new Date(Date.now() + 3_600_000),
        ...over,
      }),
    ];
  }
}

const alice: Principal = {
  kind: 'user',
  issuer: 'https://idp.test',
  subject: 'alice',
  groups: ['data-platform'],
  roles: [],
  scopes: [],
  expiresAt: Date.now() + 3_600_000,
};

function call(
  tool: string,
  server = 'db',
  method = 'tools/call',
  args: Record<string, unknown> = {},
): CallContext {
  const params = method === 'tools/list' ? {} : { name: tool, arguments: args };
  return {
    target: server,
    request: { jsonrpc: '2.0', id: 1, method, params },
    era: 'modern',
    protocolVersion: '2026-07-28',
    session: undefined,
    principal: alice,
    server,
    upstreamParams: params,
    headers: {},
    remoteAddress: '127.0.0.1',
    startedAt: 0n,
    facts: {},
  };
}

function compiled(): CompiledPolicy {
  const parsed = parsePolicy([{ path: 'p.yaml', text: POLICY }]);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return compilePolicy(parsed.document, 7);
}

const refusal = (promise: Promise<void>) => refusedWith(promise, TransportError);

describe('a grant in the call pipeline', () => {
  const logger = createLogger('silent');
  let grants: HeldGrants;
  let policy: PolicyStage;
  let limits: RateLimitStage;

  beforeEach(() => {
    grants = new HeldGrants();
    policy = new PolicyStage(CONFIG, new HeldPolicy(compiled()), logger, grants);
    limits = new RateLimitStage(CONFIG, logger);
  });

  it('leaves a deny alone when no grant covers the call', async () => {
    const c = call('query');
    expect((await refusal(policy.before(c))).code).toBe(TransportErrorCode.POLICY_DENIED);
    expect(c.facts.bypass).toBeUndefined();
  });

  it('turns a covered deny into decision bypass with the grant id, keeping what the policy said', async () => {
    grants.hold({});
    const c = call('query');
    await policy.before(c);
    expect(c.facts.policy).toMatchObject({
      allow: true,
      outcome: 'bypass',
      grantId: 'grant-1',
      policyVersion: 7,
      matchedRules: [],
      action: 'write',
    });
    expect(c.facts.bypass).toEqual({ grantId: 'grant-1', liftsRateLimits: false });
  });

  it('lifts the rate limits of a call the policy allows only when the grant lifts them, keeping the decision', async () => {
    grants.hold({ servers: ['*'], liftsRateLimits: true });
    const supporter = { ...alice, groups: ['support'] };
    for (let i = 0; i < 3; i++) {
      const c = { ...call('read', 'files'), principal: supporter };
      await policy.before(c);
      await limits.before(c);
      expect(c.facts.policy).toMatchObject({ allow: true, outcome: 'allow' });
      expect(c.facts.bypass).toEqual({ grantId: 'grant-1', liftsRateLimits: true });
      expect(c.facts.rateLimit).toBeUndefined();
    }
  });

  it('does not touch a call the policy allows (no bypass recorded)', async () => {
    grants.hold({ servers: ['*'] });
    const c = { ...call('read', 'files'), principal: { ...alice, groups: ['support'] } };
    await policy.before(c);
    expect(c.facts.policy).toMatchObject({ allow: true, outcome: 'allow' });
    expect(c.facts.bypass).toBeUndefined();
  });

  it('stops at the exact expiry: a grant past expiresAt lets nothing through', async () => {
    grants.hold({ expiresAt: new Date(Date.now() - 1) });
    expect((await refusal(policy.before(call('query')))).code).toBe(TransportErrorCode.POLICY_DENIED);
  });

  it('never lifts an engine error (R10): the remedy for a broken policy is a rollback', async () => {
    grants.hold({ servers: ['*'] });
    const broken = call('q', 'search');
    const err = await refusal(policy.before(broken));
    expect(err.code).toBe(TransportErrorCode.POLICY_DENIED);
    expect(err.message).toMatch(/policy engine error/);
    expect(broken.facts.bypass).toBeUndefined();
    // The same grant lifts that rule's plain deny (the condition evaluates to false).
    const plain = call('q', 'search', 'tools/call', { limit: 50 });
    await policy.before(plain);
    expect(plain.facts.policy).toMatchObject({ outcome: 'bypass', matchedRules: [] });
  });

  it('keeps rate limits unless the grant lifts them', async () => {
    grants.hold({});
    const first = call('query');
    await policy.before(first);
    await limits.before(first);
    await limits.after(first);
    const second = call('query');
    await policy.before(second);
    expect((await refusal(limits.before(second))).code).toBe(TransportErrorCode.RATE_LIMITED);

    grants.hold({ liftsRateLimits: true });
    for (let i = 0; i < 3; i++) {
      const lifted = call('query');
      await policy.before(lifted);
      await limits.before(lifted);
      expect(lifted.facts.rateLimit).toBeUndefined();
    }
  });

  it('lists the tools a grant opens, and only those', () => {
    grants.hold({ tools: ['query'] });
    const c = call('', 'db', 'tools/list');
    const listed = policy.result(c, { tools: [{ name: 'query' }, { name: 'drop' }] });
    expect(listed).toEqual({ tools: [{ name: 'query' }] });
  });
});
