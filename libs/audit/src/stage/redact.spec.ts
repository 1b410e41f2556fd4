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
    ['a bearer header', 'Bearer abc.def', 'abc.def'],
    ['a JWT', 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl', 'c2lnbmF0dXJl'],
    ['a Stripe-style key', 'sk_live_4eC39HqLyjWDarjtT1zdp7dc', '4eC39HqLyjWDarjtT1zdp7dc'],
    ['a GitHub token', 'ghp_16C7e42F292c6912E7710c838347Ae178B4a', '16C7e42F292c6912E7710c838347Ae178B4a'],
    ['an AWS access key id', 'AKIAIOSFODNN7EXAMPLE', 'IOSFODNN7EXAMPLE'],
    ['a private key', '-----BEGIN RSA PRIVATE KEY-----\nMIIE...', 'MIIE'],
    ['a URL with a password', 'postgres://app:s3cret@db:5432/x', 's3cret'],
  ])('redacts %s wherever it appears', (_label, value, secret) => {
    const out = redactArguments({ note: value, nested: [value] }, []);
    expect(JSON.stringify(out)).not.toContain(secret);
    expect(out.note).toContain(REDACTED);
    expect(out.nested).toEqual([out.note]);
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

/** Each row: arguments as a client sends them, and the secrets that must not survive redaction. */
const MISSES: Array<[string, Record<string, unknown>, string[]]> = [
  [
    'a secret-named key holding an array',
    { tokens: ['tok-aaa-111', 'tok-bbb-222'] },
    ['tok-aaa-111', 'tok-bbb-222'],
  ],
  [
    'a secret-named key holding an object',
    { credentials: { user: 'svc', pw: 'obj-secret-9' } },
    ['obj-secret-9'],
  ],
  [
    'a bearer token inside a sentence',
    { note: 'please retry with Bearer abcDEF123456.ghiJKL789 on the staging host' },
    ['abcDEF123456.ghiJKL789'],
  ],
  [
    'password= inside a longer string',
    { cmd: 'connect host=db password=hunter2-xyz user=app' },
    ['hunter2-xyz'],
  ],
  [
    'api_key: inside a longer string',
    { text: 'config is api_key: K3y-v4lue-abc, region eu' },
    ['K3y-v4lue-abc'],
  ],
  [
    'a connection string with a password in a sentence',
    { text: 'use postgres://app:s3cr3t-pg@db.internal:5432/prod for the report' },
    ['s3cr3t-pg'],
  ],
  [
    'JSON inside a string',
    { payload: '{"user":"alice","password":"json-pw-123","nested":{"apiKey":"json-key-456"}}' },
    ['json-pw-123', 'json-key-456'],
  ],
  [
    'a token shape inside JSON inside a string',
    { payload: '[{"note":"ghp_16C7e42F292c6912E7710c838347Ae178B4a"}]' },
    ['ghp_16C7e42F292c6912E7710c838347Ae178B4a'],
  ],
  ['ALTER ROLE … PASSWORD in SQL', { sql: "ALTER ROLE app PASSWORD 'alter-pw-777'" }, ['alter-pw-777']],
  [
    'CREATE USER … WITH PASSWORD in SQL',
    { sql: "CREATE USER mallory WITH LOGIN ENCRYPTED PASSWORD 'create-pw-888'" },
    ['create-pw-888'],
  ],
  [
    'a query-string token in a URI',
    {
      uri: 'https://files.example.com/a.pdf?X-Amz-Signature=abcdef0123&access_token=qs-token-1&sig=qs-sig-2',
    },
    ['abcdef0123', 'qs-token-1', 'qs-sig-2'],
  ],
  [
    'an AWS key id in a sentence',
    { text: 'the key AKIAIOSFODNN7EXAMPLE was rotated' },
    ['AKIAIOSFODNN7EXAMPLE'],
  ],
];

describe('13.6 R20: secrets the redaction missed', () => {
  it.each(MISSES)('13.6 R20: %s is redacted', (_label, args, secrets) => {
    const stored = JSON.stringify(redactArguments(args, []));
    for (const secret of secrets) expect(stored).not.toContain(secret);
    expect(stored).toContain(REDACTED);
  });

  it('13.6 R20: keeps the text around a secret so the record still reads', () => {
    expect(redactArguments({ sql: "ALTER ROLE app PASSWORD 'x-1'" }, [])).toEqual({
      sql: `ALTER ROLE app PASSWORD ${REDACTED}`,
    });
    expect(redactArguments({ note: 'use password=abc then go' }, [])).toEqual({
      note: `use password=${REDACTED} then go`,
    });
  });

  it('13.6 R20: configured paths reach into JSON held by a string', () => {
    const out = redactArguments({ body: '{"card":{"number":"4111"}}' }, ['body.card.number']);
    expect(JSON.parse(out.body as string)).toEqual({ card: { number: REDACTED } });
  });

  it('13.6 R20: a 10 MB argument is cut at the scan limit and marked, without stalling', () => {
    const big = `${'x'.repeat(5_000_000)} password=tail-secret ${'y'.repeat(5_000_000)}`;
    const started = process.hrtime.bigint();
    const out = redactArguments({ big, head: `Bearer tok-${'a'.repeat(40)}` }, []);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    expect(ms).toBeLessThan(250);
    expect(String(out.big)).toMatch(/…\[truncated: \d+ more characters not scanned or stored\]$/);
    expect(String(out.big).length).toBeLessThan(70_000);
    expect(JSON.stringify(out)).not.toContain('tail-secret');
    expect(out.head).toBe(`Bearer ${REDACTED}`);
  });

  it('13.6 R20: nesting past the depth limit is replaced by a marker, not stored unscanned', () => {
    let deep: Record<string, unknown> = { note: 'password=deep-secret' };
    for (let i = 0; i < 40; i++) deep = { d: deep };
    const stored = JSON.stringify(redactArguments(deep, []));
    expect(stored).not.toContain('deep-secret');
    expect(stored).toContain('[not scanned: nested deeper than');
  });

  it('13.6 R20: many values are bounded by the record budget and marked', () => {
    const many = Array.from({ length: 200_000 }, (_, i) => `value-${i}-${'z'.repeat(20)}`);
    const out = redactArguments({ many }, []);
    const kept = out.many as string[];
    expect(kept.length).toBeLessThan(many.length);
    expect(kept[kept.length - 1]).toMatch(/^\[not scanned: \d+ more items over the scan budget\]$/);
  });
});
