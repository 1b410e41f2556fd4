import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import axe from 'axe-core';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { repositoryRoot } from '../../../apps/gateway/src/console/console-files';
import type { Person } from './gateway';

/**
 * Debian's Chromium driven by playwright-core (never a downloaded browser), and the steps every
 * console journey shares: sign in through the dev IdP's real page, check accessibility with
 * axe-core, and write light and dark screenshots for docs/console.md.
 */

export const CHROMIUM = '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-dev-shm-usage'],
  });
}

/** What went wrong in the page: uncaught errors, console errors, CSP violations. */
export interface PageProblems {
  errors: string[];
  /** Console messages about the Content-Security-Policy (a blocked script or style). */
  csp: string[];
  /** Answers of 400 and above, as `<status> <url>`. */
  failed: string[];
}

const problems = new WeakMap<Page, PageProblems>();

/** A fresh context (its own cookies) and page, 1280×800, recording the page's problems. */
export async function openPage(
  browser: Browser,
  options: { colorScheme?: 'light' | 'dark'; timezoneId?: string } = {},
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 800 },
    colorScheme: options.colorScheme ?? 'light',
    timezoneId: options.timezoneId ?? 'Europe/Berlin',
    locale: 'en-GB',
    // The console respects reduced motion: no fade is half-way when axe reads the colours.
    reducedMotion: 'reduce',
  });
  const page = await context.newPage();
  const found: PageProblems = { errors: [], csp: [], failed: [] };
  problems.set(page, found);
  page.on('pageerror', (err) => found.errors.push(err.message));
  page.on('response', (res) => {
    if (res.status() >= 400) found.failed.push(`${res.status()} ${res.url()}`);
  });
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    // The failed answer itself is in `failed`, with its URL.
    if (/^Failed to load resource: the server responded with a status of/.test(text)) return;
    if (/Content Security Policy/i.test(text)) found.csp.push(text);
    else found.errors.push(text);
  });
  return { context, page };
}

export function pageProblems(page: Page): PageProblems {
  return problems.get(page) ?? { errors: [], csp: [], failed: [] };
}

/**
 * On the dev IdP's sign-in page (where the console sends a browser without a session), signs in
 * as `user` by pressing their button, and waits until the browser is back on the console at
 * `origin`. Pass `goto` to open a console URL first.
 */
export async function signIn(
  page: Page,
  user: Person,
  options: { origin: string; goto?: string },
): Promise<void> {
  if (options.goto !== undefined) await page.goto(options.goto);
  const button = page.locator('form button[type=submit]', { hasText: new RegExp(`^${user} — `) });
  await button.waitFor({ timeout: 20_000 });
  await button.click();
  await page.waitForURL((url) => url.origin === options.origin && url.pathname.startsWith('/console'), {
    timeout: 20_000,
  });
}

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[]; failureSummary?: string }[];
}

/**
 * Runs axe-core in the page and fails on any serious or critical violation, listing each with
 * the elements it found. axe is evaluated through the DevTools protocol rather than added as a
 * `<script>`: the console's CSP (rightly) refuses inline scripts.
 */
export async function checkA11y(page: Page, what = page.url()): Promise<void> {
  // The page is a browser, not Node: these run there, written as expressions.
  const loaded = await page.evaluate<boolean>("typeof window.axe !== 'undefined'");
  if (!loaded) await page.evaluate(axe.source);
  const violations = await page.evaluate<AxeViolation[]>(`window.axe
    .run(document, { resultTypes: ['violations'] })
    .then((result) => result.violations.map((v) => ({
      id: v.id,
      impact: v.impact || null,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target.map(String), failureSummary: n.failureSummary })),
    })))`);
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (bad.length > 0) {
    const list = bad
      .map(
        (v) =>
          `- [${v.impact}] ${v.id}: ${v.help}\n${v.nodes
            .slice(0, 5)
            .map(
              (n) =>
                `    ${n.target.join(' ')}${n.failureSummary ? `: ${n.failureSummary.replace(/\s+/g, ' ')}` : ''}`,
            )
            .join('\n')}`,
      )
      .join('\n');
    throw new Error(`axe-core found ${bad.length} serious or critical violation(s) on ${what}:\n${list}`);
  }
}

/** docs/console/, where the journeys' screenshots go (shown in docs/console.md). */
export const SCREENSHOT_DIR = join(repositoryRoot(), 'docs', 'console');

/**
 * Writes `docs/console/<name>-light.png` and `<name>-dark.png` of the page as it is: the colour
 * scheme is switched with prefers-color-scheme, which the console follows (Mantine's auto
 * scheme) unless the viewer picked one with the toggle. Returns the two paths.
 */
export async function screenshot(page: Page, name: string): Promise<string[]> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const written: string[] = [];
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    // A function, not a string: the console's CSP (no unsafe-eval) refuses string evaluation.
    await page.waitForFunction(
      (wanted) =>
        (
          globalThis as unknown as {
            document: { documentElement: { getAttribute(n: string): string | null } };
          }
        ).document.documentElement.getAttribute('data-mantine-color-scheme') === wanted,
      scheme,
      { timeout: 5_000 },
    );
    // Let transitions and charts settle.
    await page.waitForTimeout(400);
    const path = join(SCREENSHOT_DIR, `${name}-${scheme}.png`);
    await page.screenshot({ path, fullPage: true, animations: 'disabled' });
    written.push(path);
  }
  await page.emulateMedia({ colorScheme: 'light' });
  return written;
}
