import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DataSource } from 'typeorm';
import { ActivePolicy, POLICY_SOURCE, type PolicySource } from '@gatehouse/policy';
import { createScratchDatabase, DEFAULT_SERVER_URL } from '@gatehouse/db';
import { gatewayWith } from '../transport/helpers';
import { policyDir, SEED_POLICY } from './support';

/**
 * First start: an empty database imports policy.dir as the active version 1; a missing directory
 * starts without policy; a directory with problems stops start-up naming every position.
 */

const BROKEN = {
  'ok.yaml': SEED_POLICY,
  'team/bad.yaml': '- subject: { group: support }\n  resource: { server: zendesk }\n  action: sometimes\n',
};

describe('first start', () => {
  it('starts without policy (current() undefined) when policy.dir does not exist, and says so in the log', async () => {
    const missing = join(tmpdir(), 'gatehouse-no-such-policy-dir');
    const gw = await gatewayWith(`policy:\n  dir: ${JSON.stringify(missing)}\n`);
    try {
      expect(gw.app.get<PolicySource>(POLICY_SOURCE).current()).toBeUndefined();
      const log = gw.logs.join('');
      expect(log).toContain(
        `no policy: the database has no policy version and policy.dir (${missing}) does not exist`,
      );
      expect(log).toContain('every call is denied until a version is activated');
    } finally {
      await gw.close();
    }
  });

  it('refuses to start when policy.dir has problems: exit 78 (configuration error) naming policy.dir and each file:line:column', async () => {
    const dir = policyDir(BROKEN);
    const db = await createScratchDatabase(DEFAULT_SERVER_URL, 'gh_policy_import');
    const work = mkdtempSync(join(tmpdir(), 'gatehouse-gw-'));
    const file = join(work, 'gatehouse.yaml');
    writeFileSync(
      file,
      `auth:\n  mode: none\nserver:\n  port: 0\ndatabase:\n  url: ${db.url}\npolicy:\n  dir: ${JSON.stringify(dir)}\n`,
    );
    try {
      const child = spawn(process.execPath, [resolve(__dirname, '../../dist/apps/gateway/src/main.js')], {
        env: { ...process.env, GATEHOUSE_CONFIG: file, GATEHOUSE_DATA_DIR: work },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const code = await new Promise<number | null>((done) => child.once('exit', done));
      expect(code).toBe(78);
      expect(stderr).toContain('policy.dir');
      expect(stderr).toMatch(/team\/bad\.yaml:3:11: /);
    } finally {
      await db.drop();
    }
  });

  it('fails closed when the stored active version no longer parses: no policy, and an error naming the version', async () => {
    const gw = await gatewayWith(
      `policy:\n  dir: ${JSON.stringify(policyDir({ 'seed.yaml': SEED_POLICY }))}\n`,
    );
    try {
      const active = gw.app.get(ActivePolicy);
      expect(active.current()?.version).toBe(1);
      // What an engine upgrade that grew stricter looks like: an active row the parser now refuses.
      await gw.app.get(DataSource).transaction(async (em) => {
        await em.query(`UPDATE policy_version SET status = 'superseded' WHERE number = 1`);
        await em.query(
          `INSERT INTO policy_version (status, files, message, author_subject, created_at) VALUES ('active', $1, 'x', 'test', now())`,
          [JSON.stringify({ 'seed.yaml': '- subject: { grup: x }\n' })],
        );
      });
      await active.reload('test');
      expect(active.current()).toBeUndefined();
      expect(gw.app.get<PolicySource>(POLICY_SOURCE).current()).toBeUndefined();
      expect(gw.logs.join('')).toContain('policy: active version 2 cannot be loaded; every call is denied');
    } finally {
      await gw.close();
    }
  });
});
