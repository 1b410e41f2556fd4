import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createRemoteJWKSet, jwtVerify } from 'jose';

import { closedPort } from '../../../../e2e/support/closed-port';
import { startMountedDevIdp, type MountedDevIdp } from '../../../../e2e/support/dev-idp';
import { assertBuilt, CLI } from '../bridge/__tests__/host';

/**
 * `gatehouse dev-token`, the compiled binary, against the development IdP mounted under /dev-idp of a
 * bare Fastify server that also serves the gateway's RFC 9728 metadata (e2e/dev-idp/mounted-idp.ts):
 * the real gateway route is not wired yet, so this stands in for the gateway in dev mode.
 */
describe('gatehouse dev-token', () => {
  let dataDir: string;
  let gateway: MountedDevIdp;

  beforeAll(async () => {
    assertBuilt();
    dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-dev-token-'));
    gateway = await startMountedDevIdp({ dataDir });
  });
  afterAll(() => gateway?.close());

  function run(args: string[], env: NodeJS.ProcessEnv = {}) {
    return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [CLI, 'dev-token', ...args], {
        env: { PATH: process.env.PATH ?? '', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.once('close', (status) => resolve({ status, stdout, stderr }));
    });
  }

  it('prints the access token alone on stdout, the same a login would give', async () => {
    const { status, stdout, stderr } = await run(['alice', '--url', gateway.url, '--data-dir', dataDir]);
    expect(stderr).toBe('');
    expect(status).toBe(0);
    expect(stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const { payload, protectedHeader } = await jwtVerify(
      stdout.trim(),
      createRemoteJWKSet(new URL(`${gateway.issuer}/jwks`)),
      { issuer: gateway.issuer, audience: gateway.resource },
    );
    expect(protectedHeader.typ).toBe('at+jwt');
    expect(payload).toMatchObject({ sub: 'alice', groups: ['data-platform'], email: 'alice@example.com' });
  });

  it('takes the data directory from GATEHOUSE_DATA_DIR and the /mcp URL of the gateway', async () => {
    const { status, stdout } = await run(['frank', '--url', `${gateway.url}/mcp`], {
      GATEHOUSE_DATA_DIR: dataDir,
    });
    expect(status).toBe(0);
    expect(stdout.trim().split('.')).toHaveLength(3);
  });

  it('names the seeded users when the user is unknown', async () => {
    const { status, stdout, stderr } = await run(['mallory', '--url', gateway.url, '--data-dir', dataDir]);
    expect(status).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toContain(
      'unknown user "mallory"; the seeded users are alice, bob, carol, dave, erin, frank',
    );
  });

  it('says the gateway is down when nothing listens', async () => {
    const port = await closedPort();
    const { status, stdout, stderr } = await run([
      'alice',
      '--url',
      `http://127.0.0.1:${port}`,
      '--data-dir',
      dataDir,
    ]);
    expect(status).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(
      /cannot reach the gateway at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\); is it running/,
    );
  });

  it('says the gateway is not in dev mode when the data directory has no IdP secrets', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'gatehouse-dev-token-empty-'));
    const { status, stderr } = await run(['alice', '--url', gateway.url, '--data-dir', empty]);
    expect(status).toBe(1);
    expect(stderr).toContain('is not running the embedded development IdP (auth.mode dev)');
  });

  it('never sends the secret to an IdP other than the one that wrote it', async () => {
    const other = mkdtempSync(join(tmpdir(), 'gatehouse-dev-token-other-'));
    mkdirSync(join(other, 'dev-idp'));
    writeFileSync(
      join(other, 'dev-idp', 'secrets.json'),
      JSON.stringify({ issuer: 'http://127.0.0.1:1/dev-idp', secrets: { 'gatehouse-dev-token': 'x' } }),
    );
    const { status, stderr } = await run(['alice', '--url', gateway.url, '--data-dir', other]);
    expect(status).toBe(1);
    expect(stderr).toContain(`the gateway uses the IdP ${gateway.issuer}, but`);
    expect(stderr).toContain('belongs to the development IdP http://127.0.0.1:1/dev-idp');
  });

  it('says a gateway without authentication needs no token', async () => {
    const open = await startMountedDevIdp({ withoutMetadata: true });
    try {
      const { status, stderr } = await run(['alice', '--url', open.url, '--data-dir', dataDir]);
      expect(status).toBe(1);
      expect(stderr).toContain('publishes no /.well-known/oauth-protected-resource');
    } finally {
      await open.close();
    }
  });

  it('lists dev-token in the help', async () => {
    const { status, stdout } = await run(['--help']);
    expect(status).toBe(0);
    expect(stdout).toContain('gatehouse dev-token');
    expect(stdout).toContain('--data-dir');
  });
});
