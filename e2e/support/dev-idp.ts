import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

import { DEV_USER_GRANT, type DevIdpSecrets } from '../../libs/auth/src/dev-idp/users';

/**
 * Test harness for the development IdP (a real oidc-provider). oidc-provider does not load inside
 * Jest, so the IdP always runs as its own process from `dist/` (`npm run build` first).
 */

const BUILT_MAIN = 'libs/auth/src/dev-idp/main.js';
/** From the source tree (Jest) under `dist/`; from `dist/` itself (a built bench) beside it. */
export const DEV_IDP_MAIN = existsSync(resolve(__dirname, '../..', BUILT_MAIN))
  ? resolve(__dirname, '../..', BUILT_MAIN)
  : resolve(__dirname, '../../dist', BUILT_MAIN);

export interface StartDevIdpOptions {
  /** The gateway's resource URI: access tokens carry it as `aud`. */
  resource: string;
  accessTokenTtlSeconds?: number;
  /** The gateway base URL for the console's redirect URIs; default: the resource's origin. */
  consoleBase?: string;
  /** Keys and secrets are written under `<dataDir>/dev-idp/` and keys are reused from there. */
  dataDir?: string;
  /** Extra environment for the IdP process. */
  env?: NodeJS.ProcessEnv;
}

export interface StartedDevIdp {
  issuer: string;
  resource: string;
  secrets: DevIdpSecrets;
  /** Everything the IdP wrote to stderr so far. */
  output(): string;
  /** SIGTERM, and resolves once the process is gone. */
  close(): Promise<void>;
}

/** What the token helpers need: a running IdP (standalone or mounted in a gateway) and its secrets. */
export interface DevIdpEndpoint {
  issuer: string;
  secrets: DevIdpSecrets;
  resource?: string;
}

