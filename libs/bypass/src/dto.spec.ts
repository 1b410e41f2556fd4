import { BypassError } from './bypass-error';
import { grantId, openBody, parseRequest, weakReason } from './dto';

const GOOD = 'payments API down, the deny on postgres-prod blocks the on-call fix';

describe('weakReason', () => {
  it.each([
    ['a real sentence', GOOD, undefined],
    ['too short', 'db is down', /at least 20 characters/],
    ['only spaces around a short word', `   ${'fix'}            `, /at least 20 characters/],
    ['one repeated character', 'a'.repeat(40), /not repeated characters/],
    ['a repeated short pattern', 'asdf'.repeat(10), /not repeated characters/],
    ['a repeated word', 'fix fix fix fix fix fix fix', /not repeated characters/],
    ['one long word', 'incidentresponseisongoingnow', /at least 3 words/],
  ])('%s', (_name, reason, expected) => {
    const found = weakReason(reason);
    if (expected === undefined) expect(found).toBeUndefined();
    else expect(found).toMatch(expected);
  });

  // Filler that got through the length, distinct-character and word-count checks before.
  it.each([
    [
      '13.8: a word repeated among a few others',
      'please please please please let me in',
      /one word repeated \("please" is 4 of 7/,
    ],
    ['13.8: lorem ipsum', 'Lorem ipsum dolor sit amet, consectetur adipiscing elit', /placeholder text/],
    [
      '13.8: lorem ipsum before a sentence',
      'lorem ipsum: the payments database is down and we need access',
      /placeholder text/,
    ],
    ['13.8: placeholder words', 'blah blah foo bar whatever tbd', /placeholder text/],
    ['13.8: keyboard rows', 'qwertyuiop asdfghjkl zxcvbnm', /keyboard runs/],
    ['13.8: keyboard runs as words', 'asdf qwer zxcv hjkl uiop', /keyboard runs/],
    ['13.8: the alphabet in words', 'abcdefgh ijklmnop qrstuvwx yz', /keyboard runs/],
    ['13.8: a repeated piece per word', 'asdfasdf hahaha xoxoxo lalala', /keyboard runs or repeated/],
    ['13.8: one letter per word', 'aaaaaaaaaaaa bb cc dd ee ff gg hh', /keyboard runs or repeated letters/],
    ['13.8: a keyboard mash', 'sdkfj lskdjf qwrtp mnbvc', /keyboard runs/],
    ['13.8: too few different words', 'testing testing, 123 please', /different words that are not filler/],
    ['13.8: filler padding two words', 'asdf fix qwer db zxcv', /keyboard runs/],
  ])('%s', (_name, reason, expected) => {
    expect(weakReason(reason)).toMatch(expected);
  });

  // Real incident reasons, terse, technical, with ids, acronyms and other languages: all pass.
  it.each([
    GOOD,
    'INC-4521: payments DB failover, deny blocks restore',
    'PagerDuty #88123 checkout 500s, need to run the fix script on postgres-prod',
    'SEV1 HTTPS cert expired on api-gw, rotating via the vault MCP tool',
    'rollback of orders table migration needs DROP on prod',
    'Kunden-DB hängt, Notfall-Fix über psql nötig (Ticket 7781)',
    'prod down prod down, need the restore tool now',
    'abc corp tenant locked out after SSO change, restore their grants',
    'DNS for grpc-edge broken; need to edit the zone file via the infra server',
    'the def parser crashes on every import, patch via filesystem tool',
  ])('13.8: passes a real reason: %s', (reason) => {
    expect(weakReason(reason)).toBeUndefined();
  });
});

describe('openBody', () => {
  const parse = (body: unknown) => parseRequest(openBody, body, 'body');
  const refusal = (body: unknown): string[] => {
    try {
      parse(body);
    } catch (err) {
      expect(err).toBeInstanceOf(BypassError);
      return (err as BypassError).problems ?? [];
    }
    throw new Error('accepted');
  };

  it('accepts the one-button request: a reason alone', () => {
    expect(parse({ reason: GOOD })).toEqual({ reason: GOOD });
  });

  it('accepts a full request', () => {
    const body = {
      reason: GOOD,
      incident: 'INC-4711',
      servers: ['postgres-*'],
      tools: ['query'],
      groups: ['data-platform'],
      liftRateLimits: true,
      durationSeconds: 1800,
      requireApproval: true,
    };
    expect(parse(body)).toEqual(body);
  });

  it.each([
    ['a missing reason', {}, /body\.reason/],
    ['a weak reason', { reason: 'x'.repeat(30) }, /body\.reason must be a real sentence/],
    [
      'an unknown field (no policy change through a grant)',
      { reason: GOOD, policy: 'x' },
      /unknown field policy/,
    ],
    ['a bad glob', { reason: GOOD, servers: ['prod-['] }, /body\.servers\.0 "prod-\[" is not a valid glob/],
    ['an empty server list', { reason: GOOD, servers: [] }, /body\.servers/],
    ['a duration under the minimum', { reason: GOOD, durationSeconds: 1 }, /body\.durationSeconds/],
    ['a fractional duration', { reason: GOOD, durationSeconds: 60.5 }, /body\.durationSeconds/],
    [
      'everyone with a list',
      { reason: GOOD, everyone: true, users: ['bob'] },
      /body\.everyone cannot be combined/,
    ],
    [
      'a control character in the incident',
      { reason: GOOD, incident: 'INC\u0007' },
      /body\.incident must be printable/,
    ],
  ])('refuses %s, naming the field', (_name, body, expected) => {
    expect(refusal(body).join('\n')).toMatch(expected);
  });
});

describe('grantId', () => {
  it('accepts a UUID in any case and refuses anything else as not found', () => {
    expect(grantId('0A1B2C3D-0000-4000-8000-000000000000')).toBe('0a1b2c3d-0000-4000-8000-000000000000');
    expect(() => grantId('1; DROP TABLE')).toThrow(/there is no bypass grant/);
  });
});
