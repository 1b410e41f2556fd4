import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * The built gateway (`npm run build`, which the test command runs before jest) must stop at
 * start-up on a bad configuration with exit code 78 (EX_CONFIG) and a message naming the key,
 * the line and the fix, before it opens a port or a database.
 */
const MAIN = resolve(__dirname, '../../../dist/apps/gateway/src/main.js');

/** Runs the real binary with a clean environment (no PORT, DATABASE_URL, ... from the caller). */
function start(env: NodeJS.ProcessEnv, cwd: string): { status: number | null; stderr: string } {
  const result = spawnSync(process.execPath, [MAIN], {
    cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: result.status, stderr: result.stderr };
}

describe('gateway start-up with a bad configuration', () => {
  let dir: string;
  beforeAll(() => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run "npm run build" first`);
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-startup-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    [
      'a bad enum',
      ['upstreams:', '  fs:', '    transport: stdio', '    command: npx', '    sharing: sometimes'],
      {},
      /upstreams\.fs\.sharing \(line 5, column 5\): .*Fix: set it to one of "shared", "per-session"/,
    ],
    [
      'an unknown key',
      ['server:', '  port: 0', '  prot: 8080'],
      {},
      /server\.prot \(line 3, column 3\): unknown key "prot"\. Fix: did you mean "port"\?/,
    ],
    [
      'a missing ${ENV} reference',
      [
        'upstreams:',
        '  gh:',
        '    transport: http',
        '    url: https://mcp.example.com/mcp',
        '    headers:',
        '      Authorization: Bearer ${GATEHOUSE_TEST_UNSET_TOKEN}',
      ],
      {},
      /upstreams\.gh\.headers\.Authorization \(line 6, column 7\): references \$\{GATEHOUSE_TEST_UNSET_TOKEN\}.*Fix: export GATEHOUSE_TEST_UNSET_TOKEN/,
    ],
    [
      'a YAML syntax error',
      ['server:', '  host: "127.0.0.1'],
      {},
      /\(yaml\) \(line 2, column \d+\): YAML syntax error.*Fix: close the quote/,
    ],
    [
      'a bad PORT',
      ['server:', '  port: 0'],
      { PORT: 'eighty' },
      /PORT: is not a whole number.*Fix: set PORT/,
    ],
  ])('exits 78 naming the key, line and fix for %s', (_name, lines, env, expected) => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, lines.join('\n'));
    const { status, stderr } = start({ GATEHOUSE_CONFIG: file, ...env }, dir);
    expect(stderr).toMatch(expected);
    expect(stderr).toContain(`Invalid Gatehouse configuration in ${file}`);
    expect(status).toBe(78);
  });

  it('exits 78 naming the key when a TLS file cannot be read (checked while starting, not loading)', () => {
    const file = join(dir, 'tls.yaml');
    writeFileSync(
      file,
      [
        'auth:',
        '  mode: none',
        'server:',
        '  port: 0',
        '  tls:',
        `    certFile: ${join(dir, 'absent.crt')}`,
        `    keyFile: ${join(dir, 'absent.key')}`,
      ].join('\n'),
    );
    const { status, stderr } = start({ GATEHOUSE_CONFIG: file }, dir);
    expect(stderr).toMatch(/server\.tls\.certFile/);
    expect(stderr).not.toMatch(/^\s+at /m);
    expect(status).toBe(78);
  });

  it.each([
    [
      'NODE_ENV=production without an issuer (the development IdP)',
      [],
      { NODE_ENV: 'production' },
      /auth\.mode \(line 1, column 1\): "dev" \(the embedded development IdP\) is refused when NODE_ENV=production/,
    ],
    [
      'auth.mode none in production',
      ['auth:', '  mode: none'],
      { NODE_ENV: 'production' },
      /auth\.mode \(line 4, column 3\): "none" \(no authentication\) is refused/,
    ],
    [
      'the development IdP with OIDC_ISSUER set',
      ['auth:', '  mode: dev'],
      { OIDC_ISSUER: 'https://idp.example.com' },
      /auth\.mode \(line 4, column 3\): is "dev", but an issuer is configured \(OIDC_ISSUER\)/,
    ],
  ])('exits 78 for %s', (_name, lines, env, expected) => {
    const file = join(dir, 'auth.yaml');
    writeFileSync(file, ['server:', '  port: 0', ...lines].join('\n'));
    const { status, stderr } = start({ GATEHOUSE_CONFIG: file, ...env }, dir);
    expect(stderr).toMatch(expected);
    expect(status).toBe(78);
  });

  it('exits 78 when GATEHOUSE_CONFIG names a missing file', () => {
    const { status, stderr } = start({ GATEHOUSE_CONFIG: join(dir, 'absent.yaml') }, dir);
    expect(stderr).toMatch(
      /GATEHOUSE_CONFIG: file .*absent\.yaml does not exist\. Fix: point GATEHOUSE_CONFIG/,
    );
    expect(status).toBe(78);
  });

  it('does not print the value of a secret reference when refusing the file', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, ['upstreams:', '  gh:', '    transport: http', '    url: ${GH_URL}'].join('\n'));
    const { status, stderr } = start({ GATEHOUSE_CONFIG: file, GH_URL: 'token-s3cr3t-not-a-url' }, dir);
    expect(stderr).toMatch(/upstreams\.gh\.url \(line 4, column 5\)/);
    expect(stderr).not.toContain('s3cr3t');
    expect(status).toBe(78);
  });
});
