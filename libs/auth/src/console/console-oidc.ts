import { randomUUID } from 'node:crypto';
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import * as oidc from 'openid-client';
import { Strategy, type AuthenticateOptions, type StrategyOptions } from 'openid-client/passport';
import passport from 'passport';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '@gatehouse/config';
import { LOGGER, type Logger } from '@gatehouse/observability';
import type { Principal } from '../principal';
import { readPath } from '../principal-mapper';
import { ConsoleError, ConsoleErrorCode } from './console-error';
import { GatewayUrls } from '../gateway-urls';
import { PrincipalMapper } from '../principal-mapper';
import { authenticate, type PassportRequest } from './passport-fastify';

/** Where the IdP sends the browser back to. */
export const CALLBACK_PATH = '/auth/callback';
/** Where the IdP sends the browser after RP-initiated logout. */
export const POST_LOGOUT_PATH = '/';
/** The strategy keeps its PKCE verifier, state and nonce under this key of the request's session. */
const STATE_KEY = 'oidc';
/** Discovery waits this long for the IdP (seconds) before a sign-in fails with a clear message. */
const DISCOVERY_TIMEOUT_SECONDS = 5;

type Tokens = oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;

/** Who signed in: the principal and the ID token (kept for the logout hint). */
export interface SignedIn {
  principal: Principal;
  idToken: string | undefined;
}

/**
 * openid-client's passport strategy, registered through @nestjs/passport: authorization code
 * with PKCE (S256), plus state and nonce on every request (the stock strategy sends state only
 * to IdPs without PKCE; the console wants both checks).
 */
export class ConsoleOidcStrategy extends PassportStrategy(Strategy) {
  constructor(
    options: StrategyOptions,
    private readonly callbackUrl: string,
    private readonly signIn: (tokens: Tokens) => Promise<SignedIn>,
  ) {
    super(options);
  }

  validate(tokens: Tokens): Promise<SignedIn> {
    return this.signIn(tokens);
  }

  /** The request as the IdP addressed it: our callback URL with the request's query. */
  override currentUrl(req: PassportRequest): URL {
    return new URL(req.url, this.callbackUrl);
  }

  override authorizationRequestParams<T extends AuthenticateOptions>(
    req: PassportRequest,
    options: T,
  ): URLSearchParams {
    const params = new URLSearchParams(super.authorizationRequestParams(req, options));
    params.set('state', oidc.randomState());
    params.set('nonce', oidc.randomNonce());
    return params;
  }
}

interface Discovered {
  config: oidc.Configuration;
  strategy: ConsoleOidcStrategy;
}

/**
 * The console's relying party: discovers the IdP on first use (and again after a failure, so a
 * sign-in works as soon as the IdP is back), starts sign-ins, finishes them, and builds the
 * RP-initiated logout URL.
 */
@Injectable()
export class ConsoleOidc implements OnApplicationShutdown {
  /** Unique per gateway: several gateways in one process (tests) share passport's registry. */
  private readonly strategyName = `gatehouse-console-${randomUUID()}`;
  private discovering: Promise<Discovered> | undefined;

  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    private readonly urls: GatewayUrls,
    private readonly mapper: PrincipalMapper,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** Starts a sign-in: the IdP URL to send the browser to and the state to keep server-side. */
  async begin(req: FastifyRequest): Promise<{ location: string; state: Record<string, unknown> }> {
    await this.discovered();
    const session: Record<string, unknown> = {};
    const outcome = await authenticate(passport, this.strategyName, req, session).catch((err: unknown) => {
      throw this.failure(err);
    });
    const state = session[STATE_KEY];
    if (outcome.kind !== 'redirect' || !isRecord(state)) {
      throw new ConsoleError(ConsoleErrorCode.LOGIN_FAILED, 'the sign-in could not be started');
    }
    return { location: outcome.location, state };
  }

  /** Finishes a sign-in from the IdP's answer, checking state, nonce, PKCE and the ID token. */
  async complete(req: FastifyRequest, state: Record<string, unknown>): Promise<SignedIn> {
    await this.discovered();
    const outcome = await authenticate(passport, this.strategyName, req, { [STATE_KEY]: state }).catch(
      (err: unknown) => {
        throw this.failure(err);
      },
    );
    if (outcome.kind === 'success') return outcome.user as SignedIn;
    const challenge = outcome.kind === 'fail' && isRecord(outcome.challenge) ? outcome.challenge : {};
    const reason = typeof challenge.message === 'string' ? challenge.message : 'no reason given';
    throw new ConsoleError(
      ConsoleErrorCode.LOGIN_FAILED,
      `the identity provider did not sign you in: ${reason}`,
    );
  }

  /**
   * Where the browser goes after signing out here: the IdP's `end_session_endpoint` (RP-initiated
   * logout, with the ID token as hint) when it advertises one, else this gateway's root.
   */
  async logoutUrl(idToken: string | undefined): Promise<string> {
    let config: oidc.Configuration;
    try {
      ({ config } = await this.discovered());
    } catch {
      return POST_LOGOUT_PATH;
    }
    if (!config.serverMetadata().end_session_endpoint) return POST_LOGOUT_PATH;
    const { base } = await this.urls.ready();
    const params: Record<string, string> = {
      client_id: this.config.auth.console.clientId,
      post_logout_redirect_uri: `${base}${POST_LOGOUT_PATH}`,
    };
    if (idToken) params.id_token_hint = idToken;
    return oidc.buildEndSessionUrl(config, params).href;
  }

