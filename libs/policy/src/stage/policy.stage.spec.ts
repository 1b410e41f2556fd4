import type { Principal } from '@gatehouse/auth';
import { parseConfigText } from '@gatehouse/config';
import { createLogger } from '@gatehouse/observability';
import { TransportError, TransportErrorCode, type CallContext } from '@gatehouse/transport';
import { compilePolicy } from '../engine/compile';
import { parsePolicy } from '../language/parse';
import type { CompiledPolicy, PolicySource } from '../types';
import { PolicyStage } from './policy.stage';

/** The stage with the real engine, the real SQL inspector and a policy held in memory. */
const CONFIG = parseConfigText(
  `auth:
  mode: none
policy:
  decisionCacheSeconds: 30
upstreams:
  db:
    transport: http
    url: http://127.0.0.1:1/mcp
    tags: { kind: postgres, env: prod }
  files:
    transport: http
    url: http://127.0.0.1:1/mcp
    tags: { env: dev }
    readOnlyTools: [read_*]
`,
  {},
).config;

function compiled(yaml: string, version = 1): CompiledPolicy {
  const parsed = parsePolicy([{ path: 'p.yaml', text: yaml }]);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return compilePolicy(parsed.document, version);
}

class HeldPolicy implements PolicySource {
  private listeners: Array<(p: CompiledPolicy | undefined) => void> = [];
  constructor(public policy: CompiledPolicy | undefined) {}
  current() {
    return this.policy;
  }
  onChange(listener: (p: CompiledPolicy | undefined) => void) {
    this.listeners.push(listener);
    return () => undefined;
  }
  swap(policy: CompiledPolicy | undefined) {
    this.policy = policy;
    for (const l of this.listeners) l(policy);
  }
}

const person = (subject: string, groups: string[]): Principal => ({
  kind: 'user',
  issuer: 'https://idp.test',
  subject,
  groups,
  roles: [],
  scopes: [],
  expiresAt: Date.now() + 60_000,
});

function call(
  principal: Principal,
  method: string,
  params: Record<string, unknown>,
  server = 'db',
): CallContext {
  return {
    target: '*',
    request: { jsonrpc: '2.0', id: 1, method, params },
    era: 'legacy',
    protocolVersion: '2025-11-25',
    session: undefined,
    principal,
    server,
    upstreamParams: params,
    headers: {},
    remoteAddress: '127.0.0.1',
    startedAt: 0n,
    facts: {},
  };
}

const SEED = `- subject: { group: data-platform }
  resource: { server: db }
  action: read
  conditions:
    schemas: [public, analytics]
    rate_limit_per_minute: 60
- subject: { any: true }
  resource: { server: files }
  action: read
`;