/** Runs a built script that prints one JSON line once it serves; `close()` sends SIGTERM and waits. */
async function spawnServing<T>(script: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  if (!existsSync(script)) throw new Error(`${script} is missing: run \`npm run build\` first`);
  const child = spawn(process.execPath, [script, ...args], {
    env: { ...process.env, NODE_ENV: 'test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));

  const first = await new Promise<T>((ok, fail) => {
    let stdout = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`${script} did not start within 30 s:\n${stderr}`));
    }, 30_000);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const end = stdout.indexOf('\n');
      if (end < 0) return;
      clearTimeout(timer);
      try {
        ok(JSON.parse(stdout.slice(0, end)) as T);
      } catch {
        fail(new Error(`${script} printed something other than its JSON line: ${stdout}`));
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      fail(new Error(`${script} exited (${signal ?? code}) before serving:\n${stderr}`));
    });
  });

  return {
    first,
    output: () => stderr,
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Runs `dist/libs/auth/src/dev-idp/main.js` on a free port and resolves once it serves. */
export async function startDevIdp(options: StartDevIdpOptions): Promise<StartedDevIdp> {
  const args = ['--port', '0', '--host', '127.0.0.1', '--resource', options.resource];
  if (options.accessTokenTtlSeconds !== undefined) {
    args.push('--access-token-ttl', String(options.accessTokenTtlSeconds));
  }
  if (options.consoleBase !== undefined) args.push('--console-base', options.consoleBase);
  if (options.dataDir !== undefined) args.push('--data-dir', options.dataDir);
  const { first, output, close } = await spawnServing<{ issuer: string; secrets: DevIdpSecrets }>(
    DEV_IDP_MAIN,
    args,
    options.env,
  );
  return { issuer: first.issuer, secrets: first.secrets, resource: options.resource, output, close };
}

export const MOUNTED_DEV_IDP = resolve(__dirname, '../../dist/e2e/dev-idp/mounted-idp.js');

export interface MountedDevIdp extends StartedDevIdp {
  /** The Fastify server's base URL; the IdP's issuer is `<url>/dev-idp`, the resource `<url>/mcp`. */
  url: string;
}

/**
 * The IdP mounted under /dev-idp of a bare Fastify server with the gateway's RFC 9728 metadata
 * (`e2e/dev-idp/mounted-idp.ts`): a stand-in for the gateway in dev mode.
 */
export async function startMountedDevIdp(
  options: { dataDir?: string; withoutMetadata?: boolean; broken?: boolean } = {},
): Promise<MountedDevIdp> {
  const args: string[] = [];
  if (options.dataDir !== undefined) args.push('--data-dir', options.dataDir);
  if (options.withoutMetadata) args.push('--without-metadata');
  if (options.broken) args.push('--broken');
  const { first, output, close } = await spawnServing<{
    url: string;
    issuer: string;
    resource: string;
    secrets: DevIdpSecrets;
  }>(MOUNTED_DEV_IDP, args);
  return { ...first, output, close };
}

const discoveries = new Map<string, Promise<Record<string, unknown>>>();

/** The IdP's discovery document (cached per issuer). */
export function discover(issuer: string): Promise<Record<string, unknown>> {
  let found = discoveries.get(issuer);
  if (found === undefined) {
    found = fetch(`${issuer}/.well-known/openid-configuration`).then(async (response) => {
      if (!response.ok)
        throw new Error(`discovery of ${issuer} failed: ${response.status} ${await response.text()}`);
      return (await response.json()) as Record<string, unknown>;
    });
    found.catch(() => discoveries.delete(issuer));
    discoveries.set(issuer, found);
  }
  return found;
}

async function tokenRequest(idp: DevIdpEndpoint, clientId: string, secret: string, form: URLSearchParams) {
  const { token_endpoint: endpoint } = await discover(idp.issuer);
  const response = await fetch(String(endpoint), {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: form,
  });
  const body = (await response.json()) as {
    access_token?: string;
    error?: string;
    error_description?: string;
  };
  if (!response.ok || body.access_token === undefined) {
    throw new Error(`token request for ${clientId} failed: ${response.status} ${JSON.stringify(body)}`);
  }
  return body.access_token;
}

/** A person's access token through the development-only grant, as `gatehouse dev-token` gets it. */
export function devUserToken(idp: DevIdpEndpoint, user: string): Promise<string> {
  return tokenRequest(
    idp,
    'gatehouse-dev-token',
    idp.secrets['gatehouse-dev-token'],
    new URLSearchParams({ grant_type: DEV_USER_GRANT, username: user }),
  );
}

/** A service account's access token (client credentials) for the gateway resource. */
export function serviceToken(
  idp: DevIdpEndpoint,
  clientId: 'ci-bot' | 'opaque-client' = 'ci-bot',
): Promise<string> {
  const form = new URLSearchParams({ grant_type: 'client_credentials' });
  if (idp.resource !== undefined) form.set('resource', idp.resource);
  return tokenRequest(idp, clientId, idp.secrets[clientId], form);
}

// ---------------------------------------------------------------------------------------------
// A small browser: cookie jar, redirects, and the forms of the IdP's pages (which need no JS).

interface Cookie {
  name: string;
  value: string;
  host: string;
  path: string;
  secure: boolean;
  expiresAt?: number;
}

export interface Form {
  id?: string;
  action: string;
  method: 'GET' | 'POST';
  fields: Array<[string, string]>;
}

export interface Page {
  url: URL;
  status: number;
  html: string;
  /** Set when navigation stopped at a redirect it was told not to follow. */
  stoppedAt?: URL;
}

export interface NavigateOptions {
  method?: 'GET' | 'POST';
  body?: URLSearchParams;
  /** Redirect targets for which navigation stops instead of following (e.g. the client's redirect_uri). */
  stopAt?: (target: URL) => boolean;
}

function decodeEntities(value: string): string {
  return value.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos|#39);/gi, (_m, entity: string) => {
    const lower = entity.toLowerCase();
    if (lower.startsWith('#x')) return String.fromCodePoint(parseInt(lower.slice(2), 16));
    if (lower.startsWith('#')) return String.fromCodePoint(parseInt(lower.slice(1), 10));
    return { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[lower] ?? '';
  });
}

