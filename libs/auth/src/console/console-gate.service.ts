import { createHash, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { authMode, GATEHOUSE_CONFIG, type GatehouseConfig } from '@gatehouse/config';
import { authFailure } from '../challenge';
import { connectionCertificate } from '../mtls';
import type { Principal } from '../principal';
import { AuthError, AuthErrorCode } from '../token-validator';
import { ConsoleError, ConsoleErrorCode } from './console-error';
import { ConsoleSessions, type LiveSession } from './console-sessions.service';
import { clearedCookie, consoleCookies, readCookie, type ConsoleCookies } from './cookies';
import { Authenticator } from '../authenticator';
import { GatewayUrls } from '../gateway-urls';

/** Who is calling a console or admin API endpoint, and how they proved it. */
export interface ConsoleCaller {
  principal: Principal;
  /** `session`: the console's cookie; `bearer`: an access token; `anonymous`: `auth.mode: none`. */
  via: 'session' | 'bearer' | 'anonymous';
  /** The console session, when `via` is `session`. */
  session?: LiveSession;
}

/** Methods that change state: cookie-authenticated ones must pass the CSRF checks. */
export const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Identifies console and admin API callers and applies the CSRF rules. A bearer token wins
 * over a cookie (it is explicit, and no browser attaches it on its own); otherwise the session
 * cookie names a server-side session. Cookie-authenticated writes need the session's
 * synchronizer token and, when the browser says where it comes from, the same origin.
 */
@Injectable()
export class ConsoleGate {
  readonly cookies: ConsoleCookies;
  readonly mode: 'oidc' | 'dev' | 'none';

  constructor(
    @Inject(GATEHOUSE_CONFIG) config: GatehouseConfig,
    private readonly sessions: ConsoleSessions,
    private readonly authenticator: Authenticator,
    private readonly urls: GatewayUrls,
  ) {
    this.cookies = consoleCookies(config);
    this.mode = authMode(config);
  }

  /** The session id in the request's cookie, if any. */
  sessionId(req: FastifyRequest): string | undefined {
    return readCookie(req, this.cookies.session);
  }

  async identify(req: FastifyRequest): Promise<ConsoleCaller> {
    const { authenticator } = this;
    if (this.mode === 'none') return { principal: await authenticator.authenticate({}), via: 'anonymous' };
    const tls = connectionCertificate(req.raw.socket);
    const authorization = req.headers.authorization;
    if (authorization !== undefined) {
      try {
        const principal = await authenticator.authenticate({
          authorization,
          certificate: tls.certificate,
          certificateRejected: tls.rejected,
          // auth.requiredScopes is what /mcp asks of a token; the admin API checks roles instead.
          requiredScopes: [],
        });
        return { principal, via: 'bearer' };
      } catch (err) {
        if (err instanceof AuthError) throw this.bearerRefused(err);
        throw err;
      }
    }
    const id = this.sessionId(req);
    const challenge = this.challenge();
    if (id === undefined) {
      throw new ConsoleError(
        ConsoleErrorCode.NOT_SIGNED_IN,
        'not signed in: sign in to the console at /auth/login, or send a bearer token',
        challenge,
      );
    }
    const session = await this.sessions.touch(id);
    if (!session) {
      throw new ConsoleError(
        ConsoleErrorCode.SESSION_ENDED,
        'your console session has ended (signed out, revoked or expired); sign in again at /auth/login',
        { ...challenge, 'set-cookie': clearedCookie(req, this.cookies, this.cookies.session) },
      );
    }
    const principal = tls.certificate
      ? { ...session.principal, certificate: tls.certificate }
      : session.principal;
    return { principal, via: 'session', session };
  }

  /** CSRF rules for a cookie-authenticated write; throws a 403 {@link ConsoleError} naming the reason. */
  checkCsrf(req: FastifyRequest, session: LiveSession): void {
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin') {
      throw new ConsoleError(
        ConsoleErrorCode.CROSS_SITE_REQUEST,
        `refused a cross-site request (Sec-Fetch-Site: ${String(site)}): console writes must come from the console's own pages`,
      );
    }
    const origin = req.headers.origin;
    if (origin !== undefined) {
      const allowed = this.origins(req);
      if (!allowed.includes(origin)) {
        throw new ConsoleError(
          ConsoleErrorCode.CROSS_SITE_REQUEST,
          `refused a cross-site request: Origin ${origin} is not this gateway (${allowed.join(' or ')})`,
        );
      }
    }
    const token = req.headers['x-csrf-token'];
    if (typeof token !== 'string' || token === '') {
      throw new ConsoleError(
        ConsoleErrorCode.CSRF_TOKEN_MISSING,
        'a console write needs the x-csrf-token header; GET /api/v1/me returns the token of your session',
      );
    }
    if (!sameSecret(token, session.csrfToken)) {
      throw new ConsoleError(
        ConsoleErrorCode.CSRF_TOKEN_INVALID,
        "the x-csrf-token header does not match your session's token; GET /api/v1/me returns it",
      );
    }
  }

  /** The gateway's public origin, and the origin the request itself was addressed to. */
  private origins(req: FastifyRequest): string[] {
    const base = this.urls.now?.base;
    if (!base) return [];
    const url = new URL(base);
    const own = req.headers.host ? `${url.protocol}//${req.headers.host}` : undefined;
    return [...new Set([url.origin, ...(own ? [own] : [])])];
  }

  /** `WWW-Authenticate` for a caller with no credentials: where to get a token (RFC 9728). */
  private challenge(): Record<string, string> {
    return authFailure(
      new AuthError(AuthErrorCode.TOKEN_MISSING, 'no credentials'),
      this.urls.now?.resourceMetadata,
      [],
    ).headers;
  }

  private bearerRefused(err: AuthError): ConsoleError {
    const failure = authFailure(err, this.urls.now?.resourceMetadata, []);
    const code =
      failure.status === 503
        ? ConsoleErrorCode.IDP_UNAVAILABLE
        : failure.status === 403
          ? ConsoleErrorCode.INSUFFICIENT_SCOPE
          : ConsoleErrorCode.TOKEN_REJECTED;
    const message =
      failure.status === 503
        ? `the bearer token cannot be checked now: ${err.message}`
        : `the bearer token was refused: ${err.message}`;
    return new ConsoleError(code, message, failure.headers);
  }
}

/** Constant-time comparison of two secrets of any length (digests first, so lengths match). */
function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}
