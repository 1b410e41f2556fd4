import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  authMode,
  ConfigError,
  loadConfig,
  parseConfigText,
  redactedConfig,
  type ConfigProblem,
} from './load';
import type { GatehouseConfig } from './schema';

/** The problems parseConfigText reports for `lines`; fails the test when it accepts them. */
function problemsOf(lines: string[], env: NodeJS.ProcessEnv = {}): ConfigProblem[] {
  try {
    parseConfigText(lines.join('\n'), env, 'test.yaml');
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected the configuration to be refused');
}

const STDIO = ['upstreams:', '  fs:', '    transport: stdio', '    command: npx'];
const HTTP = ['upstreams:', '  gh:', '    transport: http', '    url: https://mcp.example.com/mcp'];

interface Case {
  name: string;
  yaml: string[];
  env?: NodeJS.ProcessEnv;
  key: string;
  line: number;
  column?: number;
  message: RegExp;
  fix: RegExp;
}

const cases: Case[] = [
  {
    name: 'an unknown top-level key, suggesting the near spelling',
    yaml: ['server:', '  port: 80', 'lgo:', '  level: info'],
    key: 'lgo',
    line: 3,
    column: 1,
    message: /unknown key "lgo"/,
    fix: /did you mean "log"/,
  },
  {
    name: 'an unknown key inside an upstream, at its own line',
    yaml: [...STDIO, '    comand: npx'],
    key: 'upstreams.fs.comand',
    line: 5,
    column: 5,
    message: /unknown key "comand"/,
    fix: /did you mean "command"/,
  },
  {
    name: 'an unknown key three levels deep',
    yaml: [...STDIO, '    timeouts:', '      requestMs: 5', '      conectMs: 5'],
    key: 'upstreams.fs.timeouts.conectMs',
    line: 7,
    column: 7,
    message: /unknown key "conectMs"/,
    fix: /did you mean "connectMs"/,
  },
  {
    name: 'an unknown key with no near spelling, listing the allowed keys',
    yaml: ['server:', '  colour: red'],
    key: 'server.colour',
    line: 2,
    message: /unknown key "colour"/,
    fix: /remove "colour"; allowed here: port, host/,
  },
  {
    name: 'an http-only key on a stdio upstream',
    yaml: [...STDIO, '    url: https://a.example'],
    key: 'upstreams.fs.url',
    line: 5,
    message: /unknown key "url"/,
    fix: /allowed here: transport, command/,
  },
  {
    name: 'text where a number belongs',
    yaml: ['server:', '  host: 0.0.0.0', '  port: eighty'],
    key: 'server.port',
    line: 3,
    column: 3,
    message: /must be a number, but is text/,
    fix: /set it to a number/,
  },
  {
    name: 'a single string where a list belongs',
    yaml: [...STDIO, '    args: -y'],
    key: 'upstreams.fs.args',
    line: 5,
    message: /must be a list, but is text/,
    fix: /set it to a list/,
  },
  {
    name: 'a number tag value, suggesting quotes',
    yaml: [...STDIO, '    tags:', '      env: prod', '      tier: 1'],
    key: 'upstreams.fs.tags.tier',
    line: 7,
    message: /must be text, but is a number/,
    fix: /quote the value so YAML reads it as text: "1"/,
  },
  {
    name: 'a boolean env value, suggesting quotes',
    yaml: [...STDIO, '    env:', '      DEBUG: true'],
    key: 'upstreams.fs.env.DEBUG',
    line: 6,
    message: /must be text, but is true/,
    fix: /"true"/,
  },
  {
    name: 'a list where a mapping belongs',
    yaml: ['upstreams:', '  - fs'],
    key: 'upstreams',
    line: 1,
    message: /must be a mapping/,
    fix: /set it to a mapping/,
  },
  {
    name: 'a bad sharing enum',
    yaml: [...STDIO, '    sharing: sometimes'],
    key: 'upstreams.fs.sharing',
    line: 5,
    column: 5,
    message: /"sometimes" is not allowed/,
    fix: /one of "shared", "per-session"/,
  },
  {
    name: 'a bad log level',
    yaml: ['log:', '  level: loud'],
    key: 'log.level',
    line: 2,
    message: /"loud" is not allowed/,
    fix: /"info"/,
  },
  {
    name: 'a stdio upstream without command, at the upstream line',
    yaml: ['upstreams:', '  fs:', '    transport: stdio', '    args: [-y]'],
    key: 'upstreams.fs.command',
    line: 2,
    column: 3,
    message: /is required but missing/,
    fix: /add "command: npx" under upstreams\.fs/,
  },
  {
    name: 'a stdio upstream with an empty command:, at the command line',
    yaml: ['upstreams:', '  fs:', '    transport: stdio', '    command:'],
    key: 'upstreams.fs.command',
    line: 4,
    message: /is required but missing/,
    fix: /add "command: npx"/,
  },
  {
    name: 'an http upstream without url',
    yaml: ['upstreams:', '  gh:', '    transport: http'],
    key: 'upstreams.gh.url',
    line: 2,
    message: /is required but missing/,
    fix: /add "url: https:\/\/mcp\.example\.com\/mcp" under upstreams\.gh/,
  },
  {
    name: 'an http upstream with a bad url',
    yaml: ['upstreams:', '  gh:', '    transport: http', '    url: not a url'],
    key: 'upstreams.gh.url',
    line: 4,
    column: 5,
    message: /"not a url" is not an absolute http:\/\/ or https:\/\/ URL/,
    fix: /such as https:\/\/mcp\.example\.com\/mcp/,
  },
  {
    name: 'an http upstream with an ftp url',
    yaml: ['upstreams:', '  gh:', '    transport: http', '    url: ftp://files.example.com/'],
    key: 'upstreams.gh.url',
    line: 4,
    message: /is not an absolute http:\/\/ or https:\/\/ URL/,
    fix: /https:\/\//,
  },
  {
    name: 'a server name with an underscore',
    yaml: ['upstreams:', '  my_server:', '    transport: stdio', '    command: npx'],
    key: 'upstreams.my_server',
    line: 2,
    column: 3,
    message: /"my_server" is not a valid server name/,
    fix: /rename it to "my-server"/,
  },
  {
    name: 'an upper-case server name after a good one',
    yaml: [...STDIO, '  A:', '    transport: stdio', '    command: npx'],
    key: 'upstreams.A',
    line: 5,
    message: /"A" is not a valid server name/,
    fix: /rename it to "a"/,
  },
  {
    name: 'a server name starting with a digit',
    yaml: ['upstreams:', '  1password:', '    transport: stdio', '    command: npx'],
    key: 'upstreams.1password',
    line: 2,
    message: /"1password" is not a valid server name: server names start with a letter/,
    fix: /rename it to "password"/,
  },
  {
    name: 'a database url that is not Postgres',
    yaml: ['database:', '  url: mysql://root@db.internal/gh'],
    key: 'database.url',
    line: 2,
    message: /"mysql:\/\/root@db\.internal\/gh" is not a postgres:\/\/ or postgresql:\/\/ URL/,
    fix: /such as postgres:\/\//,
  },
  {
    name: 'a redis url that is not Redis',
    yaml: ['redis:', '  url: 127.0.0.1:6379'],
    key: 'redis.url',
    line: 2,
    message: /is not a redis:\/\/ or rediss:\/\/ URL/,
    fix: /such as redis:\/\//,
  },
  {
    name: 'a publicUrl that is not http(s)',
    yaml: ['server:', '  publicUrl: javascript:alert(1)'],
    key: 'server.publicUrl',
    line: 2,
    message: /is not an absolute http:\/\/ or https:\/\/ URL/,
    fix: /such as https:\/\/gatehouse\.example\.com/,
  },
  {
    name: 'an unknown transport',
    yaml: ['upstreams:', '  fs:', '    transport: grpc', '    command: npx'],
    key: 'upstreams.fs.transport',
    line: 3,
    message: /"grpc" is not a known transport/,
    fix: /"stdio" \(with "command"\) or "http" \(with "url"\)/,
  },
  {
    name: 'a missing transport',
    yaml: ['upstreams:', '  fs:', '    command: npx'],
    key: 'upstreams.fs.transport',
    line: 2,
    message: /is required but missing/,
    fix: /"stdio"/,
  },
  {
    name: 'a negative timeout',
    yaml: [...STDIO, '    timeouts:', '      connectMs: -5'],
    key: 'upstreams.fs.timeouts.connectMs',
    line: 6,
    column: 7,
    message: /-5 is too small; it must be a number > 0/,
    fix: /> 0/,
  },
  {
    name: 'a port above 65535',
    yaml: ['server:', '  port: 70000'],
    key: 'server.port',
    line: 2,
    message: /70000 is too large/,
    fix: /≤ 65535/,
  },
  {
    name: 'a literal Authorization header',
    yaml: [...HTTP, '    headers:', '      Accept: application/json', '      Authorization: Bearer abc123'],
    key: 'upstreams.gh.headers.Authorization',
    line: 7,
    message: /the Authorization header is written literally/,
    fix: /write \$\{NAME\} here, e\.g\. "\$\{GH_AUTHORIZATION\}"/,
  },
  {
    name: 'a literal api key header',
    yaml: [...HTTP, '    headers:', '      X-Api-Key: abc123'],
    key: 'upstreams.gh.headers.X-Api-Key',
    line: 6,
    message: /written literally/,
    fix: /\$\{/,
  },
  {
    name: 'a literal token in a stdio env',
    yaml: [...STDIO, '    env:', '      DEBUG: "1"', '      GITHUB_TOKEN: ghp_abc'],
    key: 'upstreams.fs.env.GITHUB_TOKEN',
    line: 7,
    message: /the secret GITHUB_TOKEN is written literally/,
    fix: /\$\{FS_GITHUB_TOKEN\}/,
  },
  {
    name: 'a literal database password',
    yaml: ['database:', '  url: postgres://app:hunter2@db.internal:5432/gatehouse'],
    key: 'database.url',
    line: 2,
    message: /a URL with a password is written literally/,
    fix: /\$\{/,
  },
  {
    name: 'a literal password in a redis url query',
    yaml: ['redis:', '  url: redis://cache.internal:6379/0?password=hunter2'],
    key: 'redis.url',
    line: 2,
    message: /a URL with a password/,
    fix: /\$\{/,
  },
  {
    name: 'a YAML indentation error, with line and column',
    yaml: ['server:', '  port: 80', '   host: x'],
    key: '(yaml)',
    line: 2,
    column: 9,
    message: /YAML syntax error/,
    fix: /indentation/,
  },
  {
    name: 'an unclosed flow list',
    yaml: [...STDIO, '    args: [-y, pkg', 'log:', '  level: info'],
    key: '(yaml)',
    line: 6,
    message: /YAML syntax error/,
    fix: /"\[" or "\{" opened above is closed/,
  },
  {
    name: 'an unclosed quote',
    yaml: ['server:', '  host: "0.0.0.0'],
    key: '(yaml)',
    line: 2,
    message: /YAML syntax error/,
    fix: /close the quote/,
  },
  {
    name: 'a duplicate key',
    yaml: ['server:', '  port: 80', '  port: 81'],
    key: '(yaml)',
    line: 3,
    column: 3,
    message: /unique/,
    fix: /each key may appear once/,
  },
  {
    name: 'tab indentation',
    yaml: ['server:', '\tport: 80'],
    key: '(yaml)',
    line: 2,
    message: /Tabs/,
    fix: /indent with spaces/,
  },
  {
    name: 'two YAML documents',
    yaml: ['server:', '  port: 80', '---', 'log:', '  level: info'],
    key: '(yaml)',
    line: 3,
    message: /YAML syntax error/,
    fix: /single YAML document/,
  },
  {
    name: 'a file that is a list, not a mapping',
    yaml: ['- server', '- upstreams'],
    key: '(root)',
    line: 1,
    message: /must be a mapping/,
    fix: /upstreams:/,
  },
  {
    name: 'a missing ${ENV} reference',
    yaml: [...HTTP, '    headers:', '      Authorization: Bearer ${GH_TOKEN_MISSING}'],
    key: 'upstreams.gh.headers.Authorization',
    line: 6,
    column: 7,
    message: /references \$\{GH_TOKEN_MISSING\} but that environment variable is not set/,
    fix: /export GH_TOKEN_MISSING/,
  },
  {
    name: 'an empty ${ENV} reference',
    yaml: [...STDIO, '    env:', '      API_TOKEN: ${EMPTY_TOKEN}'],
    env: { EMPTY_TOKEN: '' },
    key: 'upstreams.fs.env.API_TOKEN',
    line: 6,
    message: /\$\{EMPTY_TOKEN\} but that environment variable is empty/,
    fix: /export EMPTY_TOKEN/,
  },
  {
    name: 'a missing reference inside an args list',
    yaml: [...STDIO, '    args:', '      - --root', '      - ${ROOT_DIR_MISSING}'],
    key: 'upstreams.fs.args.1',
    line: 7,
    column: 9,
    message: /\$\{ROOT_DIR_MISSING\}/,
    fix: /export ROOT_DIR_MISSING/,
  },
  {
    name: 'a malformed reference',
    yaml: [...STDIO, '    cwd: ${HOME'],
    env: { HOME: '/home/x' },
    key: 'upstreams.fs.cwd',
    line: 5,
    message: /malformed \$\{\.\.\.\} reference/,
    fix: /\$\{NAME\}/,
  },
];

describe('parseConfigText refuses a bad file, naming the key, the line and a fix', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const problems = problemsOf(c.yaml, c.env);
    const problem = problems.find((p) => p.key === c.key);
    expect(problems.map((p) => p.key)).toContain(c.key);
    expect(problem?.line).toBe(c.line);
    if (c.column !== undefined) expect(problem?.column).toBe(c.column);
    expect(problem?.message).toMatch(c.message);
    expect(problem?.fix).toMatch(c.fix);
  });

  it('puts key, line, column and fix into the error message a person reads', () => {
    expect(() =>
      parseConfigText([...STDIO, '    sharing: sometimes'].join('\n'), {}, '/etc/gatehouse.yaml'),
    ).toThrow(
      /in \/etc\/gatehouse\.yaml:\n {2}- upstreams\.fs\.sharing \(line 5, column 5\): .*\. Fix: set it to one of "shared", "per-session"/,
    );
  });

  it('reports every problem at once, each at its own line', () => {
    const problems = problemsOf([
      'upstreams:',
      '  fs:',
      '    transport: stdio',
      '    sharing: shared',
      '  gh:',
      '    transport: http',
      '    url: nope',
      '    sharing: always',
    ]);
    expect(problems.map((p) => [p.key, p.line])).toEqual(
      expect.arrayContaining([
        ['upstreams.fs.command', 2],
        ['upstreams.gh.url', 7],
        ['upstreams.gh.sharing', 8],
      ]),
    );
  });

  it('finds the line of a nested key in flow style', () => {
    const [problem] = problemsOf(['server: {port: 80}', 'upstreams: {fs: {transport: stdio, sharing: x}}']);
    expect(problem).toMatchObject({ key: 'upstreams.fs.command', line: 2 });
    expect(problemsOf(['upstreams:', '  fs: {transport: stdio, command: x, sharing: x}'])[0]).toMatchObject({
      key: 'upstreams.fs.sharing',
      line: 2,
      column: 38,
    });
  });

  it('never echoes a value that came from ${ENV} in an error', () => {
    const problems = problemsOf(['upstreams:', '  gh:', '    transport: http', '    url: ${MCP_URL}'], {
      MCP_URL: 'not-a-url-s3cr3t-value',
    });
    expect(problems[0]?.key).toBe('upstreams.gh.url');
    expect(JSON.stringify(problems)).not.toContain('s3cr3t');
  });

  it('masks the password of a bad DATABASE_URL it echoes', () => {
    const problems = problemsOf([], { DATABASE_URL: 'mysql://app:s3cr3t@db/gh' });
    expect(problems[0]?.key).toBe('DATABASE_URL');
    expect(JSON.stringify(problems)).not.toContain('s3cr3t');
  });

  it('masks the password of a literal URL it echoes', () => {
    const problems = problemsOf(['upstreams:', '  gh:', '    transport: http', '    url: ftp://u:s3cr3t@h/']);
    expect(JSON.stringify(problems)).not.toContain('s3cr3t');
  });
});

describe('${ENV} references', () => {
  const env = {
    GH_TOKEN: 'ghp_realtoken',
    ROOT: '/srv/data',
    TEAM: 'platform',
    HOST_A: 'a.example',
    PORT_A: '8443',
  };
  const yaml = [
    'upstreams:',
    '  fs:',
    '    transport: stdio',
    '    command: npx',
    '    args: [-y, pkg, "${ROOT}"]',
    '    cwd: ${ROOT}',
    '    env:',
    '      GITHUB_TOKEN: ${GH_TOKEN}',
    '    tags:',
    '      team: ${TEAM}',
    '  gh:',
    '    transport: http',
    '    url: https://${HOST_A}:${PORT_A}/mcp',
    '    headers:',
    '      Authorization: Bearer ${GH_TOKEN}',
  ].join('\n');

  it('resolves references in values, lists, maps and inside longer strings', () => {
    const { config } = parseConfigText(yaml, env);
    const fs = config.upstreams.fs;
    const gh = config.upstreams.gh;
    expect(fs?.transport === 'stdio' && [fs.args, fs.cwd, fs.env, fs.tags]).toEqual([
      ['-y', 'pkg', '/srv/data'],
      '/srv/data',
      { GITHUB_TOKEN: 'ghp_realtoken' },
      { team: 'platform' },
    ]);
    expect(gh?.transport === 'http' && [gh.url, gh.headers]).toEqual([
      'https://a.example:8443/mcp',
      { Authorization: 'Bearer ghp_realtoken' },
    ]);
  });

  it('records which keys came from references', () => {
    const { secretKeys } = parseConfigText(yaml, env);
    expect([...secretKeys].sort()).toEqual(
      [
        'upstreams.fs.args.2',
        'upstreams.fs.cwd',
        'upstreams.fs.env.GITHUB_TOKEN',
        'upstreams.fs.tags.team',
        'upstreams.gh.url',
        'upstreams.gh.headers.Authorization',
      ].sort(),
    );
  });

  it('does not expand a reference found inside a resolved value', () => {
    const { config } = parseConfigText([...STDIO, '    cwd: ${A}'].join('\n'), { A: '${B}', B: 'nope' });
    expect(config.upstreams.fs?.transport === 'stdio' && config.upstreams.fs.cwd).toBe('${B}');
  });

  it('leaves $NAME without braces as text', () => {
    const { config, secretKeys } = parseConfigText([...STDIO, '    cwd: $HOME/x'].join('\n'), {
      HOME: '/root',
    });
    expect(config.upstreams.fs?.transport === 'stdio' && config.upstreams.fs.cwd).toBe('$HOME/x');
    expect(secretKeys.size).toBe(0);
  });

  it('reports every missing reference with its key and line', () => {
    const problems = problemsOf([
      ...HTTP,
      '    headers:',
      '      A-Token: ${MISSING_A}',
      '      B-Token: ${MISSING_B}',
    ]);
    expect(problems.map((p) => [p.key, p.line, p.fix])).toEqual([
      ['upstreams.gh.headers.A-Token', 6, expect.stringContaining('export MISSING_A')],
      ['upstreams.gh.headers.B-Token', 7, expect.stringContaining('export MISSING_B')],
    ]);
  });
});

describe('redactedConfig', () => {
  const secrets = {
    GH_TOKEN: 'ghp_SECRET_ONE',
    DB_PASSWORD_URL: 'postgres://app:SECRET_TWO@db.internal/gatehouse',
    ROOT_SECRET: 'SECRET_THREE',
    API_KEY: 'SECRET_FOUR',
  };
  const yaml = [
    'database:',
    '  url: ${DB_PASSWORD_URL}',
    'upstreams:',
    '  fs:',
    '    transport: stdio',
    '    command: npx',
    '    args: [--key, "${ROOT_SECRET}"]',
    '    env:',
    '      API_KEY: ${API_KEY}',
    '      DEBUG: "1"',
    '  gh:',
    '    transport: http',
    '    url: https://api.example.com/mcp',
    '    headers:',
    '      Authorization: Bearer ${GH_TOKEN}',
    '      Accept: application/json',
  ].join('\n');

  it('replaces every value that came from ${ENV} and keeps the rest', () => {
    // redactedConfig returns plain JSON-like data of the config's shape, with strings swapped.
    const redacted = redactedConfig(parseConfigText(yaml, secrets)) as GatehouseConfig;
    const { fs, gh } = redacted.upstreams;
    expect(redacted.database.url).toBe('[redacted]');
    expect(fs?.transport === 'stdio' && fs.args).toEqual(['--key', '[redacted]']);
    expect(fs?.transport === 'stdio' && fs.env).toEqual({ API_KEY: '[redacted]', DEBUG: '1' });
    expect(gh?.transport === 'http' && gh.headers).toEqual({
      Authorization: '[redacted]',
      Accept: 'application/json',
    });
    expect(gh?.transport === 'http' && gh.url).toBe('https://api.example.com/mcp');
    expect(fs?.transport === 'stdio' && fs.command).toBe('npx');
  });

  it('never lets a secret value or a fragment of it into its output', () => {
    const out = JSON.stringify(redactedConfig(parseConfigText(yaml, secrets)));
    for (const secret of ['SECRET_ONE', 'SECRET_TWO', 'SECRET_THREE', 'SECRET_FOUR']) {
      expect(out).not.toContain(secret);
    }
  });

  it.each([
    ['DATABASE_URL', 'postgres://app:SECRET_PW@db.internal:5432/gatehouse', 'database', 'db.internal'],
    ['REDIS_URL', 'redis://:SECRET_PW@cache.internal:6379/0', 'redis', 'cache.internal'],
    ['DATABASE_URL', 'postgres://app@db.internal/gh?password=SECRET_PW', 'database', 'db.internal'],
  ])('masks the password in %s given as an environment override (%s)', (name, url, section, host) => {
    const loaded = parseConfigText('', { [name]: url });
    const out = redactedConfig(loaded) as Record<string, { url: string }>;
    expect(out[section]?.url).toContain(host);
    expect(JSON.stringify(out)).not.toContain('SECRET_PW');
  });

  it('does not change the loaded configuration itself', () => {
    const loaded = parseConfigText(yaml, secrets);
    redactedConfig(loaded);
    const gh = loaded.config.upstreams.gh;
    expect(gh?.transport === 'http' && gh.headers.Authorization).toBe('Bearer ghp_SECRET_ONE');
  });
});

describe('secrets only as ${ENV} references', () => {
  it.each([
    ['a non-secret header and env value', [...HTTP, '    headers:', '      Accept: text/event-stream']],
    ['a non-secret stdio env', [...STDIO, '    env:', '      DEBUG: "1"', '      LOG_FORMAT: json']],
    ['a secret header by reference', [...HTTP, '    headers:', '      Authorization: Bearer ${T}']],
    ['a secret stdio env by reference', [...STDIO, '    env:', '      GITHUB_TOKEN: ${T}']],
    ['a database url without a password', ['database:', '  url: postgres://postgres@127.0.0.1:5432/gh']],
    ['a database url by reference', ['database:', '  url: ${DB}']],
  ])('accepts %s', (_name, yaml) => {
    expect(() => parseConfigText(yaml.join('\n'), { T: 'x', DB: 'postgres://a:b@h/d' })).not.toThrow();
  });
});

describe('environment overrides', () => {
  const file = [
    'server:',
    '  port: 9000',
    '  host: 127.0.0.1',
    '  publicUrl: https://file.example.com',
    'database:',
    '  url: postgres://postgres@file-db/gh',
    'redis:',
    '  url: redis://file-redis:6379',
    'log:',
    '  level: info',
    'dataDir: ./from-file',
  ].join('\n');

  it.each([
    ['PORT', '7001', (c: GatehouseConfig) => c.server.port, 7001],
    ['HOST', '0.0.0.0', (c: GatehouseConfig) => c.server.host, '0.0.0.0'],
    [
      'PUBLIC_URL',
      'https://env.example.com',
      (c: GatehouseConfig) => c.server.publicUrl,
      'https://env.example.com',
    ],
    [
      'DATABASE_URL',
      'postgres://postgres@env-db/gh',
      (c: GatehouseConfig) => c.database.url,
      'postgres://postgres@env-db/gh',
    ],
    ['REDIS_URL', 'redis://env-redis:6379', (c: GatehouseConfig) => c.redis.url, 'redis://env-redis:6379'],
    ['LOG_LEVEL', 'debug', (c: GatehouseConfig) => c.log.level, 'debug'],
    ['GATEHOUSE_DATA_DIR', '/var/lib/gatehouse', (c: GatehouseConfig) => c.dataDir, '/var/lib/gatehouse'],
  ])('%s wins over the file', (name, value, pick, expected) => {
    expect(pick(parseConfigText(file, {}).config)).not.toEqual(expected);
    expect(pick(parseConfigText(file, { [name]: value }).config)).toEqual(expected);
  });

  it('applies overrides when there is no file at all', () => {
    const { config } = parseConfigText('', { PORT: '0', LOG_LEVEL: 'warn' });
    expect([config.server.port, config.log.level]).toEqual([0, 'warn']);
  });

  it('ignores an empty override so the file value stands', () => {
    expect(parseConfigText(file, { PORT: '', LOG_LEVEL: '' }).config.server.port).toBe(9000);
  });

  it.each([['abc'], ['80abc'], ['0x50'], ['1e3'], [' 80'], ['-1'], ['8080.5']])(
    'refuses PORT=%p, naming PORT',
    (value) => {
      const problems = (() => {
        try {
          parseConfigText(file, { PORT: value });
        } catch (err) {
          return (err as ConfigError).problems;
        }
        return [];
      })();
      expect(problems).toEqual([
        expect.objectContaining({ key: 'PORT', fix: expect.stringMatching(/set PORT to a whole number/) }),
      ]);
      expect(problems[0]?.line).toBeUndefined();
    },
  );

  it.each([
    [
      'PORT',
      '70000',
      /sets server\.port, but 70000 is too large/,
      /set PORT to a number ≤ 65535, or unset it/,
    ],
    ['LOG_LEVEL', 'loud', /sets log\.level, but "loud" is not allowed/, /set LOG_LEVEL to one of .*"info"/],
    ['PUBLIC_URL', 'not a url', /sets server\.publicUrl/, /set PUBLIC_URL to an absolute http/],
    [
      'DATABASE_URL',
      'localhost:5432',
      /sets database\.url, but .* is not a postgres/,
      /set DATABASE_URL to a postgres/,
    ],
    ['REDIS_URL', 'http://cache:6379', /sets redis\.url, but .* is not a redis/, /set REDIS_URL to a redis/],
  ])('refuses a bad %s without pointing at a file line', (name, value, message, fix) => {
    const problems = problemsOf(file.split('\n'), { [name]: value });
    expect(problems).toEqual([
      { key: name, message: expect.stringMatching(message), fix: expect.stringMatching(fix) },
    ]);
  });
});

describe('loadConfig', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-config-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('uses the defaults when ./gatehouse.yaml does not exist', () => {
    const loaded = loadConfig({}, dir);
    expect(loaded.file).toBeUndefined();
    expect(loaded.config.server.port).toBe(8080);
    expect(loaded.config.upstreams).toEqual({});
  });

  it('reads ./gatehouse.yaml from the working directory', () => {
    writeFileSync(join(dir, 'gatehouse.yaml'), 'server:\n  port: 9100\n');
    const loaded = loadConfig({}, dir);
    expect(loaded.file).toBe(join(dir, 'gatehouse.yaml'));
    expect(loaded.config.server.port).toBe(9100);
  });

  it('reads the file GATEHOUSE_CONFIG names, relative to the working directory', () => {
    mkdirSync(join(dir, 'conf'));
    writeFileSync(join(dir, 'conf', 'gw.yaml'), 'log:\n  level: warn\n');
    expect(loadConfig({ GATEHOUSE_CONFIG: 'conf/gw.yaml' }, dir).config.log.level).toBe('warn');
  });

  it('refuses GATEHOUSE_CONFIG pointing at a missing file', () => {
    expect(() => loadConfig({ GATEHOUSE_CONFIG: 'nope.yaml' }, dir)).toThrow(ConfigError);
    try {
      loadConfig({ GATEHOUSE_CONFIG: 'nope.yaml' }, dir);
    } catch (err) {
      expect((err as ConfigError).problems).toEqual([
        {
          key: 'GATEHOUSE_CONFIG',
          message: `file ${join(dir, 'nope.yaml')} does not exist`,
          fix: expect.stringContaining('point GATEHOUSE_CONFIG at a readable YAML file'),
        },
      ]);
    }
  });

  it('refuses GATEHOUSE_CONFIG pointing at a directory with a ConfigError', () => {
    expect(() => loadConfig({ GATEHOUSE_CONFIG: '.' }, dir)).toThrow(/GATEHOUSE_CONFIG: .* is a directory/);
  });

  it('refuses a ./gatehouse.yaml that is a directory', () => {
    mkdirSync(join(dir, 'gatehouse.yaml'));
    expect(() => loadConfig({}, dir)).toThrow(/\(file\): .* is a directory/);
  });

  it('treats an empty GATEHOUSE_CONFIG as unset', () => {
    expect(loadConfig({ GATEHOUSE_CONFIG: '' }, dir).file).toBeUndefined();
  });

  it.each([
    ['empty', ''],
    ['comment-only', '# nothing configured yet\n'],
    ['empty sections', 'server:\nupstreams:\n'],
  ])('gives the defaults for an %s file', (_name, text) => {
    writeFileSync(join(dir, 'gatehouse.yaml'), text);
    const { config } = loadConfig({}, dir);
    expect(config).toEqual(parseConfigText('', {}).config);
  });

  it('names the file in the error', () => {
    writeFileSync(join(dir, 'gatehouse.yaml'), 'server:\n  prot: 1\n');
    expect(() => loadConfig({}, dir)).toThrow(`in ${join(dir, 'gatehouse.yaml')}:\n  - server.prot (line 2`);
  });

  it('applies environment overrides to the file', () => {
    writeFileSync(join(dir, 'gatehouse.yaml'), 'server:\n  port: 9100\n');
    expect(loadConfig({ PORT: '9200' }, dir).config.server.port).toBe(9200);
  });
});

