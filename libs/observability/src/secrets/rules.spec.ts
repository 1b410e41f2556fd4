import { SECRET_KEY, SECRET_RULES } from './rules';
import { REDACTED, redactText } from './scan';

/** Each rule: texts it must hide (with the secret part) — one table, so a replacement rule set can be held to it. */
const FINDS: Array<[string, string, string]> = [
  [
    'private-key',
    'key:\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----\n',
    'b3BlbnNzaC1rZXk',
  ],
  ['private-key', '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB (cut off)', 'MHcCAQEEIB'],
  ['aws-access-token', 'id AKIAIOSFODNN7EXAMPLE in a sentence', 'AKIAIOSFODNN7EXAMPLE'],
  ['aws-access-token', 'ASIAY34FZKBOKMUTVV7A', 'ASIAY34FZKBOKMUTVV7A'],
  [
    'github-token',
    'token ghp_16C7e42F292c6912E7710c838347Ae178B4a here',
    'ghp_16C7e42F292c6912E7710c838347Ae178B4a',
  ],
  ['github-token', 'gho_16C7e42F292c6912E7710c838347Ae178B4a', 'gho_16C7e42F292c6912E7710c838347Ae178B4a'],
  [
    'github-token',
    'github_pat_11ABCDEFG0abcdefghijkl_mnopqrstuvwxyz0123456789',
    'github_pat_11ABCDEFG0abcdefghijkl',
  ],
  ['gitlab-pat', 'glpat-xxxxxxxxxxxxxxxxxxxx', 'glpat-xxxxxxxxxxxxxxxxxxxx'],
  ['slack-token', 'xoxb-123456789012-1234567890123-AbCdEfGhIjKl', 'xoxb-123456789012'],
  [
    'slack-webhook-url',
    'post to https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX',
    'XXXXXXXXXXXXXXXXXXXXXXXX',
  ],
  [
    'stripe-access-token',
    'charge with sk_live_4eC39HqLyjWDarjtT1zdp7dc now',
    'sk_live_4eC39HqLyjWDarjtT1zdp7dc',
  ],
  ['stripe-access-token', 'rk_test_4eC39HqLyjWDarjtT1zdp7dc', 'rk_test_4eC39HqLyjWDarjtT1zdp7dc'],
  ['openai-anthropic-key', 'sk-proj-abcdefghijklmnopqrstuvwxyz0123', 'abcdefghijklmnopqrstuvwxyz0123'],
  ['gcp-api-key', 'key=AIzaSyA1234567890abcdefghijklmnopqrstuv', 'AIzaSyA1234567890abcdefghijklmnopqrstuv'],
  [
    'npm-access-token',
    'npm_abcdefghijklmnopqrstuvwxyz0123456789',
    'npm_abcdefghijklmnopqrstuvwxyz0123456789',
  ],
  ['jwt', 'got eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl back', 'eyJzdWIiOiJhbGljZSJ9'],
  ['authorization-scheme', 'retry with Bearer abcDEF123456.ghi in the header', 'abcDEF123456.ghi'],
  ['authorization-scheme', 'Basic YWxpY2U6czNjcmV0', 'YWxpY2U6czNjcmV0'],
  ['url-userinfo', 'postgres://app:s3cret@db:5432/x', 's3cret'],
  ['url-userinfo', 'redis://:r3dis-pw@cache:6379', 'r3dis-pw'],
  ['url-userinfo', 'https://user:p%40ss@example.com/', 'p%40ss'],
  ['sql-password', "ALTER ROLE app WITH PASSWORD 'alter-pw'", 'alter-pw'],
  ['sql-password', "alter user app password 'it''s-a-pw'", 's-a-pw'],
  ['sql-password', "CREATE USER m ENCRYPTED PASSWORD E'esc-pw'", 'esc-pw'],
  ['sql-password', 'CREATE ROLE m LOGIN PASSWORD $$dollar-pw$$', 'dollar-pw'],
  ['sql-password', "CREATE USER MAPPING FOR u SERVER s OPTIONS (user 'u', password 'fdw-pw')", 'fdw-pw'],
  ['sql-password', "CREATE USER 'm'@'%' IDENTIFIED BY 'mysql-pw'", 'mysql-pw'],
  ['credential-header', 'upstream said: Authorization: Token tok-abc-123', 'tok-abc-123'],
  ['credential-header', 'Cookie: sid=cookie-val; theme=dark', 'cookie-val'],
  ['secret-assignment', 'host=db password=hunter2 user=app', 'hunter2'],
  ['secret-assignment', 'api_key: K3y-v4lue', 'K3y-v4lue'],
  ['secret-assignment', '{"client_secret": "cs value with spaces"}', 'cs value with spaces'],
  ['secret-assignment', 'https://x/y?a=1&access_token=qs-tok&b=2', 'qs-tok'],
  ['secret-assignment', 'https://x/y?X-Amz-Signature=abcdef&X-Amz-Credential=AK%2F2026', 'abcdef'],
  ['secret-assignment', 'GET /file?sig=sas-sig-value&se=2026', 'sas-sig-value'],
  ['secret-assignment', 'Server=db;Database=x;User Id=u;Password=ado-pw;', 'ado-pw'],
  ['secret-assignment', 'PGPASSWORD=env-pw psql', 'env-pw'],
  ['secret-assignment', 'db_pass=short', 'short'],
];

