import { initSqlInspector, inspectSql } from '@gatehouse/inspect';
import { compilePolicy } from '../engine/compile';
import { parsePolicy } from '../language/parse';
import type { CompiledPolicy, PolicyFile } from '../types';
import { parsePolicyTests, runPolicyTests, type PolicyTestCase } from './policy-tests';
import { SEED_POLICY as SEED } from './seed-policy';

const TESTS = `- name: data-platform reads analytics
  principal: { user: alice, groups: [data-platform] }
  server: postgres-prod
  tool: query
  args: { sql: "select count(*) from analytics.events" }
  expect: allow
  rules: ['seed.yaml#1']

- name: data-platform may not read secret
  principal: { user: alice, groups: [data-platform] }
  server: postgres-prod
  tool: query
  args: { sql: "select * from secret.keys" }
  expect: deny

- name: support writes zendesk
  principal: { user: bob, groups: [support] }
  server: zendesk
  tool: update_ticket
  action: write
  expect: allow
`;

const SERVERS = {
  'postgres-prod': {
    tags: { kind: 'postgres', env: 'prod' },
    sql: { tools: ['query'], argument: 'sql', searchPath: ['public'] },
  },
  zendesk: { tags: {} },
};

function compileFiles(files: PolicyFile[]): CompiledPolicy {
  const parsed = parsePolicy(files);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return compilePolicy(parsed.document, 1);
}

function cases(files: PolicyFile[]): PolicyTestCase[] {
  const parsed = parsePolicyTests(files);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return parsed.cases;
}

describe('policy test cases', () => {
  beforeAll(() => initSqlInspector());
  const files = [
    { path: 'seed.yaml', text: SEED },
    { path: 'seed.test.yaml', text: TESTS },
  ];

  it('reads only *.test.yaml files, with positions', () => {
    const read = cases(files);
    expect(read.map((c) => `${c.source.file}:${c.source.line} ${c.name}`)).toEqual([
      'seed.test.yaml:1 data-platform reads analytics',
      'seed.test.yaml:9 data-platform may not read secret',
      'seed.test.yaml:16 support writes zendesk',
    ]);
    expect(read[0]).toMatchObject({
      principal: { user: 'alice', groups: ['data-platform'], roles: [], kind: 'user' },
      args: { sql: 'select count(*) from analytics.events' },
      rules: ['seed.yaml#1'],
    });
  });

  it('passes cases the policy satisfies, classifying SQL with the real inspector', () => {
    const results = runPolicyTests(compileFiles(files), cases(files), SERVERS, { inspect: inspectSql });
    expect(results.map((r) => [r.name, r.passed])).toEqual([
      ['data-platform reads analytics', true],
      ['data-platform may not read secret', true],
      ['support writes zendesk', true],
    ]);
    expect(results[0]?.decision).toMatchObject({
      action: 'read',
      touched: ['analytics.events'],
      rateLimitPerMinute: 60,
    });
  });

  it('fails a case whose outcome or rules differ, with a readable diff', () => {
    const wrong = `- name: support reads postgres
  principal: { user: bob, groups: [support] }
  server: postgres-prod
  tool: query
  action: read
  expect: allow
- name: right outcome, wrong rule
  principal: { user: bob, groups: [support] }
  server: zendesk
  tool: get_ticket
  action: read
  expect: allow
  rules: [other]
`;
    const results = runPolicyTests(
      compileFiles(files),
      cases([{ path: 'w.test.yaml', text: wrong }]),
      SERVERS,
    );
    expect(results.map((r) => r.passed)).toEqual([false, false]);
    expect(results[0]?.diff).toBe(
      [
        'expected: allow',
        'actual:   deny by no rule (read)',
        'reason:   no rule allows user "bob" to read postgres-prod/query',
      ].join('\n'),
    );
    expect(results[1]?.diff).toBe(
      [
        'expected: allow by other',
        'actual:   allow by seed.yaml#2 (read)',
        'reason:   user "bob" may read zendesk/get_ticket: allowed by rule "seed.yaml#2"',
      ].join('\n'),
    );
  });

  it('reports problems in test files with file:line:column', () => {
    const parsed = parsePolicyTests([
      {
        path: 'bad.test.yaml',
        text: `- name: x
  principal: { user: a, role: [admin] }
  server: s
  tool: t
  expect: permit
- name: y
  server: s
`,
      },
    ]);
    expect(
      parsed.ok ? [] : parsed.problems.map((p) => `${p.file}:${p.line}:${p.column} ${p.message}`),
    ).toEqual([
      'bad.test.yaml:2:25 unknown key "role" in "principal"; did you mean "roles"?',
      'bad.test.yaml:5:11 "expect" must be allow, deny or shadow-deny, not "permit"',
      'bad.test.yaml:6:3 a test case needs "principal"',
      'bad.test.yaml:6:3 a test case needs "tool"',
      'bad.test.yaml:6:3 a test case needs "expect"',
    ]);
  });
});
