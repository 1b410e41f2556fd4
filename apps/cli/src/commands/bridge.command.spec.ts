import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { assertBuilt, CLI } from '../bridge/__tests__/host';

/** Option handling of the compiled `gatehouse bridge`: bad input stops it before it touches the network. */
describe('gatehouse bridge options', () => {
  beforeAll(() => assertBuilt());

  function run(args: string[], env: NodeJS.ProcessEnv = process.env) {
    const result = spawnSync(process.execPath, [CLI, ...args], {
      input: '',
      encoding: 'utf8',
      timeout: 20_000,
      env,
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  it('lists the bridge command in the help', () => {
    const { status, stdout } = run(['--help']);
    expect(status).toBe(0);
    expect(stdout).toContain('bridge');
  });

  it.each([
    [['bridge'], /required option '--url <url>'/],
    [['bridge', '--url', 'not a url'], /absolute URL/],
    [['bridge', '--url', 'ftp://example.com/mcp'], /http:\/\/ or https:\/\//],
    [['bridge', '--url', 'http://127.0.0.1:1/mcp', '--header', 'novalue'], /name=value/],
    [['bridge', '--url', 'http://127.0.0.1:1/mcp', '--header', 'mcp-session-id=x'], /set by the bridge/],
    [['bridge', '--url', 'http://127.0.0.1:1/mcp', '--timeout', '-5'], /milliseconds/],
    [
      ['bridge', '--url', 'http://127.0.0.1:1/mcp', '--cert', '/nonexistent.pem'],
      /--cert and --key go together/,
    ],
    [
      [
        'bridge',
        '--url',
        'http://127.0.0.1:1/mcp',
        '--cert',
        '/nonexistent.pem',
        '--key',
        '/nonexistent.key',
      ],
      /cannot read \/nonexistent.pem/,
    ],
    [['bridge', '--url', 'http://127.0.0.1:1/mcp', '--log-format', 'xml'], /Allowed choices are text, json/],
  ])('refuses %j with a message on stderr and nothing on stdout', (args, message) => {
    const { status, stdout, stderr } = run(args);
    expect(status).not.toBe(0);
    expect(stderr).toMatch(message);
    expect(stdout).toBe('');
  });

  it('documents shadow and fallback in the help', () => {
    const { status, stdout } = run(['bridge', '--help']);
    expect(status).toBe(0);
    for (const flag of [
      '--shadow',
      '--direct <file>',
      '--fallback <file>',
      '--server <name>',
      '--as <name>',
    ]) {
      expect(stdout).toContain(flag);
    }
    expect(stdout).toContain('.local/state/gatehouse/spool');
  });

  describe('shadow and fallback flags', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bridge-legacy-'));
    const two = join(dir, 'two.json');
    writeFileSync(two, JSON.stringify({ mcpServers: { memory: { command: 'a' }, Files: { command: 'b' } } }));
    const url = ['--url', 'http://127.0.0.1:1/mcp'];

    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it.each([
      [['--shadow'], /--shadow needs --direct <host config file>/],
      [['--direct', two], /--direct is for --shadow; for an offline fallback use --fallback <file>/],
      [['--shadow', '--direct', two, '--fallback', two], /--shadow and --fallback exclude each other/],
      [['--server', 'memory'], /--server and --as go with --direct or --fallback/],
      [['--fallback', join(dir, 'missing.json')], /cannot read .*missing\.json/],
      [['--fallback', two], /two\.json has several servers \(memory, Files\); pick one with --server <name>/],
      [['--fallback', two, '--server', 'Files'], /give the gateway's name for it with --as <name>/],
      [['--fallback', two, '--server', 'memory', '--spool-max-mb', '0'], /megabytes, 1 or more/],
    ])('refuses %j before starting anything (exit 2)', (args, message) => {
      const { status, stdout, stderr } = run(['bridge', ...url, ...args]);
      expect(status).not.toBe(0);
      expect(stderr).toMatch(message);
      expect(stdout).toBe('');
    });
  });

  it('exits cleanly when the host closes stdin before saying anything', () => {
    const { status, stdout, stderr } = run(['bridge', '--url', 'http://127.0.0.1:1/mcp']);
    expect(status).toBe(0);
    expect(stdout).toBe('');
    expect(stderr).toContain('host closed stdin');
  });

  it('refuses to start on a credentials file other users can read, saying how to fix it', () => {
    const xdg = mkdtempSync(join(tmpdir(), 'gatehouse-bridge-creds-'));
    try {
      mkdirSync(join(xdg, 'gatehouse'), { mode: 0o700 });
      const file = join(xdg, 'gatehouse', 'credentials.json');
      writeFileSync(file, JSON.stringify({ version: 1, logins: {} }), { mode: 0o644 });

      const { status, stdout, stderr } = run(['bridge', '--url', 'http://127.0.0.1:1/mcp'], {
        PATH: process.env.PATH ?? '',
        XDG_CONFIG_HOME: xdg,
      });

      expect(status).toBe(2);
      expect(stdout).toBe('');
      expect(stderr).toContain(`chmod 600 ${file}`);
    } finally {
      rmSync(xdg, { recursive: true, force: true });
    }
  });

  it('says at start how to log in when there is neither a token nor a login', () => {
    const xdg = mkdtempSync(join(tmpdir(), 'gatehouse-bridge-creds-'));
    try {
      const { status, stderr } = run(['bridge', '--url', 'http://127.0.0.1:1/mcp'], {
        PATH: process.env.PATH ?? '',
        XDG_CONFIG_HOME: xdg,
      });

      expect(status).toBe(0);
      expect(stderr).toContain(
        'no $GATEHOUSE_TOKEN and no stored login for http://127.0.0.1:1; if the gateway asks for sign-in, run `gatehouse login --url http://127.0.0.1:1`',
      );
    } finally {
      rmSync(xdg, { recursive: true, force: true });
    }
  });
});
