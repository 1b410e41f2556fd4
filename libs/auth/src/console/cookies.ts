import { fastifyCookie, type CookieSerializeOptions } from '@fastify/cookie';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { GatehouseConfig } from '@gatehouse/config';

/** How the console's cookies are named and flagged, decided once from the configuration. */
export interface ConsoleCookies {
  /** The session cookie: `__Host-gatehouse_session` under HTTPS, else `gatehouse_session`. */
  session: string;
  /** The sign-in-in-progress cookie, same rules. */
  login: string;
  secure: boolean;
}

/**
 * HTTPS when the public URL is https or the gateway itself serves TLS. Then the cookies get
 * `Secure` and the `__Host-` prefix, which browsers only accept with `Secure`, `Path=/` and no
 * `Domain`: no subdomain or plain-HTTP page can plant or overwrite them.
 */
export function consoleCookies(config: GatehouseConfig): ConsoleCookies {
  const secure = config.server.tls !== undefined || config.server.publicUrl?.startsWith('https:') === true;
  const prefix = secure ? '__Host-' : '';
  return { session: `${prefix}gatehouse_session`, login: `${prefix}gatehouse_login`, secure };
}

/** Every console cookie: HttpOnly, SameSite=Lax, Path=/, Secure under HTTPS, no Domain. */
export function cookieOptions(cookies: ConsoleCookies, maxAgeSeconds: number): CookieSerializeOptions {
  return { httpOnly: true, sameSite: 'lax', path: '/', secure: cookies.secure, maxAge: maxAgeSeconds };
}

/** A `Set-Cookie` value that deletes `name` (for replies sent by the error filter). */
export function clearedCookie(req: FastifyRequest, cookies: ConsoleCookies, name: string): string {
  return req.server.serializeCookie(name, '', {
    httpOnly: true,
    sameSite: 'lax',
    path: '/',
    secure: cookies.secure,
    maxAge: 0,
    expires: new Date(0),
  });
}

/** The value of one cookie of the request, if present. */
export function readCookie(req: FastifyRequest, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  return req.server.parseCookie(header)[name] || undefined;
}

/**
 * Registers @fastify/cookie once on the gateway's Fastify instance. `hook: false`: cookies are
 * parsed only by the console routes that read them, never on the /mcp hot path.
 */
export async function registerCookies(fastify: FastifyInstance): Promise<void> {
  if (fastify.hasPlugin('@fastify/cookie')) return;
  await fastify.register(fastifyCookie, { hook: false });
}
