import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { INGEST_PATH, type IngestCall, type IngestRequest } from '@gatehouse/audit';
import { SEED_POLICY } from '@gatehouse/policy';
import { devUserToken } from '../support/dev-idp';
import { recordingUpstream } from '../support/recording-upstream';
import {
  checkA11y,
  launchChromium,
  openPage,
  pageProblems,
  screenshot,
  signIn,
  startConsoleGateway,
  type ConsoleGateway,
} from './support';

/**
 * The auditor's journey (issue 15 points 5–7, 13): frank (auditor) asks "what did alice touch last
 * Thursday?" in Debian's Chromium against the built gateway (`npm run build` first) on a scratch
 * database of the real Postgres, signed in through the dev IdP's real page. alice's calls are
 * seeded through the bridge's fallback ingest at times chosen around the real "last Thursday" in
 * the browser's zone (Europe/Berlin), so the journey holds whatever day it runs.
 */

// A real gateway, IdP and browser on a shared two-core machine.
jest.setTimeout(120_000);

const TZ = 'Europe/Berlin';
type Upstream = Awaited<ReturnType<typeof recordingUpstream>>;

/** A CSV file as rows of fields (RFC 4180 quoting: the arguments column holds JSON). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 1;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else if (c !== '\r') field += c;
  }
  if (field !== '' || row.length > 0) rows.push([...row, field]);
  return rows;
}

/** "Thu 3 Dec" of an instant in Berlin, as the console writes it. */
function berlinDay(at: Date): string {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone: TZ,
    weekday: 'short',
    day: 'numeric',
    month: 'short',
  }).formatToParts(at);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  return `${get('weekday')} ${get('day')} ${get('month')}`;
}

