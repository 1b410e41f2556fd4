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