describe('shared settings with anchors', () => {
  it('accepts merge keys from an x- block and ignores the x- block itself', () => {
    const { config } = parseConfigText(
      [
        'x-defaults: &defaults',
        '  timeouts:',
        '    requestMs: 5000',
        '  maxConcurrency: 4',
        'upstreams:',
        '  fs:',
        '    <<: *defaults',
        '    transport: stdio',
        '    command: npx',
      ].join('\n'),
      {},
    );
    expect(config.upstreams.fs).toMatchObject({ maxConcurrency: 4, timeouts: { requestMs: 5000 } });
    expect(config).not.toHaveProperty('x-defaults');
  });
});

describe('auth mode', () => {
  it('defaults to the development IdP without an issuer, and to oidc with one', () => {
    expect(authMode(parseConfigText('', {}).config)).toBe('dev');
    expect(authMode(parseConfigText('', { OIDC_ISSUER: 'https://idp.example.com' }).config)).toBe('oidc');
  });

  it.each([
    ['dev', 'auth:\n  mode: dev\n'],
    ['none', 'auth:\n  mode: none\n'],
    ['dev (default)', ''],
  ])('refuses %s when NODE_ENV=production', (_label, text) => {
    expect(() => parseConfigText(text, { NODE_ENV: 'production' }, 'g.yaml')).toThrow(
      /refused when NODE_ENV=production[\s\S]*OIDC_ISSUER/,
    );
  });

  it('refuses the development IdP when an issuer is set', () => {
    expect(() =>
      parseConfigText('auth:\n  mode: dev\n', { OIDC_ISSUER: 'https://idp.example.com' }, 'g.yaml'),
    ).toThrow(/auth.mode \(line 2, column 3\): is "dev", but an issuer is configured \(OIDC_ISSUER\)/);
  });

  it('requires an issuer for oidc', () => {
    expect(() => parseConfigText('auth:\n  mode: oidc\n', {}, 'g.yaml')).toThrow(/auth.issuer .*is required/);
  });

  it('refuses none and HMAC algorithms in configuration (R3)', () => {
    for (const alg of ['none', 'HS256']) {
      expect(() => parseConfigText(`auth:\n  algorithms: [${alg}]\n`, {}, 'g.yaml')).toThrow(
        /only asymmetric algorithms/,
      );
    }
  });

  it('refuses literal client secrets', () => {
    expect(() =>
      parseConfigText('auth:\n  console:\n    clientSecret: hunter2hunter2\n', {}, 'g.yaml'),
    ).toThrow(/auth.console.clientSecret .*written literally/);
  });

  it('caps clock skew at 60 seconds (R4)', () => {
    expect(() => parseConfigText('auth:\n  clockSkewSeconds: 300\n', {}, 'g.yaml')).toThrow(
      /clockSkewSeconds/,
    );
  });
});