describe('Activity: frank finds what alice touched last Thursday', () => {
  let gw: ConsoleGateway;
  let upstream: Upstream;
  let policyDir: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let downloads: string;
  /** "last Thursday" in Berlin, as the gateway resolves it: [from, to). */
  let thursday: { from: Date; to: Date };
  const seeded: Record<string, string> = {};

  const call = (server: string, tool: string, args: Record<string, unknown>, at: Date): IngestCall => ({
    id: randomUUID(),
    server,
    method: 'tools/call',
    params: { name: tool, arguments: args },
    startedAt: at.toISOString(),
    durationMs: 12,
    status: 'ok',
    responseBytes: 210,
  });

  async function ingest(user: string, calls: IngestCall[]): Promise<void> {
    const res = await fetch(`${gw.url}${INGEST_PATH}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${await devUserToken(gw.idp, user)}`,
      },
      body: JSON.stringify({
        mode: 'fallback',
        client: { name: 'claude-desktop', version: '1.4.2' },
        bridgeVersion: '0.9.0',
        calls,
      } satisfies IngestRequest),
    });
    const body = (await res.json()) as { stored?: number };
    expect({ status: res.status, stored: body.stored }).toEqual({ status: 200, stored: calls.length });
  }

  beforeAll(async () => {
    upstream = await recordingUpstream();
    policyDir = mkdtempSync(join(tmpdir(), 'gatehouse-activity-policy-'));
    writeFileSync(join(policyDir, 'seed.yaml'), SEED_POLICY);
    downloads = mkdtempSync(join(tmpdir(), 'gatehouse-activity-downloads-'));
    gw = await startConsoleGateway({
      yaml: `audit:
  # "last Thursday" can be up to 13 days back; the default takes reports of the last 7.
  ingest: { maxAgeHours: 720 }
policy:
  dir: ${JSON.stringify(policyDir)}
upstreams:
  postgres-prod:
    transport: http
    url: ${upstream.url}
    tags: { kind: postgres, env: prod }
  zendesk:
    transport: http
    url: ${upstream.url}
    tags: { env: prod }
`,
    });
    browser = await launchChromium();
    ({ context, page } = await openPage(browser, { timezoneId: TZ }));
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await gw?.close();
    upstream?.server.closeAllConnections();
    await new Promise((ok) => upstream?.server.close(ok));
    rmSync(policyDir, { recursive: true, force: true });
    rmSync(downloads, { recursive: true, force: true });
  });

  it('frank signs in, and alice’s calls are seeded around the real last Thursday in Berlin', async () => {
    await signIn(page, 'frank', {
      origin: gw.url,
      goto: `${gw.url}/auth/login?returnTo=${encodeURIComponent('/console/activity')}`,
    });
    // The gateway's own reading of "last Thursday" in the browser's zone, asked as frank.
    const asked = await context.request.get(
      `${gw.url}/api/v1/audit/period?phrase=${encodeURIComponent('last Thursday')}&tz=${encodeURIComponent(TZ)}`,
    );
    expect(asked.status()).toBe(200);
    const period = (await asked.json()) as { from: string; to: string; tz: string };
    expect(period.tz).toBe(TZ);
    thursday = { from: new Date(period.from), to: new Date(period.to) };
    expect(berlinDay(thursday.from).startsWith('Thu ')).toBe(true);
    expect(thursday.to.getTime() - thursday.from.getTime()).toBeGreaterThanOrEqual(23 * 3_600_000);

    const at = (hours: number) => new Date(thursday.from.getTime() + hours * 3_600_000);
    const revenue = call(
      'postgres-prod',
      'query',
      { sql: 'SELECT * FROM analytics.daily_revenue', password: 'hunter2' },
      at(9.25),
    );
    const customers = call(
      'postgres-prod',
      'query',
      { sql: 'SELECT id, email FROM public.customers' },
      at(11.5),
    );
    const tickets = call('zendesk', 'search_tickets', { query: 'refund' }, at(16));
    // Just outside the day, on either side: never part of the answer.
    const before = call('postgres-prod', 'query', { sql: 'SELECT * FROM hr.salaries' }, at(-0.5));
    const after = call('postgres-prod', 'query', { sql: 'SELECT * FROM hr.bonuses' }, at(24.5));
    seeded.revenue = revenue.id;
    // The console page stays idle while seeding: its own queries are audit records too.
    await page.goto('about:blank');
    // The day's records first, then those outside it: the period's chain check (verifyChains over
    // occurred_at) reads back-dated records written in between as a gap in the writer's sequence.
    await ingest('alice', [revenue, customers, tickets]);
    // Someone else the same day: not alice's.
    await ingest('bob', [call('postgres-prod', 'query', { sql: 'SELECT * FROM finance.ledger' }, at(10))]);
    await ingest('alice', [
      before,
      ...(after.startedAt < new Date(Date.now() - 60_000).toISOString() ? [after] : []),
    ]);
  });

  it('picks alice, types "last Thursday", sees the resolved range before running, then the answer first', async () => {
    await page.goto(`${gw.url}/console/activity`);
    const person = page.getByRole('combobox', { name: 'Person' });
    await person.click();
    await person.fill('ali');
    await page.getByRole('option', { name: /Alice Anders/ }).click();
    await page.waitForURL(/[?&]user=alice\b/);

    const periodBox = page.getByRole('textbox', { name: /Period/ });
    await periodBox.fill('last Thursday');
    const range = page.getByTestId('period-range');
    await expect(range.textContent({ timeout: 10_000 })).resolves.toBe(
      `${berlinDay(thursday.from)} 00:00 → ${berlinDay(thursday.to)} 00:00 (${TZ})`,
    );
    await page.getByRole('button', { name: 'Show activity' }).click();
    await page.waitForURL(/[?&]period=last\+Thursday\b/);

    const answer = page.getByTestId('answer');
    await answer.waitFor({ timeout: 15_000 });
    expect(await answer.textContent()).toBe(
      `alice touched 2 servers, 2 tools and 2 resources between ${berlinDay(thursday.from)} 00:00 and ${berlinDay(thursday.to)} 00:00 (${TZ}) — 3 calls.`,
    );
    const cells = async (table: string) =>
      (await page.getByRole('table', { name: table }).locator('tbody tr').allTextContents()).join('\n');
    const servers = await cells('servers');
    expect(servers).toMatch(/postgres-prod\s*2\s*0/);
    expect(servers).toMatch(/zendesk\s*1\s*0/);
    const tools = await cells('tools');
    expect(tools).toMatch(/postgres-prod\s*query\s*2/);
    expect(tools).toMatch(/zendesk\s*search_tickets\s*1/);
    const resources = await cells('resources');
    expect(resources).toContain('analytics.daily_revenue');
    expect(resources).toContain('public.customers');
    for (const other of ['hr.salaries', 'hr.bonuses', 'finance.ledger']) {
      expect(`${servers}${tools}${resources}`).not.toContain(other);
    }

    await page.getByTestId('integrity').waitFor({ timeout: 15_000 });
    expect(await page.getByTestId('integrity').textContent()).toMatch(/^chain verified · \d+ records$/);
    await page
      .getByRole('region', { name: 'calls over the period' })
      .locator('.recharts-bar-rectangle')
      .first()
      .waitFor({ state: 'attached' });

    await checkA11y(page, 'Activity');
    await screenshot(page, 'activity');
  });

  it('opens one record with its whole content, arguments redacted', async () => {
    await page
      .getByRole('table', { name: 'events' })
      .getByRole('row', { name: /intent.*postgres-prod\s*query/ })
      .last()
      .click();
    const detail = page.getByTestId('event-detail');
    await detail.waitFor();
    const text = (await detail.textContent()) ?? '';
    expect(text).toContain(seeded.revenue);
    expect(text).toContain('analytics.daily_revenue');
    expect(text).toContain('[redacted]');
    expect(text).not.toContain('hunter2');
    expect(text).toContain('matchedRules');
    expect(text).toContain('policyVersion');
    await checkA11y(page, 'Activity, record drawer');
    await screenshot(page, 'activity-record');
    await page.keyboard.press('Escape');
    await detail.waitFor({ state: 'detached' });
  });

  it('exports the filter as CSV with progress: alice’s six records of that day, nothing else', async () => {
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Export CSV' }).click(),
    ]);
    const file = join(downloads, download.suggestedFilename());
    await download.saveAs(file);
    expect(download.suggestedFilename()).toMatch(/^audit-alice-\d{4}-\d\d-\d\d\.csv$/);
    await expect(page.getByTestId('export-progress').textContent()).resolves.toMatch(
      /: 6 rows, .* downloaded$/,
    );

    const [header, ...rows] = parseCsv(readFileSync(file, 'utf8'));
    const col = (name: string) => (header ?? []).indexOf(name);
    expect(rows).toHaveLength(6);
    const from = thursday.from.getTime();
    const to = thursday.to.getTime();
    for (const row of rows) {
      expect(row[col('principal_subject')]).toBe('alice');
      const at = Date.parse(row[col('occurred_at')] ?? '');
      expect(at >= from && at < to).toBe(true);
    }
    expect(rows.filter((r) => r[col('kind')] === 'intent').map((r) => r[col('touched')])).toEqual(
      expect.arrayContaining([
        expect.stringContaining('analytics.daily_revenue'),
        expect.stringContaining('public.customers'),
      ]),
    );
    expect(readFileSync(file, 'utf8')).not.toContain('hunter2');
  });

  it('the view is a link: the same URL in a fresh page shows the same answer, filtered by the URL', async () => {
    const url = new URL(page.url());
    url.searchParams.set('server', 'zendesk');
    const fresh = await context.newPage();
    await fresh.goto(url.href);
    await fresh.getByTestId('answer').waitFor({ timeout: 15_000 });
    expect(await fresh.getByTestId('answer').textContent()).toContain('alice touched 2 servers');
    await fresh
      .getByRole('table', { name: 'events' })
      .getByRole('row', { name: /intent.*zendesk\s*search_tickets/ })
      .waitFor();
    const events = fresh.getByRole('table', { name: 'events' });
    expect(await events.getByRole('row', { name: /zendesk/ }).count()).toBe(2);
    expect(await events.getByRole('row', { name: /postgres-prod/ }).count()).toBe(0);
    expect(await fresh.getByRole('textbox', { name: /Period/ }).inputValue()).toBe('last Thursday');
    await fresh.close();
  });

  it('the page logged no errors and no CSP violations', () => {
    const { errors, csp, failed } = pageProblems(page);
    expect({ errors, csp }).toEqual({ errors: [], csp: [] });
    // The refusals the journey provokes on purpose (alice's probes) are the only failed answers.
    expect(failed.filter((f) => !/^403 .*\/api\/v1\//.test(f))).toEqual([]);
  });

  it('alice (no console role) is refused the same questions by the API', async () => {
    const { context: aliceContext, page: alicePage } = await openPage(browser, { timezoneId: TZ });
    try {
      await signIn(alicePage, 'alice', { origin: gw.url, goto: `${gw.url}/auth/login` });
      for (const path of [
        '/api/v1/audit/users/bob/summary?period=last%20Thursday&tz=Europe%2FBerlin',
        '/api/v1/audit/events?user=bob',
        '/api/v1/audit/events.csv?user=bob',
        '/api/v1/audit/principals?q=b',
        '/api/v1/audit/users/bob/timeline?period=last%20Thursday&tz=Europe%2FBerlin',
      ]) {
        const res = await aliceContext.request.get(`${gw.url}${path}`);
        expect({ path, status: res.status() }).toEqual({ path, status: 403 });
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('ROLE_REQUIRED');
      }
    } finally {
      await aliceContext.close();
    }
  });
});
