import type { Principal } from '@gatehouse/auth';
import type { SqlInspection } from '@gatehouse/inspect';
import { parsePolicy } from '../language/parse';
import type { CompiledPolicy, DecisionInput, TouchedRelations } from '../types';
import { plainRelation } from '../testing/plain-relation';
import { classify } from './classify';
import { compilePolicy } from './compile';
import { CASES, POLICIES, type Call } from './engine.cases';

const compiled = new Map<string, CompiledPolicy>();

function policy(name: keyof typeof POLICIES): CompiledPolicy {
  let p = compiled.get(name);
  if (!p) {
    const parsed = parsePolicy([{ path: 'policy.yaml', text: POLICIES[name] }]);
    if (!parsed.ok) throw new Error(`${name}: ${JSON.stringify(parsed.problems)}`);
    p = compilePolicy(parsed.document, 3);
    compiled.set(name, p);
  }
  return p;
}

// These calls never reach a SQL tool: classification is decided by attestations alone.
const noSql = (): SqlInspection => {
  throw new Error('no SQL tool in the engine table');
};

function toInput(p: CompiledPolicy, call: Call): DecisionInput {
  const principal: Principal = {
    kind: call.kind ?? 'user',
    issuer: 'https://idp.test',
    subject: call.user ?? 'someone',
    groups: call.groups ?? [],
    roles: call.roles ?? [],
    scopes: [],
    expiresAt: Infinity,
  };
  if (call.name) principal.name = call.name;
  if (call.email) principal.email = call.email;
  if (call.clientId) principal.clientId = call.clientId;
  const tool = call.tool ?? 'tool';
  const serverTags = call.tags ?? {};
  const args = call.args ?? {};
  const classified =
    call.action === undefined
      ? classify({
          server: call.server,
          serverTags,
          tool,
          args,
          readOnlyTools: call.readOnlyTools ?? [],
          attestations: p.document.attestations,
          ...(call.readOnlyHint === undefined ? {} : { readOnlyHint: call.readOnlyHint }),
          inspect: noSql,
        })
      : undefined;
  return {
    principal,
    server: call.server,
    serverTags,
    tool,
    args,
    action: call.action ?? classified?.action ?? 'write',
    touched: call.touched ?? classified?.touched ?? [],
    relations: relationsOf(call, classified?.relations),
    now: new Date(call.now ?? '2026-03-04T10:00:00Z'),
  };
}

/**
 * What the case's call touches: named relations (`touched` as plain `schema.table`, or `relations`
 * with the parts apart) are known; `unknown` says why they are not; a call naming none carries
 * no SQL, so what it touches is unknown, as in the pipeline.
 */
function relationsOf(call: Call, classified: TouchedRelations | undefined): TouchedRelations {
  if (call.unknown !== undefined) return { known: false, why: call.unknown };
  if (call.relations) return { known: true, relations: call.relations };
  if (call.touched) return { known: true, relations: call.touched.map(plainRelation) };
  return classified ?? { known: false, why: 'the call carries no SQL the gateway inspects' };
}

describe('policy engine table', () => {
  it('has at least 100 cases with unique names', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(100);
    expect(new Set(CASES.map(([name]) => name)).size).toBe(CASES.length);
  });

  it.each(CASES)('%s', (_name, name, call, expected) => {
    const p = policy(name);
    const input = toInput(p, call);
    const decision = p.decide(input);
    expect(decision.outcome).toBe(expected.outcome);
    expect(decision.allow).toBe(expected.outcome !== 'deny');
    expect(decision.policyVersion).toBe(3);
    expect(decision.touched).toEqual(input.touched);
    expect(decision.action).toBe(input.action);
    if (expected.action) expect(input.action).toBe(expected.action);
    if (expected.rules) expect(decision.matchedRules).toEqual(expected.rules);
    if (expected.rate !== undefined) expect(decision.rateLimitPerMinute).toBe(expected.rate ?? undefined);
    if (expected.enforcement) expect(decision.enforcement).toBe(expected.enforcement);
    if (typeof expected.reason === 'string') expect(decision.reason).toBe(expected.reason);
    else if (expected.reason) expect(decision.reason).toMatch(expected.reason);
    // Cached candidates decide exactly as a fresh decision does.
    expect(p.decideWith(p.candidates(input), input)).toEqual(decision);
  });
});