function attributes(tag: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const m of tag.matchAll(/([^\s=/>]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g)) {
    const name = m[1];
    if (name !== undefined) found.set(name.toLowerCase(), decodeEntities(m[2] ?? m[3] ?? m[4] ?? ''));
  }
  return found;
}

/** The forms of a page with their inputs (buttons are added by `submit`). */
export function parseForms(html: string): Form[] {
  return [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)].map((m) => {
    const attrs = attributes(m[1] ?? '');
    const fields: Array<[string, string]> = [];
    for (const input of (m[2] ?? '').matchAll(/<input\b([^>]*)>/gi)) {
      const a = attributes(input[1] ?? '');
      const name = a.get('name');
      if (name !== undefined) fields.push([name, a.get('value') ?? '']);
    }
    return {
      ...(attrs.has('id') ? { id: attrs.get('id') } : {}),
      action: attrs.get('action') ?? '',
      method: (attrs.get('method') ?? 'get').toUpperCase() === 'POST' ? 'POST' : 'GET',
      fields,
    };
  });
}

/** A page's visible text, shortened: for error messages. */
export function pageText(page: Page): string {
  const text = page.html
    .replace(/<(script|style)[\s\S]*?<\/\1>/gi, '')
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return `${page.status} at ${page.url.href}: ${decodeEntities(text).slice(0, 400)}`;
}

/** A cookie-keeping HTTP client that follows redirects the way a browser does. */
export class Browser {
  private cookies: Cookie[] = [];

