import type { Principal } from '@gatehouse/auth';
import { CompiledGrant, coverOf, type GrantScope } from './grant-matcher';

const T0 = Date.parse('2026-11-24T03:00:00Z');
const HOUR = 3_600_000;

function person(subject: string, groups: string[] = [], email?: string): Principal {
  return {
    kind: 'user',
    issuer: 'https://idp.test',
    subject,
    ...(email ? { email } : {}),
    groups,
    roles: [],
    scopes: [],
    expiresAt: T0 + 10 * HOUR,
  };
}

function grant(over: Partial<GrantScope> = {}): GrantScope {
  return {
    id: 'g1',
    servers: ['*'],
    tools: ['*'],
    everyone: true,
    users: [],
    groups: [],
    liftsRateLimits: false,
    activatedAt: new Date(T0),
    expiresAt: new Date(T0 + HOUR),
    ...over,
  };
}

const alice = person('alice', ['support'], 'Alice@Example.com');

describe('CompiledGrant.covers', () => {
  const cases: Array<[string, Partial<GrantScope>, Principal, string, string, number, boolean]> = [
    ['everyone, every server, inside the window', {}, alice, 'postgres-prod', 'query', T0 + 1, true],
    ['at the exact activation time', {}, alice, 'postgres-prod', 'query', T0, true],
    ['one millisecond before expiry', {}, alice, 'postgres-prod', 'query', T0 + HOUR - 1, true],
    ['at the exact expiry time: no longer', {}, alice, 'postgres-prod', 'query', T0 + HOUR, false],
    ['after expiry', {}, alice, 'postgres-prod', 'query', T0 + 2 * HOUR, false],
    ['before activation', {}, alice, 'postgres-prod', 'query', T0 - 1, false],
    [
      'never activated (pending approval)',
      { activatedAt: null },
      alice,
      'postgres-prod',
      'query',
      T0 + 1,
      false,
    ],
    ['listed server', { servers: ['postgres-prod'] }, alice, 'postgres-prod', 'query', T0 + 1, true],
    ['another server', { servers: ['postgres-prod'] }, alice, 'github', 'query', T0 + 1, false],
    ['server glob', { servers: ['postgres-*'] }, alice, 'postgres-staging', 'query', T0 + 1, true],
    ['tool glob', { tools: ['read_*'] }, alice, 'github', 'read_file', T0 + 1, true],
    ['tool outside the glob', { tools: ['read_*'] }, alice, 'github', 'write_file', T0 + 1, false],
    ['listed user by subject', { everyone: false, users: ['alice'] }, alice, 'x', 't', T0 + 1, true],
    ['never by e-mail', { everyone: false, users: ['alice@example.com'] }, alice, 'x', 't', T0 + 1, false],
    ['subjects are exact', { everyone: false, users: ['Alice'] }, alice, 'x', 't', T0 + 1, false],
    ['someone else', { everyone: false, users: ['bob'] }, alice, 'x', 't', T0 + 1, false],
    ['listed group', { everyone: false, groups: ['support'] }, alice, 'x', 't', T0 + 1, true],
    ['group names are exact', { everyone: false, groups: ['Support'] }, alice, 'x', 't', T0 + 1, false],
    ['nobody listed and not everyone', { everyone: false }, alice, 'x', 't', T0 + 1, false],
  ];
  it.each(cases)('%s', (_name, over, who, server, tool, now, expected) => {
    expect(new CompiledGrant(grant(over)).covers(who, server, tool, now)).toBe(expected);
  });
});

describe('coverOf', () => {
  it('names no grant when none covers the call', () => {
    const grants = [new CompiledGrant(grant({ servers: ['github'] }))];
    expect(coverOf(grants, alice, 'postgres-prod', 'query', T0 + 1)).toBeUndefined();
  });

  it('prefers a covering grant that lifts rate limits', () => {
    const grants = [
      new CompiledGrant(grant({ id: 'plain' })),
      new CompiledGrant(grant({ id: 'limits', liftsRateLimits: true })),
    ];
    expect(coverOf(grants, alice, 'github', 'x', T0 + 1)).toEqual({
      grantId: 'limits',
      liftsRateLimits: true,
    });
  });

  it('skips an expired grant for a live one', () => {
    const grants = [
      new CompiledGrant(grant({ id: 'old', expiresAt: new Date(T0 + 10) })),
      new CompiledGrant(grant({ id: 'new' })),
    ];
    expect(coverOf(grants, alice, 'github', 'x', T0 + 20)?.grantId).toBe('new');
  });
});