/** Ordinary text that must come through unchanged. */
const KEEPS = [
  "SELECT * FROM customers WHERE name = 'token'",
  'SELECT password_hash IS NOT NULL FROM users',
  'the password policy requires 12 characters',
  '/srv/docs/a.txt',
  'https://example.com/a?page=2&sort=name',
  // Already redacted, by these rules or by libs/db's redactUrl.
  'database: Postgres at postgres://app:redacted@db:5432/x',
  'postgres://app:[redacted]@db:5432/x',
  'postgres://db.internal:5432/prod',
  'bypass=true design=x',
  'max_tokens is 100 and the tokenizer is fine',
  'demo://resource/dynamic/text/1',
  'a bearer of good news',
];

describe('secret rules (R20)', () => {
  it('13.6 R20: every rule has a unique id, the g flag and at least one case here', () => {
    const ids = SECRET_RULES.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const rule of SECRET_RULES) expect(rule.pattern.flags).toContain('g');
    expect(new Set(FINDS.map(([id]) => id))).toEqual(new Set(ids));
  });

  it.each(FINDS)('13.6 R20: %s hides the secret in %j', (id, text, secret) => {
    const rule = SECRET_RULES.find((r) => r.id === id);
    expect(rule).toBeDefined();
    const alone = redactText(text, [rule as (typeof SECRET_RULES)[number]]);
    expect(alone).not.toContain(secret);
    expect(alone).toContain(REDACTED);
    expect(redactText(text)).not.toContain(secret);
  });

  it.each(KEEPS)('13.6 R20: keeps ordinary text %j', (text) => {
    expect(redactText(text)).toBe(text);
  });

  it('13.6 R20: redacting twice changes nothing more', () => {
    for (const [, text] of FINDS) {
      const once = redactText(text);
      expect(redactText(once)).toBe(once);
    }
  });

  it('13.6 R20: each rule is linear on hostile 64 KiB inputs (no backtracking blow-up)', () => {
    const hostile = [
      'a_'.repeat(32_768),
      'password='.repeat(7_000),
      'password'.repeat(8_000),
      'x-token: '.repeat(7_000),
      'bearer '.repeat(9_000),
      ':/'.repeat(32_000),
      `postgres://${'u'.repeat(60_000)}:`,
      `https://${':'.repeat(60_000)}`,
      `-----BEGIN RSA PRIVATE KEY-----${'A'.repeat(60_000)}`,
      '-----BEGIN PRIVATE KEY-----'.repeat(2_000),
      `eyJ${'a'.repeat(30_000)}.${'b'.repeat(30_000)}`,
      `PASSWORD '${"''".repeat(30_000)}`,
      'PASSWORD $a$'.repeat(5_000),
      ` ${'x.'.repeat(32_000)}=`,
      'authorization:'.repeat(4_000),
    ];
    for (const rule of SECRET_RULES) {
      // Keywords emptied: the pattern itself runs on every input.
      const always = [{ ...rule, keywords: [''] }];
      for (const text of hostile) {
        const started = process.hrtime.bigint();
        redactText(text, always);
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        if (ms > 200)
          throw new Error(`${rule.id} took ${ms.toFixed(0)} ms on ${JSON.stringify(text.slice(0, 30))}…`);
      }
    }
  });

  it.each([
    ['password', true],
    ['client_secret', true],
    ['accessToken', true],
    ['X-Api-Key', true],
    ['db_pass', true],
    ['pwd', true],
    ['sig', true],
    ['bypass', false],
    ['passenger', false],
    ['design', false],
    ['name', false],
  ])('13.6 R20: the key %s is secret-named: %s', (key, secret) => {
    expect(SECRET_KEY.test(key)).toBe(secret);
  });
});
