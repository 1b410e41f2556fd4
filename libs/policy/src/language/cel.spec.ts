import type { Principal } from '@gatehouse/auth';
import { checkCondition, compileCondition, normPath } from './cel';

const principal: Principal = {
  kind: 'user',
  issuer: 'https://idp.test',
  subject: 'bob',
  groups: [],
  roles: [],
  scopes: [],
  expiresAt: Infinity,
};

function holds(expression: string, args: Record<string, unknown>): boolean {
  return compileCondition(expression)({ args, principal, server: 'fs', tool: 'read', now: new Date() });
}

describe('CEL normPath (13.8)', () => {
  it.each([
    ['/public/a.txt', '/public/a.txt'],
    ['/public/../secret', '/secret'],
    ['/public/./x//y/', '/public/x/y'],
    ['/../../etc/passwd', '/etc/passwd'],
    ['/public/..', '/'],
    ['/', '/'],
  ])('normalises %s to %s', (input, output) => {
    expect(normPath(input)).toBe(output);
  });

  it.each(['public/a', '', '/public/a\0/../../secret', '/public\\..\\secret'])('refuses %j', (input) => {
    expect(() => normPath(input)).toThrow(/normPath/);
  });

  const docs = 'args.paths.all(p, normPath(p).startsWith("/public/"))';

  it('type-checks as the docs write it', () => {
    expect(checkCondition(docs)).toBeUndefined();
  });

  it('13.8: /public/../secret no longer passes the docs path example', () => {
    expect(holds(docs, { paths: ['/public/a.txt', '/public/sub/b'] })).toBe(true);
    expect(holds(docs, { paths: ['/public/../secret/keys'] })).toBe(false);
    expect(holds(docs, { paths: ['/public/a.txt', '/public/./../secret'] })).toBe(false);
    // The naive check the docs used to show is beaten by the same path.
    expect(holds('args.paths.all(p, p.startsWith("/public/"))', { paths: ['/public/../secret/keys'] })).toBe(
      true,
    );
  });

  it('a path it cannot judge makes the condition fail (the engine denies, R10)', () => {
    expect(() => holds(docs, { paths: ['public/a'] })).toThrow(/not absolute/);
  });
});