  onApplicationShutdown(): void {
    if (this.discovering) passport.unuse(this.strategyName);
  }

  private discovered(): Promise<Discovered> {
    this.discovering ??= this.discover().catch((err: unknown) => {
      this.discovering = undefined;
      this.logger.warn({ err }, 'console sign-in: identity provider discovery failed');
      // Whatever the cause (down, wrong issuer, not OIDC), nobody can sign in until it is fixed.
      throw this.unavailable(rootMessage(err));
    });
    return this.discovering;
  }

  private async discover(): Promise<Discovered> {
    const urls = await this.urls.ready();
    const { clientId, clientSecret, scopes } = this.config.auth.console;
    const issuer = new URL(urls.issuer);
    const config = await oidc.discovery(
      issuer,
      clientId,
      undefined,
      clientSecret ? oidc.ClientSecretBasic(clientSecret) : oidc.None(),
      {
        timeout: DISCOVERY_TIMEOUT_SECONDS,
        ...(issuer.protocol === 'http:' ? { execute: [oidc.allowInsecureRequests] } : {}),
      },
    );
    const callbackURL = `${urls.base}${CALLBACK_PATH}`;
    const strategy = new ConsoleOidcStrategy(
      { config, name: this.strategyName, sessionKey: STATE_KEY, callbackURL, scope: scopes.join(' ') },
      callbackURL,
      (tokens) => this.signedIn(config, tokens),
    );
    this.logger.info({ issuer: urls.issuer, clientId, callback: callbackURL }, 'console sign-in ready');
    return { config, strategy };
  }

  /** The principal of a fresh sign-in, mapped exactly like an API token's (claims paths, roles). */
  private async signedIn(config: oidc.Configuration, tokens: Tokens): Promise<SignedIn> {
    const idClaims = tokens.claims();
    if (!idClaims)
      throw new ConsoleError(ConsoleErrorCode.LOGIN_FAILED, 'the identity provider sent no ID token');
    let claims: Record<string, unknown> = idClaims;
    const paths = this.config.auth.claims;
    const missing = [paths.groups, paths.name, paths.email].some((p) => readPath(idClaims, p) === undefined);
    // IdPs differ in what they put in the ID token; the rest is at the userinfo endpoint.
    if (missing && config.serverMetadata().userinfo_endpoint && tokens.access_token) {
      const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, idClaims.sub);
      claims = { ...userinfo, ...idClaims };
    }
    return { principal: this.mapper.fromClaims(claims), idToken: tokens.id_token };
  }

  /** Maps what went wrong talking to the IdP onto what the browser is told. */
  private failure(err: unknown): ConsoleError {
    if (err instanceof ConsoleError) return err;
    const refused = (e: { error: string; error_description?: string | undefined }) =>
      new ConsoleError(
        ConsoleErrorCode.LOGIN_FAILED,
        `the identity provider refused the sign-in (${e.error}${e.error_description ? `: ${e.error_description}` : ''})`,
      );
    if (err instanceof oidc.AuthorizationResponseError) return refused(err);
    if (err instanceof oidc.ResponseBodyError && err.status < 500) return refused(err);
    // openid-client wraps network failures as "something went wrong" with fetch's error as cause.
    const down =
      err instanceof oidc.ResponseBodyError ||
      unreachable(err) ||
      (err instanceof oidc.ClientError &&
        (err.code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' || unreachable(err.cause)));
    if (!down && err instanceof oidc.ClientError) {
      return new ConsoleError(
        ConsoleErrorCode.LOGIN_FAILED,
        `the sign-in response did not verify: ${err.message}`,
      );
    }
    this.logger.warn({ err }, 'console sign-in: identity provider unavailable');
    return this.unavailable(rootMessage(err));
  }

  private unavailable(detail: string): ConsoleError {
    const issuer = this.urls.now?.issuer ?? 'the identity provider';
    return new ConsoleError(
      ConsoleErrorCode.IDP_UNAVAILABLE,
      `sign-in is unavailable: ${issuer} cannot be reached (${detail}); try again shortly`,
    );
  }
}

/**
 * A failure to reach the IdP at all: fetch's TypeError ("fetch failed"), or a timeout or abort.
 * Judged by name, not `instanceof`: fetch's errors may come from another realm.
 */
function unreachable(err: unknown): boolean {
  const name = isRecord(err) ? err.name : undefined;
  return name === 'TypeError' || name === 'TimeoutError' || name === 'AbortError';
}

/** The innermost cause's message, e.g. `connect ECONNREFUSED 127.0.0.1:9000` under `fetch failed`. */
function rootMessage(err: unknown): string {
  let current: unknown = err;
  while (isRecord(current) && isRecord(current.cause)) current = current.cause;
  return isRecord(current) && typeof current.message === 'string' ? current.message : String(current);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
