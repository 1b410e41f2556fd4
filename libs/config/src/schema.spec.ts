import { configSchema, SERVER_NAME, upstreamSchema } from './schema';

describe('configSchema defaults', () => {
  const defaults = configSchema.parse({});

  it.each([
    ['server.port', defaults.server.port, 8080],
    ['server.host', defaults.server.host, '127.0.0.1'],
    ['server.publicUrl', defaults.server.publicUrl, undefined],
    ['server.bodyLimitBytes (4 MiB)', defaults.server.bodyLimitBytes, 4 * 1024 * 1024],
    ['server.maxJsonDepth', defaults.server.maxJsonDepth, 64],
    ['server.allowedOrigins', defaults.server.allowedOrigins, []],
    ['server.allowedHosts', defaults.server.allowedHosts, []],
    ['server.headersTimeoutMs', defaults.server.headersTimeoutMs, 10_000],
    ['server.requestTimeoutMs', defaults.server.requestTimeoutMs, 300_000],
    ['server.shutdownGraceMs', defaults.server.shutdownGraceMs, 10_000],
    ['database.url (embedded)', defaults.database.url, undefined],
    ['database.poolSize', defaults.database.poolSize, 10],
    ['redis.url (in-process)', defaults.redis.url, undefined],
    ['redis.keyPrefix', defaults.redis.keyPrefix, 'gh:'],
    ['sessions.idleTtlSeconds', defaults.sessions.idleTtlSeconds, 3600],
    ['log.level', defaults.log.level, 'info'],
    ['dataDir', defaults.dataDir, './.gatehouse'],
    ['upstreams', defaults.upstreams, {}],
  ])('defaults %s', (_key, actual, expected) => {
    expect(actual).toEqual(expected);
  });

  it('gives a stdio upstream shared sharing, empty args/env/tags and the stream limits', () => {
    const stdio = upstreamSchema.parse({ transport: 'stdio', command: 'npx' });
    expect(stdio).toMatchObject({
      transport: 'stdio',
      command: 'npx',
      args: [],
      env: {},
      tags: {},
      sharing: 'shared',
      maxConcurrency: 64,
      timeouts: { connectMs: 30_000, requestMs: 60_000 },
      limits: { maxMessageBytes: 8 * 1024 * 1024, maxStreamBytes: 64 * 1024 * 1024, idleMs: 120_000 },
    });
    expect(stdio).not.toHaveProperty('cwd');
  });

  it('gives an http upstream per-session sharing and no headers', () => {
    const http = upstreamSchema.parse({ transport: 'http', url: 'https://mcp.example.com/mcp' });
    expect(http).toMatchObject({
      transport: 'http',
      headers: {},
      sharing: 'per-session',
      maxConcurrency: 64,
    });
  });

  it('fills nested defaults when only part of a section is given', () => {
    const parsed = upstreamSchema.parse({ transport: 'stdio', command: 'x', timeouts: { requestMs: 5 } });
    expect(parsed.timeouts).toEqual({ connectMs: 30_000, requestMs: 5 });
  });
});

describe('SERVER_NAME', () => {
  it.each(['github', 'a', 'postgres-prod', 'fs2', 'a1-b2', `a${'b'.repeat(63)}`])('accepts %p', (name) => {
    expect(SERVER_NAME.test(name)).toBe(true);
    expect(
      configSchema.safeParse({ upstreams: { [name]: { transport: 'stdio', command: 'x' } } }).success,
    ).toBe(true);
  });

  it.each([
    ['an underscore, which would make <server>__<tool> ambiguous', 'my_server'],
    ['a double underscore', 'a__b'],
    ['upper case', 'A'],
    ['mixed case', 'GitHub'],
    ['a leading hyphen', '-lead'],
    ['a leading digit, which is no valid URI scheme start', '1abc'],
    ['a trailing hyphen', 'trail-'],
    ['a dot', 'a.b'],
    ['a space', 'a b'],
    ['the empty name', ''],
    ['65 characters', `a${'b'.repeat(64)}`],
  ])('refuses a name with %s (%p)', (_why, name) => {
    expect(SERVER_NAME.test(name)).toBe(false);
    expect(
      configSchema.safeParse({ upstreams: { [name]: { transport: 'stdio', command: 'x' } } }).success,
    ).toBe(false);
  });
});

describe('connection URLs', () => {
  it.each([
    ['database.url', { database: { url: 'postgres://postgres@127.0.0.1:5432/gh' } }, true],
    ['database.url', { database: { url: 'postgresql:///gh?host=/run/postgresql' } }, true],
    ['database.url', { database: { url: 'mysql://root@db/gh' } }, false],
    ['database.url', { database: { url: 'db.internal:5432' } }, false],
    ['redis.url', { redis: { url: 'redis://127.0.0.1:6379/0' } }, true],
    ['redis.url', { redis: { url: 'rediss://cache.example.com:6380' } }, true],
    ['redis.url', { redis: { url: 'http://cache:6379' } }, false],
    ['server.publicUrl', { server: { publicUrl: 'https://gatehouse.example.com' } }, true],
    ['server.publicUrl', { server: { publicUrl: 'javascript:alert(1)' } }, false],
  ])('checks the scheme of %s (%j -> %p)', (_key, value, ok) => {
    expect(configSchema.safeParse(value).success).toBe(ok);
  });
});

describe('upstreamSchema', () => {
  it.each([
    ['stdio without command', { transport: 'stdio' }],
    ['stdio with an empty command', { transport: 'stdio', command: '' }],
    ['http without url', { transport: 'http' }],
    ['http with a relative url', { transport: 'http', url: '/mcp' }],
    ['http with an ftp url', { transport: 'http', url: 'ftp://example.com/mcp' }],
    ['an unknown transport', { transport: 'grpc', command: 'x' }],
    ['no transport', { command: 'x' }],
    ['a url on a stdio upstream', { transport: 'stdio', command: 'x', url: 'https://a.example' }],
    ['a command on an http upstream', { transport: 'http', url: 'https://a.example', command: 'x' }],
    ['an unknown sharing mode', { transport: 'stdio', command: 'x', sharing: 'pooled' }],
    ['a non-text tag value', { transport: 'stdio', command: 'x', tags: { tier: 1 } }],
    ['zero maxConcurrency', { transport: 'stdio', command: 'x', maxConcurrency: 0 }],
    ['a fractional timeout', { transport: 'stdio', command: 'x', timeouts: { requestMs: 1.5 } }],
    ['an unknown timeout key', { transport: 'stdio', command: 'x', timeouts: { readMs: 5 } }],
    ['a negative limit', { transport: 'stdio', command: 'x', limits: { idleMs: -1 } }],
  ])('refuses %s', (_why, value) => {
    expect(upstreamSchema.safeParse(value).success).toBe(false);
  });
});
