import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkCondition, compileCondition } from './cel';
import { parsePolicy } from './parse';

const DOC = readFileSync(join(__dirname, '../../../../docs/policy.md'), 'utf8');
const yamlBlocks = [...DOC.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');

describe('docs/policy.md examples', () => {
  it('has the seed policy, the mapping form and the enforcement example, and they parse', () => {
    const policies = yamlBlocks.filter(
      (b) => !b.includes('expect:') && !b.trimStart().startsWith('conditions:'),
    );
    expect(policies.length).toBeGreaterThanOrEqual(4);
    for (const [i, text] of policies.entries()) {
      const result = parsePolicy([{ path: `example-${i}.yaml`, text }]);
      expect(result.ok ? [] : result.problems).toEqual([]);
    }
  });

  it('has CEL examples that all compile', () => {
    const block = yamlBlocks.find((b) => b.trimStart().startsWith('conditions:')) ?? '';
    const expressions = [...block.matchAll(/when: '(.*)'$/gm)].map((m) => m[1] ?? '');
    expect(expressions.length).toBeGreaterThanOrEqual(5);
    for (const e of expressions) expect([e, checkCondition(e)]).toEqual([e, undefined]);
  });

  it('13.8: the path example normalises, so /public/../secret does not pass it', () => {
    const block = yamlBlocks.find((b) => b.trimStart().startsWith('conditions:')) ?? '';
    const example = [...block.matchAll(/when: '(.*)'$/gm)]
      .map((m) => m[1] ?? '')
      .find((e) => e.includes('"/public/"'));
    expect(example).toBeDefined();
    const condition = compileCondition(example ?? 'false');
    const ctx = (paths: string[]) => ({
      args: { paths },
      principal: {
        kind: 'user' as const,
        issuer: 'i',
        subject: 'bob',
        groups: [],
        roles: [],
        scopes: [],
        expiresAt: 1,
      },
      server: 'fs',
      tool: 'read',
      now: new Date(),
    });
    expect(condition(ctx(['/public/a.txt']))).toBe(true);
    expect(condition(ctx(['/public/../secret/keys']))).toBe(false);
  });
});