  /** Cookies the browser would send to `url`. */
  cookieHeader(url: URL): string {
    const now = Date.now();
    this.cookies = this.cookies.filter((c) => c.expiresAt === undefined || c.expiresAt > now);
    return this.cookies
      .filter(
        (c) =>
          c.host === url.hostname &&
          (!c.secure || url.protocol === 'https:') &&
          (url.pathname === c.path || url.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`)),
      )
      .sort((a, b) => b.path.length - a.path.length)
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  private store(url: URL, header: string): void {
    const [pair = '', ...parts] = header.split(';');
    const at = pair.indexOf('=');
    if (at <= 0) return;
    const cookie: Cookie = {
      name: pair.slice(0, at).trim(),
      value: pair.slice(at + 1).trim(),
      host: url.hostname,
      path: url.pathname.slice(0, url.pathname.lastIndexOf('/')) || '/',
      secure: false,
    };
    for (const part of parts) {
      const [key = '', ...rest] = part.split('=');
      const value = rest.join('=').trim();
      switch (key.trim().toLowerCase()) {
        case 'path':
          if (value.startsWith('/')) cookie.path = value;
          break;
        case 'max-age':
          cookie.expiresAt = Date.now() + Number(value) * 1000;
          break;
        case 'expires':
          cookie.expiresAt ??= Date.parse(value);
          break;
        case 'secure':
          cookie.secure = true;
          break;
      }
    }
    this.cookies = this.cookies.filter(
      (c) => !(c.name === cookie.name && c.host === cookie.host && c.path === cookie.path),
    );
    if (cookie.expiresAt === undefined || cookie.expiresAt > Date.now()) this.cookies.push(cookie);
  }

  /** One request, then redirects (as GET) until a page, or until `stopAt` matches a redirect target. */
  async go(target: string | URL, options: NavigateOptions = {}): Promise<Page> {
    let url = new URL(target);
    let method = options.method ?? 'GET';
    let body = options.body;
    for (let hops = 0; hops < 20; hops++) {
      const headers: Record<string, string> = { accept: 'text/html' };
      const cookie = this.cookieHeader(url);
      if (cookie) headers.cookie = cookie;
      if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
      const response = await fetch(url, { method, headers, body, redirect: 'manual' });
      for (const header of response.headers.getSetCookie()) this.store(url, header);
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location !== null) {
        await response.body?.cancel();
        const next = new URL(location, url);
        if (options.stopAt?.(next)) return { url, status: response.status, html: '', stoppedAt: next };
        url = next;
        method = 'GET';
        body = undefined;
        continue;
      }
      return { url, status: response.status, html: await response.text() };
    }
    throw new Error(`too many redirects from ${String(target)}`);
  }

  /** Submits a form of `page`, optionally as if one of its buttons (`name=value`) was pressed. */
  submit(
    page: Page,
    form: Form,
    button?: [string, string],
    stopAt?: (target: URL) => boolean,
  ): Promise<Page> {
    const fields = new URLSearchParams(form.fields);
    if (button) fields.append(button[0], button[1]);
    const action = new URL(form.action || page.url.href, page.url);
    if (form.method === 'GET') {
      action.search = fields.toString();
      return this.go(action, { stopAt });
    }
    return this.go(action, { method: 'POST', body: fields, stopAt });
  }
}

/** On the IdP's login page, picks `user`. */
async function signIn(browser: Browser, page: Page, user: string, stopAt?: (target: URL) => boolean) {
  const form = parseForms(page.html).find((f) => f.fields.some(([n, v]) => n === 'username' && v === user));
  if (form === undefined)
    throw new Error(`expected the dev IdP's login page offering ${user}; got ${pageText(page)}`);
  return browser.submit(page, form, undefined, stopAt);
}

function onlyForm(page: Page, id?: string): Form {
  const forms = parseForms(page.html).filter((f) => id === undefined || f.id === id);
  const [form] = forms;
  if (forms.length !== 1 || form === undefined) {
    throw new Error(`expected one ${id ?? ''} form on the dev IdP's page; got ${pageText(page)}`);
  }
  return form;
}

/**
 * Approves a device authorization (RFC 8628) as `user`, the way a person would in a browser: opens
 * `verification_uri_complete`, confirms the code, signs in, and lands on the success page.
 */
export async function approveDevice(
  verificationUriComplete: string,
  user: string,
  browser = new Browser(),
): Promise<void> {
  // The user code arrives in the query; the IdP posts it back with its CSRF token (a browser does
  // this with a small script; here the form is submitted as it is).
  let page = await browser.go(verificationUriComplete);
  page = await browser.submit(page, onlyForm(page));
  page = await browser.submit(page, onlyForm(page, 'op.deviceConfirmForm'));
  page = await signIn(browser, page, user);
  if (page.status !== 200 || !/device connected/i.test(page.html)) {
    throw new Error(`device approval for ${user} did not end on the success page; got ${pageText(page)}`);
  }
}

/**
 * Follows an authorization request through the dev IdP's login page as `user` and returns the final
 * redirect to the client (with `code` and `state`, or `error`) WITHOUT following it. Pass a `browser`
 * to keep the IdP session (e.g. to test logout or single sign-on afterwards).
 */
export async function authorizeAs(
  authorizationUrl: string | URL,
  user: string,
  browser = new Browser(),
): Promise<URL> {
  const url = new URL(authorizationUrl);
  const redirectUri = url.searchParams.get('redirect_uri');
  const target = redirectUri !== null ? new URL(redirectUri) : undefined;
  const stopAt = (next: URL) =>
    target !== undefined
      ? next.origin === target.origin && next.pathname === target.pathname
      : next.searchParams.has('code') || next.searchParams.has('error');
  let page = await browser.go(url, { stopAt });
  // Already signed in at the IdP (or refused outright): the IdP answers the client directly.
  if (page.stoppedAt) return page.stoppedAt;
  page = await signIn(browser, page, user, stopAt);
  if (page.stoppedAt) return page.stoppedAt;
  throw new Error(`the authorization for ${user} did not return to the client; got ${pageText(page)}`);
}
