import { REDACTED, redactArguments } from './redact';

describe('redactArguments (R20)', () => {
  it('redacts configured paths, with * for any key or index', () => {
    const out = redactArguments(
      { query: 'x', auth: { token: 'abc', user: 'alice' }, items: [{ secret: 1, name: 'a' }, { secret: 2 }] },
      ['auth.token', 'items.*.secret'],
    );
    expect(out).toEqual({
      query: 'x',
      auth: { token: REDACTED, user: 'alice' },
      items: [{ secret: REDACTED, name: 'a' }, { secret: REDACTED }],
    });
  });

  it.each([
    ['password', { password: 'hunter2' }],
    ['apiKey', { apiKey: 'k' }],
    ['api_key', { api_key: 'k' }],
    ['Authorization', { Authorization: 'x' }],
    ['client_secret', { client_secret: 'x' }],
    ['refreshToken', { refreshToken: 'x' }],
  ])('redacts a value under a secret-named key (%s)', (_k, args) => {
    expect(Object.values(redactArguments(args, []))).toEqual([REDACTED]);
  });

  it.each([
    ['a bearer header', 'Bearer abc.def'],
    ['a JWT', 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl'],
    ['a Stripe-style key', 'sk_live_4eC39HqLyjWDarjtT1zdp7dc'],
    ['a GitHub token', 'ghp_16C7e42F292c6912E7710c838347Ae178B4a'],
    ['an AWS access key id', 'AKIAIOSFODNN7EXAMPLE'],
    ['a private key', '-----BEGIN RSA PRIVATE KEY-----\nMIIE...'],
    ['a URL with a password', 'postgres://app:s3cret@db:5432/x'],
  ])('redacts %s wherever it appears', (_label, value) => {
    expect(redactArguments({ note: value, nested: [value] }, [])).toEqual({
      note: REDACTED,
      nested: [REDACTED],
    });
  });

  it('keeps ordinary values, including SQL and paths, and does not change its input', () => {
    const args = {
      sql: "SELECT * FROM customers WHERE name = 'token'",
      path: '/srv/docs/a.txt',
      n: 3,
      ok: true,
    };
    const copy = structuredClone(args);
    expect(redactArguments(args, [])).toEqual(args);
    expect(args).toEqual(copy);
  });
});
