import { Controller, Get, HttpCode, Inject, Post, Query, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '@gatehouse/config';
import { LOGGER, type Logger } from '@gatehouse/observability';
import {
  ADMIN_AUDIT,
  AdminAuditUnavailableError,
  adminActor,
  adminClient,
  type AdminAudit,
  type AdminAuditEntry,
  type AdminAuditTicket,
} from '../admin-audit';
import { ConsoleError, ConsoleErrorCode } from './console-error';
import { ConsoleGate } from './console-gate.service';
import { ConsoleOidc, POST_LOGOUT_PATH } from './console-oidc';
import { ConsoleSessions, LOGIN_TTL_SECONDS } from './console-sessions.service';
import { clearedCookie, cookieOptions, readCookie } from './cookies';
import { GatewayUrls } from '../gateway-urls';
import { safeReturnTo } from './return-to';

/**
 * Console sign-in and sign-out: authorization code + PKCE at the IdP, then a server-side
 * session whose random id lives in an HttpOnly cookie. Both are admin actions in the audit trail
 * (`console.login`, `console.logout`): the session is opened or ended only once the attempt record
 * is committed, and refused with 503 `AUDIT_UNAVAILABLE` (no session cookie) when it cannot be.
 * The principal is known only inside the handler, so they use the {@link ADMIN_AUDIT} port
 * directly instead of `@AdminAction`.
 */
@Controller('auth')
export class AuthController {
  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    private readonly gate: ConsoleGate,
    private readonly oidc: ConsoleOidc,
    private readonly sessions: ConsoleSessions,
    private readonly urls: GatewayUrls,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(ADMIN_AUDIT) private readonly audit: AdminAudit,
  ) {}

  /** `GET /auth/login?returnTo=/path`: off to the IdP, remembering the sign-in server-side. */
  @Get('login')
  async login(
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
    @Query('returnTo') returnTo: unknown,
  ): Promise<void> {
    this.requireIdentity();
    const { base } = await this.urls.ready();
    const target = safeReturnTo(returnTo, base);
    const { location, state } = await this.oidc.begin(req);
    const loginId = await this.sessions.beginLogin({ state, returnTo: target });
    const { cookies } = this.gate;
    await reply
      .status(302)
      .headers({ location, 'cache-control': 'no-store' })
      .setCookie(cookies.login, loginId, cookieOptions(cookies, LOGIN_TTL_SECONDS))
      .send();
  }

  /** `GET /auth/callback`: the IdP's answer; opens a fresh session and lands on `returnTo`. */
  @Get('callback')
  async callback(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    this.requireIdentity();
    const { cookies } = this.gate;
    const clearLogin = clearedCookie(req, cookies, cookies.login);
    const query = req.query as Record<string, unknown>;
    if (query.code === undefined && query.error === undefined) {
      throw new ConsoleError(
        ConsoleErrorCode.INVALID_REQUEST,
        'this is where the identity provider returns after sign-in; start at /auth/login',
      );
    }
    const loginId = readCookie(req, cookies.login);
    const pending = loginId === undefined ? undefined : await this.sessions.consumeLogin(loginId);
    if (!pending) {
      throw new ConsoleError(
        ConsoleErrorCode.LOGIN_STATE_MISSING,
        'this sign-in was not started in this browser, was already used, or took longer than ' +
          `${LOGIN_TTL_SECONDS / 60} minutes; start again at /auth/login`,
        { 'set-cookie': clearLogin },
      );
    }
    let signedIn;
    try {
      signedIn = await this.oidc.complete(req, pending.state);
    } catch (err) {
      if (err instanceof ConsoleError) Object.assign(err.headers, { 'set-cookie': clearLogin });
      throw err;
    }
    const { principal } = signedIn;
    const ticket = await this.begin(
      {
        action: 'console.login',
        target: `console-sessions/${principal.subject}`,
        actor: adminActor(principal),
        details: { roles: principal.roles, returnTo: pending.returnTo },
        method: req.method,
        client: adminClient(req),
      },
      { 'set-cookie': clearLogin },
    );
    let id: string;
    try {
      ({ id } = await this.sessions.open(principal, signedIn.idToken, this.gate.sessionId(req)));
    } catch (err) {
      ticket.done(failed(err));
      throw err;
    }
    ticket.done({ outcome: 'ok' });
    this.logger.info(
      { subject: signedIn.principal.subject, roles: signedIn.principal.roles },
      'console sign-in',
    );
    await reply
      .status(302)
      .headers({ location: pending.returnTo, 'cache-control': 'no-store' })
      .setCookie(cookies.session, id, cookieOptions(cookies, this.config.auth.console.sessionTtlSeconds))
      .clearCookie(cookies.login, cookieOptions(cookies, 0))
      .send();
  }

  /**
   * `POST /auth/logout` (CSRF-protected): ends the session, deletes the cookie, and answers
   * where the browser goes next: the IdP's end-session URL when it has one, else `/`.
   */
  @Post('logout')
  @HttpCode(200)
  async logout(
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<{ redirectTo: string }> {
    const id = this.gate.sessionId(req);
    const session = id === undefined ? undefined : await this.sessions.find(id);
    let idToken: string | undefined;
    if (id !== undefined && session) {
      this.gate.checkCsrf(req, session);
      const ticket = await this.begin({
        action: 'console.logout',
        target: `console-sessions/${session.principal.subject}`,
        actor: adminActor(session.principal),
        method: req.method,
        client: adminClient(req),
      });
      try {
        idToken = (await this.sessions.end(id))?.idToken;
      } catch (err) {
        ticket.done(failed(err));
        throw err;
      }
      ticket.done({ outcome: 'ok' });
      this.logger.info({ subject: session.principal.subject }, 'console sign-out');
    }
    void reply
      .header('cache-control', 'no-store')
      .clearCookie(this.gate.cookies.session, cookieOptions(this.gate.cookies, 0));
    const redirectTo = this.gate.mode === 'none' ? POST_LOGOUT_PATH : await this.oidc.logoutUrl(idToken);
    return { redirectTo };
  }

  /** The attempt record, or the console's 503 `AUDIT_UNAVAILABLE` (a page for a browser). */
  private async begin(
    entry: AdminAuditEntry,
    headers: Record<string, string | string[]> = {},
  ): Promise<AdminAuditTicket> {
    try {
      return await this.audit.begin(entry);
    } catch (err) {
      if (!(err instanceof AdminAuditUnavailableError)) throw err;
      const what = entry.action === 'console.login' ? 'your sign-in' : 'your sign-out';
      throw new ConsoleError(
        ConsoleErrorCode.AUDIT_UNAVAILABLE,
        `the audit trail cannot record ${what} right now, so it was not done; try again in a minute`,
        headers,
      );
    }
  }

  private requireIdentity(): void {
    if (this.gate.mode === 'none') {
      throw new ConsoleError(
        ConsoleErrorCode.AUTH_DISABLED,
        'authentication is off (auth.mode: none); there is no identity provider to sign in with',
      );
    }
  }
}

function failed(err: unknown): { outcome: 'error'; code: string; message: string } {
  return {
    outcome: 'error',
    code: err instanceof ConsoleError ? err.code : 'INTERNAL',
    message: err instanceof Error ? err.message : String(err),
  };
}
