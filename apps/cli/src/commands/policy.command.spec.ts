import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { closedPort } from '../../../../e2e/support/closed-port';
import { runCli } from '../auth/__tests__/cli';

/**
 * `gatehouse policy test` and the usage of `policy push | diff`, the compiled CLI (`npm run build`
 * first), against the real policy files of e2e/policy-cli/fixtures. `policy test` is offline; the
 * runs that reach a gateway are in e2e/policy-cli/push-diff.spec.ts.
 */
const FIXTURES = join(__dirname, '../../../../e2e/policy-cli/fixtures');
const SEED = join(FIXTURES, 'seed');
const CONFIG = join(FIXTURES, 'gatehouse.yaml');

async function cli(args: string[]) {
  // A clean environment: the configuration's ${PROD_DATABASE_URL} and ${ZENDESK_TOKEN} are unset, as in CI.
  const run = runCli(['policy', ...args], {});
  const status = await run.exit;
  return { status, stdout: run.stdout(), stderr: run.stderr() };
}

describe('gatehouse policy test', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-policy-test-'));
    cpSync(SEED, dir, { recursive: true });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('passes every seed case with the gateway configuration (SQL classified, readOnlyTools, tags) and exits 0', async () => {
    const run = await cli(['test', SEED, '--config', CONFIG]);

    expect(run.status).toBe(0);
    expect(run.stdout).toContain(
      'pass  data-platform reads analytics through postgres-prod  (allow by data-platform-reads-prod)\n',
    );
    expect(run.stdout).toContain(
      'pass  a data-platform write to production is only shadowed for now  (shadow-deny by no rule)\n',
    );
    expect(run.stdout.match(/^pass {2}/gm)).toHaveLength(6);
    expect(run.stdout).toMatch(/\nok: 6 cases passed, 0 failed\n$/);
    // The case's own server is not in the configuration: said, not hidden.
    expect(run.stderr).toContain(`warning: scratch is not an upstream in ${CONFIG}`);
  });

  it('classifies like a gateway without the configuration: SQL on an untagged server is a write, and the case fails with expected vs actual', async () => {
    const run = await cli(['test', SEED]);

    expect(run.status).toBe(1);
    expect(run.stdout).toContain(
      `FAIL  data-platform reads analytics through postgres-prod  ${join(SEED, 'cases.test.yaml')}:2:3\n` +
        '      expected: allow by data-platform-reads-prod\n' +
        '      actual:   deny by no rule (write)\n' +
        '      reason:   no rule allows user "alice" to write postgres-prod/query\n',
    );
    expect(run.stdout).toMatch(/\nFAILED: 4 cases passed, 2 failed\n$/);
  });

  it('takes server tags from the case when it gives them', async () => {
    writeFileSync(
      join(dir, 'tags.test.yaml'),
      `- name: tagged in the case
  principal: { user: alice, groups: [data-platform] }
  server: postgres-prod
  tags: { kind: postgres, env: prod }
  tool: query
  args: { sql: 'SELECT * FROM analytics.daily_revenue' }
  expect: allow
`,
    );
    const run = await cli(['test', dir]);

    expect(run.stdout).toContain('pass  tagged in the case  (allow by data-platform-reads-prod)\n');
  });

  it('fails a case whose expected rules differ, naming both', async () => {
    writeFileSync(
      join(dir, 'wrong.test.yaml'),
      `- name: support on zendesk by the wrong rule
  principal: { user: bob, groups: [support] }
  server: zendesk
  tool: create_ticket
  expect: allow
  rules: [data-platform-reads-prod]
`,
    );
    const run = await cli(['test', dir, '--config', CONFIG]);

    expect(run.status).toBe(1);
    expect(run.stdout).toContain(
      `FAIL  support on zendesk by the wrong rule  ${join(dir, 'wrong.test.yaml')}:1:3\n` +
        '      expected: allow by data-platform-reads-prod\n' +
        '      actual:   allow by support-on-zendesk (write)\n',
    );
    expect(run.stdout).toMatch(/FAILED: 6 cases passed, 1 failed\n$/);
  });

  it('exits 2 with file:line:column for each problem of an invalid policy, and runs no case', async () => {
    const run = await cli(['test', join(FIXTURES, 'invalid')]);

    expect(run.status).toBe(2);
    expect(run.stderr).toContain(
      `${join(FIXTURES, 'invalid', 'policy.yaml')}:3:5: unknown key "subjet" in rule 1; did you mean "subject"?\n`,
    );
    expect(run.stderr).toContain('2 problems in');
    expect(run.stdout).toBe('');
  });

  it('exits 2 for an invalid test file, with its position', async () => {
    writeFileSync(
      join(dir, 'bad.test.yaml'),
      '- name: bad\n  principal: { user: bob }\n  server: zendesk\n  tool: x\n  expect: maybe\n',
    );
    const run = await cli(['test', dir]);

    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(
      new RegExp(`${escape(join(dir, 'bad.test.yaml'))}:5:11: "expect" must be allow, deny or shadow-deny`),
    );
  });

  it('exits 0 with a note when the policy parses but has no test case', async () => {
    rmSync(join(dir, 'cases.test.yaml'));
    const run = await cli(['test', dir]);

    expect(run.status).toBe(0);
    expect(run.stderr).toContain(`the policy parses, but ${dir} has no test case`);
  });

  it('exits 2 when the folder or the configuration cannot be used', async () => {
    const missing = await cli(['test', join(dir, 'nope')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('nope does not exist');

    const config = await cli(['test', dir, '--config', join(dir, 'nope.yaml')]);
    expect(config.status).toBe(2);
    expect(config.stderr).toContain('--config: cannot read');
  });

  it("reports an invalid configuration with the loader's message", async () => {
    const file = join(dir, '..', `${dir.split('/').pop()}-gatehouse.yml`);
    writeFileSync(file, 'upstreams:\n  pg:\n    transport: stdio\n    command: x\n    tags: [prod]\n');
    try {
      const run = await cli(['test', dir, '--config', file]);
      expect(run.status).toBe(2);
      expect(run.stderr).toMatch(/Invalid Gatehouse configuration in .*upstreams\.pg\.tags/s);
    } finally {
      rmSync(file, { force: true });
    }
  });
});

describe('gatehouse policy usage', () => {
  it('exits 2 on a usage mistake, so it never reads as "different" or "failing cases"', async () => {
    const diff = await cli(['diff', 'policies']);
    expect(diff.status).toBe(2);
    expect(diff.stderr).toContain("required option '--url <url>' not specified");

    const push = await cli(['push', 'policies', '--url', 'http://127.0.0.1:1']);
    expect(push.status).toBe(2);
    expect(push.stderr).toContain("required option '-m, --message <why>' not specified");

    const test = await cli(['test']);
    expect(test.status).toBe(2);
  });

  it('refuses two diff arguments that are not version numbers, before any request', async () => {
    const run = await cli(['diff', '--url', 'http://127.0.0.1:1', 'policies', '3']);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('"policies" is not a policy version number');
  });

  it('says when the gateway cannot be reached (push exits 1, diff 2)', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const push = await cli(['push', SEED, '-m', 'x', '--url', url]);
    expect(push.status).toBe(1);
    expect(push.stderr).toContain(`cannot reach the gateway at ${url} (ECONNREFUSED); check --url`);

    const diff = await cli(['diff', SEED, '--url', url]);
    expect(diff.status).toBe(2);
    expect(diff.stderr).toContain(`cannot reach the gateway at ${url} (ECONNREFUSED)`);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
