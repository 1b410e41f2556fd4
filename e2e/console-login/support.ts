import { authorizeAs } from '../support/dev-idp';

/**
 * Console sign-in without a browser: plain HTTP requests with a cookie jar standing in for it,
 * through the real development IdP's login page. Shared by e2e/console-login and e2e/audit-admin.
 */

/** Anything serving the gateway's HTTP API: in-process or a spawned process. */
export type Served = { url: string };

/** The cookies a browser would keep for the gateway, with the raw Set-Cookie lines for inspection. */
export class Jar {
  readonly values = new Map<string, string>();
  readonly lines: string[] = [];

  take(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      this.lines.push(line);
      const [pair = ''] = line.split(';');
      const at = pair.indexOf('=');
      const name = pair.slice(0, at);
      const value = pair.slice(at + 1);
      if (/;\s*max-age=0/i.test(line) || value === '') this.values.delete(name);
      else this.values.set(name, value);
    }
  }

  header(): string {
    return [...this.values].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  /** The last Set-Cookie line for `name`. */
  line(name: string): string | undefined {
    return this.lines.filter((l) => l.startsWith(`${name}=`)).at(-1);
  }
}

export interface SignedIn {
  jar: Jar;
  /** The session cookie's value: the session id. */
  id: string;
  /** Where the callback sent the browser. */
  landing: string;
  authorizationUrl: URL;
}

/** GET /auth/login → the IdP's login page as `user` → GET /auth/callback, as a browser would. */
export async function signIn(gw: Served, user: string, options: { jar?: Jar; returnTo?: string } = {}) {
  const jar = options.jar ?? new Jar();
  const started = await beginLogin(gw, jar, options.returnTo);
  const callback = await authorizeAs(started, user);
  const res = await fetch(new URL(`${callback.pathname}${callback.search}`, gw.url), {
    redirect: 'manual',
    headers: { cookie: jar.header() },
  });
  if (res.status !== 302) throw new Error(`callback answered ${res.status}: ${await res.text()}`);
  jar.take(res);
  const cookie = [...jar.values.keys()].find((k) => k.endsWith('gatehouse_session'));
  return {
    jar,
    id: jar.values.get(cookie ?? '') ?? '',
    landing: res.headers.get('location') ?? '',
    authorizationUrl: started,
  } satisfies SignedIn;
}

export async function beginLogin(gw: Served, jar: Jar, returnTo?: string): Promise<URL> {
  const query = returnTo === undefined ? '' : `?returnTo=${encodeURIComponent(returnTo)}`;
  const res = await fetch(`${gw.url}/auth/login${query}`, {
    redirect: 'manual',
    headers: { cookie: jar.header() },
  });
  if (res.status !== 302) throw new Error(`/auth/login answered ${res.status}: ${await res.text()}`);
  jar.take(res);
  return new URL(res.headers.get('location') ?? '');
}
