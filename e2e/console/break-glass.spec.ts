import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { devUserToken } from '../support/dev-idp';
import { rawPost, serverBin } from '../transport/helpers';
import {
  checkA11y,
  launchChromium,
  openPage,
  pageProblems,
  screenshot,
  signIn,
  startConsoleGateway,
  type ConsoleGateway,
  type Person,
} from './support';

/**
 * The incident responder's job in the browser (issue 15, points 9, 10, 13): erin opens a bypass
 * covering bob with one reason, bob's denied write then passes, the call appears under the grant,
 * erin revokes it with a reason, and an auditor signs off the review, while the auditor's open
 * page follows every change without a reload. The built gateway (in this process) on a scratch
 * Postgres database, the dev IdP's real sign-in page, the real `server-filesystem` upstream and a
 * policy letting bob's group only read it. `npm run build` first.
 *
 * dave (policy-approver) cannot sign off: the bypass API gives reviews to incident-responder,
 * admin and auditor (libs/bypass, bypass.controller.ts), so frank (auditor) does, and the test
 * checks that the API refuses dave.
 */

const POLICY = `- subject: { group: support }
  resource: { server: files }
  action: read
`;
const REASON = 'INC-4711: support cannot write the refund export, the policy denies write_file on files';
const DENIED = -32003;

// A gateway, an IdP, a browser and two people's sessions: more than Jest's default 5 s.
jest.setTimeout(180_000);

