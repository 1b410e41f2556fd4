import { parsePolicy } from './parse';
import type { ParseResult, PolicyDocument, PolicyProblem } from '../types';
import { SEED_POLICY } from '../testing/seed-policy';
export { SEED_POLICY };

function ok(result: ParseResult): PolicyDocument {
  if (!result.ok) throw new Error(`expected no problems, got ${JSON.stringify(result.problems, null, 2)}`);
  return result.document;
}

function problems(text: string, path = 'p.yaml'): PolicyProblem[] {
  const result = parsePolicy([{ path, text }]);
  if (result.ok) throw new Error('expected problems, the policy parsed');
  return result.problems;
}

/** `file:line:column message` lines, the form problems are shown in. */
function lines(text: string, path = 'p.yaml'): string[] {
  return problems(text, path).map((p) => `${p.file}:${p.line}:${p.column} ${p.message}`);
}

describe('parsePolicy', () => {
  it("reads the seed's minimal policy verbatim", () => {
    const doc = ok(parsePolicy([{ path: 'seed.yaml', text: SEED_POLICY }]));
    expect(doc.rules).toEqual([
      {
        id: 'seed.yaml#1',
        effect: 'allow',
        subject: { any: false, users: [], groups: ['data-platform'], roles: [] },
        resource: { servers: ['postgres-prod'], tools: [], tags: {} },
        actions: ['read'],
        conditions: { schemas: ['public', 'analytics'], rateLimitPerMinute: 60 },
        source: { file: 'seed.yaml', line: 1, column: 3 },
      },
      {
        id: 'seed.yaml#2',
        effect: 'allow',
        subject: { any: false, users: [], groups: ['support'], roles: [] },
        resource: { servers: ['zendesk'], tools: [], tags: {} },
        actions: ['read', 'write'],
        conditions: { rateLimitPerMinute: 30 },
        source: { file: 'seed.yaml', line: 8, column: 3 },
      },
    ]);
    expect(doc.enforcement).toEqual([]);
    expect(doc.attestations).toEqual([]);
  });

  it('reads the mapping form with rules, enforcement and tools, and every extension', () => {
    const doc = ok(
      parsePolicy([
        {
          path: 'main.yaml',
          text: `rules:
  - id: github-read
    description: Everyone reads GitHub
    subject: { any: true }
    resource: { server: [github, 'gitlab-*'], tool: ['get_*', list_issues], tags: { env: prod, tier: 1 } }
    action: [read]
  - id: no-drop
    effect: deny
    subject: { users: [mallory, eve], groups: [contractors], role: auditor }
    resource: { tool: 'drop_*' }
    action: '*'
    conditions:
      when: 'args.force == true && principal.kind == "user" && now.getHours("UTC") < 6'
enforcement:
  - { tags: { env: prod }, action: write, mode: shadow }
  - { mode: enforce }
tools:
  - { server: github, tool: 'search_*', action: read }
`,
        },
      ]),
    );
    expect(doc.rules.map((r) => r.id)).toEqual(['github-read', 'no-drop']);
    expect(doc.rules[0]).toMatchObject({
      description: 'Everyone reads GitHub',
      subject: { any: true },
      resource: {
        servers: ['github', 'gitlab-*'],
        tools: ['get_*', 'list_issues'],
        tags: { env: 'prod', tier: '1' },
      },
      actions: ['read'],
    });
    expect(doc.rules[1]).toMatchObject({
      effect: 'deny',
      subject: { any: false, users: ['mallory', 'eve'], groups: ['contractors'], roles: ['auditor'] },
      actions: ['read', 'write'],
      conditions: { when: 'args.force == true && principal.kind == "user" && now.getHours("UTC") < 6' },
    });
    expect(doc.enforcement).toEqual([
      {
        tags: { env: 'prod' },
        action: 'write',
        mode: 'shadow',
        source: { file: 'main.yaml', line: 15, column: 5 },
      },
      { tags: {}, action: '*', mode: 'enforce', source: { file: 'main.yaml', line: 16, column: 5 } },
    ]);
    expect(doc.attestations).toEqual([
      {
        server: 'github',
        tool: 'search_*',
        action: 'read',
        source: { file: 'main.yaml', line: 18, column: 5 },
      },
    ]);
  });

  it('joins files in file-name order, skips *.test.yaml and empty files, and numbers default ids per file', () => {
    const rule = (group: string) =>
      `- { subject: { group: ${group} }, resource: { server: s }, action: read }\n`;
    const doc = ok(
      parsePolicy([
        { path: 'b.yaml', text: rule('b1') + rule('b2') },
        { path: 'a.yaml', text: rule('a1') },
        { path: 'a.test.yaml', text: '- this is not policy' },
        { path: 'empty.yaml', text: '# nothing yet\n' },
      ]),
    );
    expect(doc.rules.map((r) => `${r.id} ${r.subject.groups.join()}`)).toEqual([
      'a.yaml#1 a1',
      'b.yaml#1 b1',
      'b.yaml#2 b2',
    ]);
  });

  describe('problems, with file:line:column', () => {
    it('reports YAML syntax errors at their position', () => {
      expect(lines('- subject: { group: a\n  resource: { server: s }\n')[0]).toMatch(
        /^p\.yaml:\d+:\d+ YAML: /,
      );
      expect(lines("- subject: { group: a }\n  action: '*\n")[0]).toEqual(
        "p.yaml:3:1 YAML: Missing closing 'quote",
      );
    });

    it('reports an unknown key with "did you mean"', () => {
      expect(lines('- subject: { grop: a }\n  resource: { server: s }\n  action: read\n')).toEqual([
        'p.yaml:1:14 unknown key "grop" in "subject"; did you mean "group"?',
        'p.yaml:1:12 "subject" names nobody; give user(s), group(s), role(s) or any: true',
      ]);
      expect(lines('- subject: { any: true }\n  resorce: { server: s }\n  action: read\n')).toEqual([
        'p.yaml:2:3 unknown key "resorce" in rule 1; did you mean "resource"?',
        'p.yaml:1:3 rule 1 has no "resource"; add one, e.g. resource: { server: postgres-prod }',
      ]);
      expect(
        lines(
          '- subject: { any: true }\n  resource: { server: s }\n  action: read\n  conditions: { rate_limit: 5 }\n',
        ),
      ).toEqual([
        'p.yaml:4:17 unknown key "rate_limit" in "conditions"; expected one of "when", "schemas", "rate_limit_per_minute"',
      ]);
    });

    it('reports wrong types and values', () => {
      expect(lines('- subject: { any: true }\n  resource: { server: s }\n  action: delete\n')).toEqual([
        `p.yaml:3:11 "action" must be read, write or '*' (quoted), not "delete"`,
      ]);
      expect(
        lines('- subject: { any: true }\n  resource: { server: s }\n  action: read\n  effect: permit\n'),
      ).toEqual(['p.yaml:4:11 "effect" must be "allow" or "deny", not "permit"']);
      expect(
        lines(
          '- subject: { any: true }\n  resource: { server: s }\n  action: read\n  conditions:\n    rate_limit_per_minute: 0\n',
        ),
      ).toEqual(['p.yaml:5:28 "conditions.rate_limit_per_minute" must be a whole number greater than 0']);
      expect(lines('- subject: { role: root }\n  resource: { server: s }\n  action: read\n')).toEqual([
        'p.yaml:1:20 unknown role "root"; roles are "admin", "policy-approver", "incident-responder", "auditor"',
      ]);
      expect(lines('- subject: { group: [a, 3] }\n  resource: { server: s }\n  action: read\n')).toEqual([
        'p.yaml:1:25 each entry of "subject.group" must be a string, not number 3',
      ]);
    });

    it('reports a duplicate id with where it was first used', () => {
      const rule = '- { id: same, subject: { any: true }, resource: { server: s }, action: read }\n';
      const result = parsePolicy([
        { path: 'a.yaml', text: rule },
        { path: 'b.yaml', text: `# second\n${rule}` },
      ]);
      expect(result.ok ? [] : result.problems).toEqual([
        {
          file: 'b.yaml',
          line: 2,
          column: 9,
          message: 'duplicate rule id "same" (first used at a.yaml:1:9)',
        },
      ]);
    });

    it('reports a bad glob', () => {
      expect(lines("- subject: { any: true }\n  resource: { tool: 'get_[' }\n  action: read\n")).toEqual([
        'p.yaml:2:21 "resource.tool" pattern "get_[" is not a valid glob (Missing closing: "]" - use "\\\\]" to match literal characters)',
      ]);
    });

    it('reports CEL that does not compile and CEL naming unknown variables', () => {
      const rule = (when: string) =>
        `- subject: { any: true }\n  resource: { server: s }\n  action: read\n  conditions:\n    when: ${when}\n`;
      expect(lines(rule("'args.limit <'"))).toEqual([
        'p.yaml:5:11 "conditions.when" does not compile: Unexpected token: EOF',
      ]);
      expect(lines(rule('\'request.user == "x"\''))).toEqual([
        'p.yaml:5:11 "conditions.when" does not compile: Unknown variable: request',
      ]);
      expect(lines(rule("'args.limit + 1'"))[0]).toBe(
        'p.yaml:5:11 "conditions.when" does not compile: the expression yields int, but a condition must yield a bool',
      );
    });

    it('reports missing subject, resource and action, and never yields a document with problems', () => {
      const result = parsePolicy([{ path: 'p.yaml', text: '- description: nothing else\n' }]);
      expect(result).toEqual({
        ok: false,
        problems: [
          {
            file: 'p.yaml',
            line: 1,
            column: 3,
            message: 'rule 1 has no "subject"; add one, e.g. subject: { group: data-platform }',
          },
          {
            file: 'p.yaml',
            line: 1,
            column: 3,
            message: 'rule 1 has no "resource"; add one, e.g. resource: { server: postgres-prod }',
          },
          {
            file: 'p.yaml',
            line: 1,
            column: 3,
            message: `rule 1 has no "action"; add one, e.g. action: read (or write, or '*')`,
          },
        ],
      });
    });
  });
});
