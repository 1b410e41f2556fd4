import type { Principal } from '@gatehouse/auth';
import { parsePolicy } from '../language/parse';
import type { CompiledPolicy, DecisionInput } from '../types';
import { compilePolicy, ENGINE_ERROR_PREFIX } from './compile';
import { SEED_POLICY as SEED } from '../testing/seed-policy';
import { plainRelation } from '../testing/plain-relation';

function compile(text: string, version = 7): CompiledPolicy {
  const parsed = parsePolicy([{ path: 'policy.yaml', text }]);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return compilePolicy(parsed.document, version);
}

function user(subject: string, groups: string[] = []): Principal {
  return {
    kind: 'user',
    issuer: 'https://idp.test',
    subject,
    groups,
    roles: [],
    scopes: [],
    expiresAt: Infinity,
  };
}

function input(over: Partial<DecisionInput> = {}): DecisionInput {
  const touched = over.touched ?? ['public.orders'];
  return {
    relations: { known: true, relations: touched.map(plainRelation) },
    principal: user('alice', ['data-platform']),
    server: 'postgres-prod',
    serverTags: { kind: 'postgres', env: 'prod' },
    tool: 'query',
    args: {},
    action: 'read',
    touched: ['public.orders'],
    now: new Date('2026-03-02T10:00:00Z'),
    ...over,
  };
}

describe('compilePolicy', () => {
  const seed = compile(SEED);

  it("allows the seed's data-platform read with the rate limit, rule id and policy version", () => {
    expect(seed.decide(input())).toEqual({
      allow: true,
      outcome: 'allow',
      matchedRules: ['policy.yaml#1'],
      reason: 'user "alice" may read postgres-prod/query: allowed by rule "policy.yaml#1"',
      action: 'read',
      enforcement: 'enforce',
      rateLimitPerMinute: 60,
      touched: ['public.orders'],
      policyVersion: 7,
    });
  });

  it('denies a read of the secret schema and says which rule limits the schemas', () => {
    const d = seed.decide(input({ touched: ['public.orders', 'secret.keys'] }));
    expect(d).toMatchObject({ allow: false, outcome: 'deny', matchedRules: [] });
    expect(d.reason).toBe(
      'no rule allows user "alice" to read postgres-prod/query (rule "policy.yaml#1" allows only schemas public, analytics; the call touches secret.keys)',
    );
  });

  it('denies a write to postgres-prod for data-platform and anything for support there', () => {
    expect(seed.decide(input({ action: 'write' })).outcome).toBe('deny');
    expect(seed.decide(input({ principal: user('bob', ['support']) })).outcome).toBe('deny');
  });

  it('decides cached candidates per call (same result as decide)', () => {
    const candidates = seed.candidates(input());
    expect(candidates.rules.map((r) => r.id)).toEqual(['policy.yaml#1']);
    expect(seed.decideWith(candidates, input({ touched: ['analytics.events'] })).allow).toBe(true);
    expect(seed.decideWith(candidates, input({ touched: ['secret.keys'] })).allow).toBe(false);
  });

  it('denies with an engine error instead of throwing when candidates come from another version (R10)', () => {
    const other = compile(SEED, 8);
    const d = other.decideWith(seed.candidates(input()), input());
    expect(d).toMatchObject({ allow: false, outcome: 'deny', policyVersion: 8, error: true });
    expect(d.reason).toBe(`${ENGINE_ERROR_PREFIX}candidates were computed by another policy version than 8`);
  });

  it('denies with an engine error instead of throwing on a broken input (R10)', () => {
    const broken = { ...input(), principal: undefined } as unknown as DecisionInput;
    const d = seed.decide(broken);
    expect(d).toMatchObject({ allow: false, error: true });
    expect(d.reason.startsWith(ENGINE_ERROR_PREFIX)).toBe(true);
  });

  it('lists a tool only when some allow rule could match (R12)', () => {
    const base = {
      principal: user('alice', ['data-platform']),
      server: 'postgres-prod',
      serverTags: {},
      tool: 'query',
    };
    expect(seed.mayList(base)).toBe(true);
    expect(seed.mayList({ ...base, server: 'zendesk' })).toBe(false);
    expect(seed.mayList({ ...base, principal: user('bob', ['support']), server: 'zendesk' })).toBe(true);
  });

  describe('mayList (R12)', () => {
    const p = compile(`rules:
  - id: devs-github
    subject: { group: devs }
    resource: { server: github }
    action: '*'
  - id: no-delete
    effect: deny
    subject: { any: true }
    resource: { server: github, tool: delete_repo }
    action: '*'
  - id: no-admin-writes
    effect: deny
    subject: { any: true }
    resource: { server: github, tool: 'admin_*' }
    action: write
  - id: small-searches
    subject: { group: analysts }
    resource: { server: search }
    action: read
    conditions:
      when: 'args.limit <= 100'
  - id: no-big-exports
    effect: deny
    subject: { any: true }
    resource: { server: search, tool: export }
    action: read
    conditions:
      when: 'args.rows > 1000'
enforcement:
  - { tags: { env: staging }, action: write, mode: shadow }
`);
    const dev = { principal: user('dan', ['devs']), server: 'github', serverTags: {} };
    const analyst = { principal: user('ann', ['analysts']), server: 'search', serverTags: {} };

    it('hides a tool an unconditional deny covers for every action the allows grant', () => {
      expect(p.mayList({ ...dev, tool: 'get_issue' })).toBe(true);
      expect(p.mayList({ ...dev, tool: 'delete_repo' })).toBe(false);
    });

    it('lists a tool a deny covers only for writes while reads are allowed', () => {
      expect(p.mayList({ ...dev, tool: 'admin_settings' })).toBe(true);
    });

    it('lists tools behind conditional allows and conditional denies (the arguments are not known yet)', () => {
      expect(p.mayList({ ...analyst, tool: 'query' })).toBe(true);
      expect(p.mayList({ ...analyst, tool: 'export' })).toBe(true);
    });

    it('hides tools from principals no allow rule names', () => {
      expect(p.mayList({ ...analyst, principal: user('zed', ['devs']), tool: 'query' })).toBe(false);
    });

    it('lists tools where a would-deny proceeds in shadow', () => {
      expect(
        p.mayList({ ...analyst, principal: user('zed'), serverTags: { env: 'staging' }, tool: 'query' }),
      ).toBe(true);
    });
  });
});