describe('break glass in the console', () => {
  let gw: ConsoleGateway;
  let browser: Browser;
  let dir: string;
  let files: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-break-glass-'));
    files = join(dir, 'files');
    const policies = join(dir, 'policy');
    mkdirSync(files);
    mkdirSync(policies);
    writeFileSync(join(policies, 'support.yaml'), POLICY);
    gw = await startConsoleGateway({
      yaml: `policy:
  dir: ${JSON.stringify(policies)}
upstreams:
  files:
    transport: stdio
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(serverBin('@modelcontextprotocol/server-filesystem'))}, ${JSON.stringify(files)}]
`,
    });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** bob writes a file through the gateway's /mcp with his own token: the JSON-RPC answer. */
  async function bobWrites(name: string) {
    const meta = {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientInfo': { name: 'break-glass-journey', version: '1' },
      'io.modelcontextprotocol/clientCapabilities': {},
    };
    const res = await rawPost(
      `${gw.url}/mcp`,
      JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: {
          name: 'files__write_file',
          arguments: { path: join(files, name), content: 'refund export\n' },
          _meta: meta,
        },
      }),
      {
        authorization: `Bearer ${await devUserToken(gw.idp, 'bob')}`,
        'mcp-protocol-version': '2026-07-28',
      },
    );
    return res.json as { result?: { isError?: boolean }; error?: { code: number; message: string } };
  }

  async function signedIn(user: Person): Promise<Page> {
    const { page } = await openPage(browser);
    await signIn(page, user, {
      origin: gw.url,
      goto: `${gw.url}/auth/login?returnTo=${encodeURIComponent('/console/break-glass')}`,
    });
    await page.waitForURL(`${gw.url}/console/break-glass`);
    await page.getByRole('heading', { name: 'Break glass', level: 2 }).waitFor();
    return page;
  }

  it('erin opens a bypass for bob, his write passes and shows under the grant, she revokes it, frank signs off', async () => {
    expect((await bobWrites('before.txt')).error?.code).toBe(DENIED);
    expect(existsSync(join(files, 'before.txt'))).toBe(false);

    const erin = await signedIn('erin');
    const section = (page: Page, name: string) => page.getByRole('region', { name });
    await section(erin, 'Active').getByText('No bypass is in effect.').waitFor();

    // One red button; the dialog states the defaults in words and the confirm button repeats them.
    const button = erin.getByRole('button', { name: 'Break glass', exact: true });
    const red = await erin.evaluate<string>(
      "getComputedStyle([...document.querySelectorAll('button')].find((b) => b.textContent === 'Break glass')).backgroundColor",
    );
    // Mantine's red.9: white on it passes the contrast check.
    expect(red).toBe('rgb(201, 42, 42)');
    await button.click();
    const dialog = erin.getByRole('dialog', { name: 'Break glass: open a bypass' });
    const summary = dialog.getByTestId('grant-summary');
    await expect(summary.innerText()).resolves.toMatch(
      /Lifts policy denies for Erin Evans \(you\)[\s\S]*On all servers and all tools[\s\S]*For 1 hour: until about .+ \(Europe\/Berlin\)[\s\S]*Rate limits still apply/,
    );
    await dialog
      .getByRole('button', { name: 'Open bypass for Erin Evans (you), all servers, 1 hour' })
      .waitFor();

    // Nothing is sent without a reason.
    await dialog.getByRole('button', { name: /^Open bypass for/ }).click();
    await dialog.getByText(/A reason is required/).waitFor();

    await dialog.getByLabel('Reason').fill(REASON);
    await dialog.getByLabel('Incident reference').fill('INC-4711');
    await checkA11y(erin, 'the break-glass dialog');
    await screenshot(erin, 'break-glass-dialog');
    await dialog.getByText('Advanced: scope, who is covered, duration, rate limits').click();
    await dialog.getByLabel('Named people or groups').check();
    const users = dialog.getByRole('combobox', { name: 'Users' });
    await users.fill('bob');
    await users.press('Enter');
    const confirm = dialog.getByRole('button', { name: 'Open bypass for bob, all servers, 1 hour' });
    await confirm.waitFor();
    await checkA11y(erin, 'the break-glass dialog with its advanced part');
    await confirm.click();

    // The new grant opens in the drawer, active, counting down from an hour.
    const drawer = erin.getByRole('dialog', { name: /^Grant / });
    await drawer.getByText(REASON).waitFor();
    await expect(drawer.getByRole('timer').first().innerText()).resolves.toMatch(/^(1:00:00|59:\d\d) left$/);
    const grantId = new URL(erin.url()).searchParams.get('grant') ?? '';
    expect(grantId).toMatch(/^[0-9a-f-]{36}$/);
    await drawer.getByText('No call has used this grant yet.').waitFor();

    // bob's denied write now passes, and appears under the grant without a reload.
    const written = await bobWrites('refunds.csv');
    expect(written.error).toBeUndefined();
    expect(written.result?.isError).not.toBe(true);
    expect(readFileSync(join(files, 'refunds.csv'), 'utf8')).toBe('refund export\n');
    const calls = drawer.getByRole('table', { name: 'Calls made under this grant' });
    await calls.getByRole('cell', { name: 'write_file' }).first().waitFor({ timeout: 15_000 });
    await expect(calls.innerText()).resolves.toMatch(/Bob Brown\s+files\s+write_file\s+bypass/);
    await checkA11y(erin, 'the grant drawer');
    await screenshot(erin, 'break-glass-grant');

    // erin opened it: she may revoke it but not sign off its review.
    expect(await drawer.getByRole('button', { name: 'Sign off the review' }).count()).toBe(0);
    expect(await drawer.getByRole('button', { name: /^Approve/ }).count()).toBe(0);
    await erin.keyboard.press('Escape');
    // Gone, not fading out (axe would read its half-transparent title).
    await erin.locator('.mantine-Drawer-content').waitFor({ state: 'detached' });
    await section(erin, 'Active').getByText(REASON).waitFor();
    await expect(section(erin, 'Active').getByRole('timer').innerText()).resolves.toMatch(/^5\d:\d\d left$/);
    await checkA11y(erin, 'the break-glass page');
    await screenshot(erin, 'break-glass-page');

    // frank (auditor) reads along: no button, the grant in the review queue.
    const frank = await signedIn('frank');
    expect(await frank.getByRole('button', { name: 'Break glass', exact: true }).count()).toBe(0);
    await frank
      .getByText(/Opening, approving and revoking a bypass needs the incident-responder or admin role/)
      .waitFor();
    await section(frank, 'Active').getByText(REASON).waitFor();
    await section(frank, 'Review queue').getByText(REASON).waitFor();

    // What the UI hides, the API refuses: frank may not revoke, erin may not review her own grant.
    const asUser = async (user: Person, step: string, body: unknown) => {
      const res = await fetch(`${gw.url}/api/v1/bypass/grants/${grantId}/${step}`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${await devUserToken(gw.idp, user)}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify(body),
      });
      return { status: res.status, code: ((await res.json()) as { error?: { code: string } }).error?.code };
    };
    expect(await asUser('frank', 'revoke', { reason: 'auditors cannot end grants' })).toEqual({
      status: 403,
      code: 'ROLE_REQUIRED',
    });
    expect(await asUser('erin', 'review', { note: 'my own grant, signed off by me' })).toEqual({
      status: 403,
      code: 'SELF_REVIEW',
    });

    // erin revokes it with a reason.
    await section(erin, 'Active')
      .getByRole('button', { name: /^Details/ })
      .click();
    await drawer.getByLabel('Why revoke it').fill('the export is written, the incident is closed');
    await drawer.getByRole('button', { name: 'Revoke now: end the bypass for bob' }).click();
    await drawer.getByText('revoke by Erin Evans').waitFor();
    await drawer.getByText('the export is written, the incident is closed').waitFor();
    expect((await bobWrites('after.txt')).error?.code).toBe(DENIED);

    // frank's page follows without a reload: the grant leaves Active for the ended list.
    await section(frank, 'Active').getByText('No bypass is in effect.').waitFor({ timeout: 12_000 });
    await section(frank, 'Expired and revoked')
      .getByText(/revoked by Erin Evans/)
      .waitFor();

    // The API refuses dave (policy-approver) the review; frank signs it off.
    expect(await asUser('dave', 'review', { note: 'looked fine to me, nothing to add' })).toEqual({
      status: 403,
      code: 'ROLE_REQUIRED',
    });

    await section(frank, 'Review queue')
      .getByRole('button', { name: /^Review/ })
      .click();
    const frankDrawer = frank.getByRole('dialog', { name: /^Grant / });
    await frankDrawer.getByRole('cell', { name: 'write_file' }).first().waitFor();
    expect(await frankDrawer.getByRole('button', { name: /^Revoke/ }).count()).toBe(0);
    await frankDrawer
      .getByLabel('Review note')
      .fill('One write_file by bob under INC-4711, matches the reason; revoked by the opener.');
    await frankDrawer.getByRole('button', { name: 'Sign off the review' }).click();
    await frankDrawer.getByText('Reviewed by Frank Fischer').waitFor();
    await frank.keyboard.press('Escape');
    await frank.locator('.mantine-Drawer-content').waitFor({ state: 'detached' });
    await section(frank, 'Review queue').getByText('Every grant has been reviewed.').waitFor();

    const grant = (await (
      await fetch(`${gw.url}/api/v1/bypass/grants/${grantId}`, {
        headers: { authorization: `Bearer ${await devUserToken(gw.idp, 'frank')}` },
      })
    ).json()) as {
      status: string;
      covers: { users: string[] };
      revokedBy: { subject: string };
      review: { reviewedBy: { subject: string } };
      history: { action: string; comment: string | null }[];
    };
    expect(grant).toMatchObject({
      status: 'revoked',
      covers: { users: ['bob'] },
      revokedBy: { subject: 'erin' },
      review: { reviewedBy: { subject: 'frank' } },
    });
    expect(grant.history.map((h) => h.action)).toEqual(['open', 'revoke', 'review']);
    expect(grant.history[1]?.comment).toBe('the export is written, the incident is closed');

    // No script error and nothing the CSP blocked. (The only 404s are /favicon.ico on the
    // gateway and the IdP: the console has none yet.)
    for (const page of [erin, frank]) {
      const { errors, csp } = pageProblems(page);
      expect(csp).toEqual([]);
      expect(errors.filter((e) => !/^Failed to load resource: .* 404 \(Not Found\)$/.test(e))).toEqual([]);
    }
  });
});
