import type { Browser, BrowserContext, Page } from 'playwright-core';
import { AUDIT_SINK, type AuditRecord, type AuditSink } from '@gatehouse/audit';
import { intent, outcomeOf } from '../audit-query/support';
import { signIn as signInOverHttp } from '../console-login/support';
import { demoUpstreamsYaml } from '../transport/helpers';
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
 * The console's shell in Debian's Chromium against the real gateway (scratch Postgres, the built
 * console from dist/web) and the development IdP's real sign-in pages: sign-in and back to the
 * same URL, the overview, the no-role page and the API refusing the same person, sign-out,
 * session expiry mid-use, the headers, accessibility, and light/dark screenshots.
 * `npm run build` first.
 */
jest.setTimeout(180_000);

/** Seeded calls in the last hour: 12 ok, 3 denied, 2 rate-limited, 1 error. */
function seededCalls(): AuditRecord[] {
  const records: AuditRecord[] = [];
  const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000).toISOString();
  const add = (n: number, outcome: AuditRecord['outcome'], error?: string) => {
    for (let i = 0; i < n; i++) {
      const call = intent('bob', at(2 + ((i * 7) % 40)), 'memory', 'read_graph', [], outcome);
      records.push(call, outcomeOf(call, error));
    }
  };
  add(12, 'allowed');
  add(3, 'denied');
  add(2, 'rate_limited');
  add(1, 'allowed', 'upstream failed');
  return records;
}