describe('PolicyStage', () => {
  const held = new HeldPolicy(compiled(SEED));
  const stage = new PolicyStage(CONFIG, held, createLogger('silent'));
  beforeAll(() => stage.onModuleInit());

  const sqlCall = (who: Principal, sql: string) =>
    call(who, 'tools/call', { name: 'query', arguments: { sql } });

  it('allows a read the policy allows, and records the decision and classification for the audit', async () => {
    const c = sqlCall(person('alice', ['data-platform']), 'SELECT * FROM analytics.daily');
    await stage.before(c);
    expect(c.facts.policy).toMatchObject({
      allow: true,
      outcome: 'allow',
      action: 'read',
      touched: ['analytics.daily'],
      rateLimitPerMinute: 60,
      policyVersion: 1,
    });
    expect(c.facts.classification).toMatchObject({ action: 'read' });
  });

  it('denies with POLICY_DENIED, the reason and the decision', async () => {
    const c = sqlCall(person('alice', ['data-platform']), 'SELECT * FROM secret.keys');
    const err = await stage.before(c).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).code).toBe(TransportErrorCode.POLICY_DENIED);
    expect((err as TransportError).data).toMatchObject({
      decision: { outcome: 'deny', touched: ['secret.keys'] },
    });
  });

  it('treats tools as writes unless attested (readOnlyTools) and prompts and resources as reads', async () => {
    const bob = person('bob', ['support']);
    await expect(
      stage.before(call(bob, 'tools/call', { name: 'read_file' }, 'files')),
    ).resolves.toBeUndefined();
    await expect(stage.before(call(bob, 'tools/call', { name: 'write_file' }, 'files'))).rejects.toThrow(
      TransportError,
    );
    await expect(stage.before(call(bob, 'prompts/get', { name: 'p' }, 'files'))).resolves.toBeUndefined();
    await expect(
      stage.before(call(bob, 'resources/read', { uri: 'file:///a' }, 'files')),
    ).resolves.toBeUndefined();
  });

  it('13.4: decides on and forwards the canonical resource URI, for subscribe and unsubscribe alike', async () => {
    const bob = person('bob', ['support']);
    for (const method of ['resources/read', 'resources/subscribe', 'resources/unsubscribe']) {
      const c = call(bob, method, { uri: 'FILE:///tmp/./x/../etc/%68ostname' }, 'files');
      await stage.before(c);
      expect([method, c.upstreamParams]).toEqual([method, { uri: 'file:///tmp/etc/hostname' }]);
    }
    const refused = await stage
      .before(call(bob, 'resources/read', { uri: 'file:///tmp%2F..%2Fetc/passwd' }, 'files'))
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TransportError);
    expect((refused as TransportError).code).toBe(TransportErrorCode.INVALID_PARAMS);
    expect((refused as TransportError).message).toContain('encodes a slash');
  });

  it('does not govern lists and pings', async () => {
    await expect(stage.before(call(person('x', []), 'tools/list', {}, '*'))).resolves.toBeUndefined();
    await expect(stage.before(call(person('x', []), 'ping', {}, '*'))).resolves.toBeUndefined();
  });

  it('R12: filters aggregated and passthrough lists to what the principal may call', () => {
    const alice = person('alice', ['data-platform']);
    const aggregated = stage.result(call(alice, 'tools/list', {}, '*'), {
      tools: [{ name: 'db__query' }, { name: 'files__read_file' }, { name: 'other__x' }],
    });
    expect((aggregated.tools as Array<{ name: string }>).map((t) => t.name)).toEqual([
      'db__query',
      'files__read_file',
    ]);
    const passthrough = { ...call(alice, 'tools/list', {}, 'db'), target: 'db' };
    expect(stage.result(passthrough, { tools: [{ name: 'query' }] }).tools).toHaveLength(1);
    const stranger = stage.result(call(person('eve', []), 'tools/list', {}, '*'), {
      tools: [{ name: 'db__query' }],
    });
    expect(stranger.tools).toEqual([]);
  });

  it('denies everything with a clear reason when no policy is active', async () => {
    const empty = new PolicyStage(CONFIG, new HeldPolicy(undefined), createLogger('silent'));
    await expect(empty.before(sqlCall(person('alice', ['data-platform']), 'SELECT 1'))).rejects.toThrow(
      /no policy is active/,
    );
  });

  it('evaluates a call without a live call: the same decision and classification as the pipeline', async () => {
    const alice = person('alice', ['data-platform']);
    const params = { name: 'query', arguments: { sql: 'SELECT * FROM secret.keys JOIN public.t ON true' } };
    const live = call(alice, 'tools/call', params);
    await stage.before(live).catch(() => undefined);
    const evaluation = stage.evaluate(alice, 'db', { method: 'tools/call', params });
    expect(evaluation?.decision).toEqual(live.facts.policy);
    expect(evaluation?.classification).toEqual(live.facts.classification);
    expect(evaluation).toMatchObject({
      target: { kind: 'tool', server: 'db', name: 'query' },
      decision: { outcome: 'deny', action: 'read', touched: ['public.t', 'secret.keys'] },
    });
    expect(
      stage.evaluate(alice, 'db', {
        method: 'tools/call',
        params: { name: 'query', arguments: { sql: 'SELECT 1' } },
      })?.decision,
    ).toMatchObject({ allow: true, outcome: 'allow', policyVersion: 1 });
  });

  it('evaluates conditions on now at the time given (a reported call is judged by when it ran)', () => {
    const timed = new PolicyStage(
      CONFIG,
      new HeldPolicy(
        compiled(
          `- subject: { any: true }\n  resource: { server: files }\n  action: read\n  conditions:\n    when: "now < timestamp('2026-01-01T00:00:00Z')"\n`,
        ),
      ),
      createLogger('silent'),
    );
    const bob = person('bob', []);
    const read = { method: 'resources/read', params: { uri: 'file:///a' } };
    expect(timed.evaluate(bob, 'files', read, new Date('2025-12-31T23:00:00Z'))?.decision.outcome).toBe(
      'allow',
    );
    expect(timed.evaluate(bob, 'files', read, new Date('2026-01-01T01:00:00Z'))?.decision.outcome).toBe(
      'deny',
    );
  });

  it('evaluates nothing for ungoverned methods and denies a server the gateway does not know', () => {
    const alice = person('alice', ['data-platform']);
    expect(stage.evaluate(alice, 'db', { method: 'tools/list' })).toBeUndefined();
    expect(stage.evaluate(alice, 'db', { method: 'ping' })).toBeUndefined();
    expect(
      stage.evaluate(alice, 'legacy', { method: 'tools/call', params: { name: 'x' } })?.decision,
    ).toMatchObject({ allow: false, outcome: 'deny', action: 'write', reason: /no upstream named "legacy"/ });
  });

  it('drops cached decisions when a new version is activated', async () => {
    const alice = person('alice', ['data-platform']);
    await stage.before(sqlCall(alice, 'SELECT 1'));
    held.swap(compiled('- subject: { group: nobody }\n  resource: { server: db }\n  action: read\n', 2));
    await expect(stage.before(sqlCall(alice, 'SELECT 1'))).rejects.toThrow(TransportError);
    held.swap(compiled(SEED, 3));
  });
});

