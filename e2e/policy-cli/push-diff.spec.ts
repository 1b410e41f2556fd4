import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { credentialsPath, deviceLogin, runCli, storedLogins } from '../../apps/cli/src/auth/__tests__/cli';
import type { StoredLogin } from '../../apps/cli/src/auth/credential-store';
import { PolicyApi } from '../../apps/cli/src/policy/api-client';
import { PolicyCliErrorCode } from '../../apps/cli/src/policy/errors';
import { policyApi, policyDir, ROLES, SEED_POLICY, Tokens } from '../policy-lifecycle/support';
import { startDevIdp, type StartedDevIdp } from '../support/dev-idp';
import { gatewayWith } from '../transport/helpers';
import { freePort } from '../transport/processes';

/**
 * `gatehouse policy push` and `policy diff`, the compiled CLI (`npm run build` first), against a
 * real gateway (Fastify, scratch Postgres) whose first start imported the seed's policy as version
 * 1, with real tokens from the development IdP: the ci-bot service account (client credentials,
 * group policy-approver) pushes as CI would, people approve and activate through the admin API.
 */
const FIXTURES = join(__dirname, 'fixtures');

describe('gatehouse policy push and diff against a real gateway', () => {
  let idp: StartedDevIdp;
  let gw: Awaited<ReturnType<typeof gatewayWith>>;
  let tokens: Tokens;
  let policy: ReturnType<typeof policyApi>;
  let xdg: string;
  /** The repository's policy folder, as CI checks it out. */
  let repo: string;

  beforeAll(async () => {
    const port = await freePort();
    const resource = `http://127.0.0.1:${port}/mcp`;
    idp = await startDevIdp({ resource });
    gw = await gatewayWith(
      `auth:
  issuer: ${idp.issuer}
  audience: ${resource}
${ROLES}  serviceAccounts:
    ci-bot:
      groups: [policy-approver]
policy:
  dir: ${JSON.stringify(policyDir({ 'seed.yaml': SEED_POLICY }))}
`,
      {},
      [`port: ${port}`],
    );
    tokens = new Tokens(idp);
    policy = policyApi(gw.url, tokens);
  });
  afterAll(async () => {
    await gw?.close();
    await idp?.close();
  });

  beforeEach(() => {
    xdg = mkdtempSync(join(tmpdir(), 'gatehouse-policy-cli-'));
    repo = mkdtempSync(join(tmpdir(), 'gatehouse-policy-repo-'));
    cpSync(join(FIXTURES, 'seed'), repo, { recursive: true });
  });
  afterEach(() => {
    rmSync(xdg, { recursive: true, force: true });
    rmSync(repo, { recursive: true, force: true });
  });

  /** The compiled CLI with a clean environment: no stored login unless a test made one. */
  async function cli(args: string[], env: Record<string, string> = {}) {
    const run = runCli(['policy', ...args], { XDG_CONFIG_HOME: xdg, ...env });
    const status = await run.exit;
    return { status, stdout: run.stdout(), stderr: run.stderr() };
  }

  /** The raw access token of a dev IdP user or of the ci-bot service account. */
  const bearer = async (user: string) =>
    ((await tokens.as(user)).authorization ?? '').replace(/^Bearer /, '');
  const tokenOf = async (user: string) => ({ GATEHOUSE_TOKEN: await bearer(user) });
  const ciToken = () => tokenOf('ci-bot');
  const versions = async () => (await policy.get('frank', '/versions')).json as Array<{ number: number }>;

  it('CI tests offline, pushes as ci-bot, another person approves and activates, and diff then shows no difference', async () => {
    // The pipeline: test offline, see what would change, push.
    const tested = await cli(['test', repo, '--config', join(FIXTURES, 'gatehouse.yaml')]);
    expect(tested.status).toBe(0);
    const before = await cli(['diff', repo, '--url', gw.url], await ciToken());
    expect(before.status).toBe(1);
    expect(before.stdout).toContain('--- /dev/null\tversion 1\n+++ b/policy.yaml\t');
    expect(before.stdout).toContain('--- a/seed.yaml\tversion 1\n+++ /dev/null\t');
    expect(before.stderr).toContain(`differ between the active version 1 and ${repo}`);

    const pushed = await cli(
      ['push', repo, '-m', 'ids for the seed rules', '--url', gw.url],
      await ciToken(),
    );

    expect(pushed.stderr).not.toMatch(/error/i);
    expect(pushed.status).toBe(0);
    const [, number] = /^Proposed version (\d+): (\S+)$/m.exec(pushed.stdout) ?? [];
    expect(pushed.stdout).toContain(`${gw.url}/api/v1/policy/versions/${number}`);
    const stored = await policy.get('frank', `/versions/${number}`);
    expect(stored.json).toMatchObject({
      status: 'proposed',
      message: 'ids for the seed rules',
      author: { subject: 'ci-bot' },
      // The test cases stay in the repository.
      paths: ['approvers.yaml', 'enforcement.yaml', 'policy.yaml'],
    });

    expect((await policy.step('dave', Number(number), 'approve', 'reviewed in the PR')).status).toBe(200);
    expect((await policy.step('carol', Number(number), 'activate')).status).toBe(200);

    const after = await cli(['diff', repo, '--url', gw.url], await ciToken());
    expect(after).toMatchObject({ status: 0, stdout: '' });
    expect(after.stderr).toContain(`No differences between the active version ${number} and ${repo}.`);

    const between = await cli(['diff', '--url', gw.url, '1', String(number)], await tokenOf('frank'));
    expect(between.status).toBe(1);
    expect(between.stdout).toContain(`+++ b/policy.yaml\tversion ${number}`);
    expect(between.stderr).toContain(`4 files differ between version 1 and version ${number}.`);
    const same = await cli(
      ['diff', '--url', gw.url, number as string, number as string],
      await tokenOf('frank'),
    );
    expect(same).toMatchObject({ status: 0, stdout: '' });
  });

  it('pushes with the stored `gatehouse login` when $GATEHOUSE_TOKEN is not set', async () => {
    const login = await deviceLogin(gw.url, 'dave', { XDG_CONFIG_HOME: xdg });
    expect(login.status).toBe(0);

    const pushed = await cli(['push', repo, '-m', 'from my laptop', '--url', gw.url, '--no-propose']);

    expect(pushed.status).toBe(0);
    const [, number] = /^Created draft version (\d+): /m.exec(pushed.stdout) ?? [];
    expect((await policy.get('frank', `/versions/${number}`)).json).toMatchObject({
      status: 'draft',
      author: { subject: 'dave' },
    });
  });

  it('refreshes an expired stored login before pushing, as the bridge does', async () => {
    expect((await deviceLogin(gw.url, 'dave', { XDG_CONFIG_HOME: xdg })).status).toBe(0);
    // The access token has run out (and is not even a token any more): only the refresh token can help.
    const file = credentialsPath(xdg);
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { logins: Record<string, StoredLogin> };
    const entry = saved.logins[gw.url] as StoredLogin;
    entry.accessToken = 'expired';
    entry.expiresAt = new Date(Date.now() - 60_000).toISOString();
    writeFileSync(file, JSON.stringify(saved));

    const pushed = await cli(['push', repo, '-m', 'after lunch', '--url', gw.url, '--no-propose']);

    expect(pushed.status).toBe(0);
    expect(storedLogins(xdg)[gw.url]?.accessToken).not.toBe('expired');
  });

  it('refuses to push an invalid policy: every problem as file:line:column, exit 2, nothing stored', async () => {
    writeFileSync(
      join(repo, 'broken.yaml'),
      '- subjet: { group: support }\n  resource: { server: zendesk }\n  action: read\n',
    );
    const count = (await versions()).length;

    const pushed = await cli(['push', repo, '-m', 'typo', '--url', gw.url], await ciToken());

    expect(pushed.status).toBe(2);
    expect(pushed.stderr).toMatch(new RegExp(`^${escape(join(repo, 'broken.yaml'))}:1:3: .*subjet`, 'm'));
    expect(pushed.stderr).toContain('nothing pushed');
    expect(await versions()).toHaveLength(count);
  });

  it('names the role a push needs when the caller lacks it (403), and exits 1', async () => {
    const frank = await cli(['push', repo, '-m', 'x', '--url', gw.url], await tokenOf('frank'));
    expect(frank.status).toBe(1);
    expect(frank.stderr).toMatch(
      /cannot create a draft version: .*\(403\)\. It needs the console role policy-approver or admin/,
    );

    const alice = await cli(['push', repo, '-m', 'x', '--url', gw.url], await tokenOf('alice'));
    expect(alice.status).toBe(1);
    expect(alice.stderr).toContain('It needs the console role policy-approver or admin');
  });

  it('says which token was refused (401) and how to get another', async () => {
    const forged = await cli(['push', repo, '-m', 'x', '--url', gw.url], { GATEHOUSE_TOKEN: 'not-a-token' });
    expect(forged.status).toBe(1);
    expect(forged.stderr).toMatch(
      /the gateway refused the token in \$GATEHOUSE_TOKEN \(401: .*\); get a new one/,
    );

    const none = await cli(['diff', repo, '--url', gw.url]);
    expect(none.status).toBe(2);
    expect(none.stderr).toContain(`run \`gatehouse login --url ${gw.url}\`, or set $GATEHOUSE_TOKEN`);
  });

  it('diff exits 2 with the reason for a version that does not exist', async () => {
    const missing = await cli(['diff', '--url', gw.url, '1', '999'], await tokenOf('frank'));
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/cannot read policy versions: .*999/);
  });

  it("turns the gateway's 422 into problems with file, line and column", async () => {
    const api = new PolicyApi(gw.url, {
      token: () => bearer('carol'),
      renew: () => Promise.resolve(false),
      describe: "carol's token",
      remedy: 'none',
    });

    const refused = api.createDraft([{ path: 'bad.yaml', text: '- subject: { grup: x }\n' }], 'bad');

    await expect(refused).rejects.toMatchObject({
      code: PolicyCliErrorCode.POLICY_INVALID,
      problems: expect.arrayContaining([
        expect.objectContaining({
          file: 'bad.yaml',
          line: 1,
          column: 3,
          message: expect.stringMatching(/no "action"/),
        }),
      ]),
    });
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