/** No uncaught error and no CSP violation in the page so far. */
function expectCleanPage(page: Page): void {
  const { errors, csp, failed } = pageProblems(page);
  expect(csp).toEqual([]);
  expect(errors).toEqual([]);
  // Expected refusals: who-am-I before sign-in (401), the test's own probes of refused APIs (403).
  expect(failed.filter((f) => !/^401 .*\/api\/v1\/me$|^403 .*\/api\/v1\//.test(f))).toEqual([]);
}

describe('the console shell in a browser', () => {
  let gw: ConsoleGateway;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const open = async (options?: Parameters<typeof openPage>[1]) => {
    const opened = await openPage(browser, options);
    contexts.push(opened.context);
    return opened.page;
  };

  beforeAll(async () => {
    gw = await startConsoleGateway({ yaml: demoUpstreamsYaml() });
    await gw.app.get<AuditSink>(AUDIT_SINK).append(seededCalls());
    browser = await launchChromium();
  });
  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await gw?.close();
  });

  it('serves /console with a strict CSP, no-referrer, nosniff; deep links get the page; hashed assets are immutable, the page is not cached', async () => {
    const root = await fetch(`${gw.url}/`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/console/');

    for (const path of ['/console', '/console/', '/console/activity?server=github&decision=denied#row-3']) {
      const res = await fetch(`${gw.url}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(res.headers.get('cache-control')).toBe('no-cache');
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp).toMatch(/(^|; )default-src 'self'(;|$)/);
      expect(csp).toMatch(/(^|; )script-src 'self'(;|$)/);
      expect(csp).toMatch(/(^|; )style-src 'self' 'nonce-[A-Za-z0-9+/=]{24}'(;|$)/);
      expect(csp).toMatch(/frame-ancestors 'none'/);
      expect(csp).toMatch(/base-uri 'none'/);
      expect(csp).toMatch(/form-action 'self'/);
      expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      const html = await res.text();
      // The page carries its own response's nonce, and no inline script.
      const nonce = /'nonce-([^']+)'/.exec(csp)?.[1];
      expect(html).toContain(`<meta name="csp-nonce" content="${nonce}"`);
      expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    }
    // A fresh nonce per response.
    const [a, b] = await Promise.all([fetch(`${gw.url}/console/`), fetch(`${gw.url}/console/`)]);
    expect(a.headers.get('content-security-policy')).not.toBe(b.headers.get('content-security-policy'));

    const html = await (await fetch(`${gw.url}/console/`)).text();
    const script = /<script[^>]+src="(\/console\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toMatch(/\/console\/assets\/index-[\w-]+\.js$/);
    const asset = await fetch(`${gw.url}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(asset.headers.get('content-type')).toMatch(/javascript/);
    expect(asset.headers.get('x-content-type-options')).toBe('nosniff');
    expect(asset.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);

    // A missing asset is a 404, never the page (a stale tab must not run HTML as script).
    const missing = await fetch(`${gw.url}/console/assets/index-missing.js`);
    expect(missing.status).toBe(404);
    expect(await missing.text()).not.toContain('<html');
  });

  it('GET /api/v1/overview counts the last hour from the audit trail and refuses a bad query', async () => {
    const frank = await signInOverHttp(gw, 'frank');
    const get = async (query = '') => {
      const res = await fetch(`${gw.url}/api/v1/overview${query}`, {
        headers: { cookie: frank.jar.header() },
      });
      return { status: res.status, body: (await res.json()) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
    };
    const hour = await get();
    expect(hour.status).toBe(200);
    expect(hour.body.totals).toEqual({ calls: 18, denied: 3, rateLimited: 2, errors: 1, bypassed: 0 });
    expect(hour.body.perMinute).toHaveLength(60);
    expect(Date.parse(hour.body.to) - Date.parse(hour.body.from)).toBe(3_600_000);
    expect(hour.body.latency).toEqual({
      gateway: { p50Ms: 0.12, p99Ms: 0.12 },
      upstream: { p50Ms: 4, p99Ms: 4 },
    });
    expect(hour.body.bypass).toEqual({ active: 0, pendingApproval: 0 });
    expect(hour.body.replicas).toHaveLength(1);
    expect(hour.body.replicas[0].live).toBe(true);
    expect(hour.body.export.enabled).toBe(false);
    expect(hour.body.upstreams).toEqual(
      expect.arrayContaining([expect.objectContaining({ server: 'everything', state: 'on-demand' })]),
    );

    const five = await get('?minutes=5');
    expect(five.status).toBe(200);
    expect(five.body.perMinute).toHaveLength(5);

    for (const bad of ['?minutes=2', '?minutes=61', '?minutes=soon', '?since=2020-01-01']) {
      const refused = await get(bad);
      expect(refused.status).toBe(400);
      expect(refused.body.error.code).toBe('INVALID_QUERY');
    }
  });

  it('carol opens the console, signs in at the IdP page, lands on the overview with the last hour from the audit trail', async () => {
    const page = await open();
    await page.goto(`${gw.url}/console/`);
    // No session: off to the development IdP's real sign-in page.
    await page.waitForURL((url) => url.href.startsWith(gw.idp.issuer));
    await signIn(page, 'carol', { origin: gw.url });
    expect(new URL(page.url()).pathname).toBe('/console/');

    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    const stat = (label: string) =>
      page.locator('.mantine-Card-root', { has: page.getByText(label, { exact: true }) }).first();
    await expect(stat('Calls').innerText()).resolves.toContain('18');
    await expect(stat('Denied').innerText()).resolves.toContain('3');
    await expect(stat('Rate-limited').innerText()).resolves.toContain('2');
    await expect(stat('Errors').innerText()).resolves.toContain('1');
    // Gateway 0.12 ms, upstream 4 ms for every seeded forwarded call.
    await expect(stat('Upstream p50 / p99').innerText()).resolves.toContain('4 / 4 ms');
    // The chart's own chunk loaded and drew bars.
    await page.locator('.recharts-bar-rectangle path').first().waitFor();
    // Upstream health: memory is shared (connected at start), everything per-session (on demand).
    await page.getByRole('cell', { name: 'memory' }).waitFor();
    await page.getByText('on-demand').waitFor();
    // Times in the viewer's zone, UTC on hover.
    const time = page.locator('[data-testid="overview-period"] time').first();
    expect(await time.getAttribute('title')).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);

    // Navigation for an admin: every screen.
    const nav = page.getByRole('navigation', { name: 'Screens' });
    expect(await nav.getByRole('link').allTextContents()).toEqual([
      'Overview',
      'Activity',
      'Break glass',
      'Policiessoon',
    ]);

    await checkA11y(page, 'overview');
    await screenshot(page, 'overview');

    // Who am I.
    await page.getByTestId('user-menu').click();
    const who = page.getByTestId('who-am-i');
    await who.waitFor();
    const text = await who.innerText();
    expect(text).toContain('Carol Chen');
    expect(text).toContain('carol@example.com');
    expect(text).toMatch(/groups: admin/);
    expect(text).toContain('admin');
    expect(text).toMatch(/Session ends/);
    await checkA11y(page, 'who-am-I menu');
    await page.keyboard.press('Escape');

    // The light/dark toggle.
    const scheme = () =>
      page.evaluate<string | null>("document.documentElement.getAttribute('data-mantine-color-scheme')");
    expect(await scheme()).toBe('light');
    await page.getByRole('button', { name: 'Switch to the dark theme' }).click();
    expect(await scheme()).toBe('dark');
    await page.getByRole('button', { name: 'Switch to the light theme' }).click();
    expect(await scheme()).toBe('light');

    expectCleanPage(page);
  });

  it('a deep link survives sign-in: the browser comes back to the same path, query and fragment', async () => {
    const page = await open();
    const deep = `${gw.url}/console/break-glass?grant=7f0c&tab=pending#top`;
    const logins: string[] = [];
    page.on('request', (r) => {
      if (new URL(r.url()).pathname === '/auth/login') logins.push(r.url());
    });
    await page.goto(deep);
    await signIn(page, 'erin', { origin: gw.url });
    expect(page.url()).toBe(deep);
    expect(new URL(logins[0] ?? '').searchParams.get('returnTo')).toBe(
      '/console/break-glass?grant=7f0c&tab=pending#top',
    );
    // A responder's navigation: overview and break glass only.
    const nav = page.getByRole('navigation', { name: 'Screens' });
    await nav.waitFor();
    expect(await nav.getByRole('link').allTextContents()).toEqual(['Overview', 'Break glass']);
    expectCleanPage(page);
  });

  it('a screen the roles do not open names the role needed, and the server refuses the same', async () => {
    const page = await open();
    await page.goto(`${gw.url}/console/activity`);
    await signIn(page, 'dave', { origin: gw.url });
    await page.getByText('This needs the console role auditor or admin', { exact: false }).waitFor();
    expect(await page.getByText('ROLE_REQUIRED').count()).toBe(1);
    await checkA11y(page, 'a screen without the role');
    const nav = page.getByRole('navigation', { name: 'Screens' });
    expect(await nav.getByRole('link').allTextContents()).toEqual(['Overview', 'Policiessoon']);
    const refused = await page.request.get(`${gw.url}/api/v1/audit/events`);
    expect(refused.status()).toBe(403);
    expect((await refused.json()).error.code).toBe('ROLE_REQUIRED');
  });

  it('alice (no console role) gets the plain page naming the roles and who grants them, and the API refuses her', async () => {
    const page = await open();
    await page.goto(`${gw.url}/console/`);
    await signIn(page, 'alice', { origin: gw.url });
    await page.getByRole('heading', { name: 'You are signed in, but have no console role' }).waitFor();
    const body = await page.locator('body').innerText();
    for (const role of ['auditor', 'incident-responder', 'policy-approver', 'admin'])
      expect(body).toContain(role);
    expect(body).toContain('auth.roles');
    expect(body).toContain('Alice Anders');
    expect(body).toMatch(/groups: data-platform/);
    expect(await page.getByRole('navigation', { name: 'Screens' }).count()).toBe(0);

    // The same session, straight at the API: refused with the role named.
    const overview = await page.request.get(`${gw.url}/api/v1/overview`);
    expect(overview.status()).toBe(403);
    const problem = (await overview.json()).error;
    expect(problem.code).toBe('ROLE_REQUIRED');
    expect(problem.message).toMatch(/admin or policy-approver or incident-responder or auditor/);
    expect(problem.message).toMatch(/you have no console role/);

    await checkA11y(page, 'no-role page');
    await screenshot(page, 'no-role');
    expectCleanPage(page);
  });

  it('signs out: POST /auth/logout with the CSRF token, the IdP ends its session, and the console asks for a sign-in again', async () => {
    const page = await open();
    await page.goto(`${gw.url}/console/`);
    await signIn(page, 'frank', { origin: gw.url });
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    const logout = page.waitForRequest((r) => new URL(r.url()).pathname === '/auth/logout');
    await page.getByTestId('user-menu').click();
    await page.getByRole('button', { name: 'Sign out' }).click();
    const request = await logout;
    expect(request.method()).toBe('POST');
    expect(request.headers()['x-csrf-token']).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // The IdP's end-session page asks to confirm; then back at the gateway, which wants a sign-in.
    await page.waitForURL((url) => url.href.startsWith(gw.idp.issuer));
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.locator('form button[type=submit]', { hasText: /^frank — / }).waitFor();
    const me = await page.request.get(`${gw.url}/api/v1/me`);
    expect(me.status()).toBe(401);
  });

  it('shows the gateway-down banner while the gateway cannot be reached, and recovers by itself', async () => {
    const page = await open();
    await page.goto(`${gw.url}/console/`);
    await signIn(page, 'carol', { origin: gw.url });
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    // The network between this browser and the gateway fails (the gateway itself keeps serving the others).
    await page.route('**/api/v1/overview', (route) => route.abort('connectionrefused'));
    await page.route('**/healthz', (route) => route.abort('connectionrefused'));
    await page.evaluate("window.dispatchEvent(new Event('focus'))");
    await page.getByTestId('gateway-down').waitFor({ timeout: 60_000 });
    await page.unroute('**/api/v1/overview');
    await page.unroute('**/healthz');
    await page.getByTestId('gateway-down').waitFor({ state: 'detached', timeout: 20_000 });
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
  });
});

describe('a console session that ends mid-use', () => {
  let gw: ConsoleGateway;
  let browser: Browser;

  beforeAll(async () => {
    gw = await startConsoleGateway({ consoleKeys: ['idleTimeoutSeconds: 3'] });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await gw?.close();
  });

  it('sends the person to sign in and back to the same URL', async () => {
    const { page, context } = await openPage(browser);
    try {
      const here = `${gw.url}/console/?view=compact#calls`;
      await page.goto(here);
      await signIn(page, 'carol', { origin: gw.url });
      expect(page.url()).toBe(here);
      await page.getByRole('heading', { name: 'Overview' }).waitFor();
      const first = await page.request.get(`${gw.url}/api/v1/me`);
      const sessionBefore = (await first.json()).session.createdAt as string;

      // Idle past the timeout; the overview's next refresh answers 401 and the shell signs in again.
      await new Promise((r) => setTimeout(r, 4_000));
      const login = await page.waitForRequest((r) => new URL(r.url()).pathname === '/auth/login', {
        timeout: 30_000,
      });
      expect(new URL(login.url()).searchParams.get('returnTo')).toBe('/console/?view=compact#calls');
      // The IdP may still know carol (single sign-on) and answer at once, or ask again.
      const button = page.locator('form button[type=submit]', { hasText: /^carol — / });
      await Promise.race([
        page.waitForURL(here, { timeout: 20_000 }),
        button.waitFor({ timeout: 20_000 }).then(() => button.click()),
      ]);
      await page.waitForURL(here, { timeout: 20_000 });
      await page.getByRole('heading', { name: 'Overview' }).waitFor();
      const again = await page.request.get(`${gw.url}/api/v1/me`);
      expect(again.status()).toBe(200);
      expect((await again.json()).session.createdAt).not.toBe(sessionBefore);
    } finally {
      await context.close();
    }
  });
});