describe('PolicyStage: cheap checks before expensive ones (issue 13.5)', () => {
  const bob = person('bob', ['support']);
  const alice = person('alice', ['data-platform']);
  const query = (sql: string) => ({ method: 'tools/call', params: { name: 'query', arguments: { sql } } });
  const stageWith = (policy: string, config = CONFIG) =>
    new PolicyStage(config, new HeldPolicy(compiled(policy)), createLogger('silent'));
  beforeAll(() => new PolicyStage(CONFIG, new HeldPolicy(undefined), createLogger('silent')).onModuleInit());

  it('denies a call no rule could allow on principal × server × tool alone, without inspecting its SQL', () => {
    const evaluation = stageWith(SEED).evaluate(bob, 'db', query('SELECT * FROM secret.keys'));
    expect(evaluation?.decision).toMatchObject({
      allow: false,
      outcome: 'deny',
      matchedRules: [],
      touched: [],
      reason:
        'no rule could allow user "bob" to call db/query whatever its arguments: the arguments were not inspected',
    });
    expect(evaluation?.classification.touched).toEqual([]);
  });

  it('names the unconditional deny rules that decide the call before its arguments are looked at', () => {
    const policy = `${SEED}- id: no-support-on-db
  effect: deny
  subject: { group: support }
  resource: { server: db }
  action: '*'
- subject: { group: support }
  resource: { server: db }
  action: read
`;
    expect(stageWith(policy).evaluate(bob, 'db', query('SELECT 1'))?.decision).toMatchObject({
      matchedRules: ['no-support-on-db'],
      reason:
        /whatever its arguments \(denied by rule "no-support-on-db"\): the arguments were not inspected/,
    });
  });

  it('inspects the arguments when a conditional rule could allow the call, or enforcement is shadow', () => {
    const conditional = stageWith(SEED).evaluate(alice, 'db', query('SELECT * FROM secret.keys'));
    expect(conditional?.decision).toMatchObject({ outcome: 'deny', touched: ['secret.keys'] });
    const shadow = stageWith(
      `rules:\n${SEED.trimEnd().replace(/^/gm, '  ')}\nenforcement:\n  - tags: { env: prod }\n    action: read\n    mode: shadow\n`,
    );
    expect(shadow.evaluate(bob, 'db', query('SELECT * FROM public.t'))?.decision).toMatchObject({
      allow: true,
      outcome: 'shadow-deny',
      touched: ['public.t'],
    });
  });

  it('R42: denies SQL over policy.maxInspectedSqlBytes (UTF-8 bytes) unparsed, with the bound as the reason', () => {
    const small = parseConfigText(
      `auth:\n  mode: none\npolicy:\n  maxInspectedSqlBytes: 100\nupstreams:\n  db:\n    transport: http\n    url: http://127.0.0.1:1/mcp\n    tags: { kind: postgres, env: prod }\n`,
      {},
    ).config;
    const stage = stageWith(SEED, small);
    // 40 characters of 3 bytes each: under the bound by length, over it in bytes.
    const euros = `SELECT '${'€'.repeat(40)}' FROM public.t`;
    expect(stage.evaluate(alice, 'db', query(euros))?.decision).toMatchObject({
      allow: false,
      touched: [],
      reason:
        /^the SQL of 146 bytes was not inspected: this gateway inspects at most 100 bytes of SQL per call \(policy\.maxInspectedSqlBytes\)/,
    });
    expect(stage.evaluate(alice, 'db', query('SELECT 1 FROM public.t'))?.decision).toMatchObject({
      allow: true,
      touched: ['public.t'],
    });
  });
});
