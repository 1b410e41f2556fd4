import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import * as oidc from 'openid-client';
import { authMode, GATEHOUSE_CONFIG, type GatehouseConfig } from '@gatehouse/config';
import { LOGGER, Readiness, type Logger } from '@gatehouse/observability';
import { GatewayUrls, type ResolvedUrls } from './gateway-urls';
import type { CertificateIdentity, Principal } from './principal';
import { PrincipalMapper } from './principal-mapper';
import { AuthError, AuthErrorCode, TokenValidator } from './token-validator';

export interface AuthenticateInput {
  /** The raw `Authorization` header. */
  authorization?: string | undefined;
  /** The verified client certificate of the connection, if any (mTLS). */
  certificate?: CertificateIdentity | undefined;
  /** True when the connection presented a certificate the CA bundle does not vouch for. */
  certificateRejected?: boolean;
  /** Scopes this endpoint requires; default none. */
  requiredScopes?: readonly string[];
}

const ANONYMOUS: Principal = Object.freeze({
  kind: 'anonymous',
  issuer: 'gatehouse',
  subject: 'anonymous',
  groups: [],
  roles: [],
  scopes: [],
  expiresAt: Number.MAX_SAFE_INTEGER,
});

/** Opaque tokens are re-introspected this often, so a revocation bites within this bound (R8). */
export const INTROSPECTION_CACHE_MS = 30_000;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const DISCOVERY_RETRY_MS = [500, 1000, 2000, 5000, 10_000];

interface Discovered {
  validator: TokenValidator;
  introspection: oidc.Configuration | undefined;
}

/**
 * Turns a request's bearer token (and client certificate) into a {@link Principal}: JWTs are
 * checked against the issuer's keys (pinned algorithms, exact issuer, the gateway as audience,
 * bounded skew), opaque tokens at the IdP's introspection endpoint; certificate-bound tokens
 * (RFC 8705) only count on a connection with that certificate. Principals are remembered until
 * their token expires, so a warm call costs a map lookup.
 */
@Injectable()
export class Authenticator implements OnApplicationShutdown {
  readonly mode: 'oidc' | 'dev' | 'none';
  private readonly cache = new Map<string, Principal>();
  private discovered: Discovered | undefined;
  private discovering: Promise<Discovered> | undefined;
  private lastDiscoveryError: string | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    private readonly urls: GatewayUrls,
    private readonly mapper: PrincipalMapper,
    @Inject(LOGGER) private readonly logger: Logger,
    readiness: Readiness,
  ) {
    this.mode = authMode(config);
    if (this.mode !== 'none') {
      readiness.register('identity', async () => {
        if (this.discovered) return;
        throw new Error(this.lastDiscoveryError ?? 'the identity provider has not been reached yet');
      });
    }
  }

  /** Starts learning the issuer's metadata in the background, retrying until it answers. */
  start(): void {
    if (this.mode === 'none') return;
    void this.discover().catch(() => undefined);
  }

  async authenticate(input: AuthenticateInput): Promise<Principal> {
    // The TLS listener already refuses these; this is the second line, in every mode.
    if (input.certificateRejected) {
      throw new AuthError(
        AuthErrorCode.CERTIFICATE_INVALID,
        'the client certificate does not verify against the configured CA bundle',
      );
    }
    if (this.mode === 'none') return ANONYMOUS;
    const token = bearerToken(input.authorization);
    const now = Date.now();
    let principal = this.cache.get(token);
    if (principal === undefined || principal.expiresAt <= now) {
      if (principal) this.cache.delete(token);
      principal = await this.validate(token, now);
      this.remember(token, principal);
    }
    checkBinding(principal, input.certificate);
    const required = input.requiredScopes ?? this.config.auth.requiredScopes;
    for (const scope of required) {
      if (!principal.scopes.includes(scope)) {
        throw new AuthError(
          AuthErrorCode.INSUFFICIENT_SCOPE,
          `the token lacks the scope "${scope}" (required: ${required.join(' ')})`,
        );
      }
    }
    return input.certificate ? { ...principal, certificate: input.certificate } : principal;
  }

  onApplicationShutdown(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
  }

  private async validate(token: string, now: number): Promise<Principal> {
    const { validator, introspection } = await this.keys();
    if (JWT_SHAPE.test(token)) {
      const { claims, expiresAt } = await validator.validate(token, now);
      return this.mapper.fromClaims(claims, { expiresAt });
    }
    if (!introspection) {
      throw new AuthError(
        AuthErrorCode.TOKEN_OPAQUE,
        'the token is not a JWT and this gateway has no introspection client configured',
      );
    }
    return this.introspect(introspection, token, now);
  }

  private async introspect(config: oidc.Configuration, token: string, now: number): Promise<Principal> {
    let claims: Record<string, unknown>;
    try {
      claims = await oidc.tokenIntrospection(config, token);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'token introspection failed');
      throw new AuthError(
        AuthErrorCode.IDP_UNAVAILABLE,
        'the identity provider cannot introspect the token now',
      );
    }
    const urls = this.urls.now as ResolvedUrls;
    if (claims.active !== true) {
      throw new AuthError(
        AuthErrorCode.TOKEN_INACTIVE,
        'the token is not active (revoked, expired or unknown)',
      );
    }
    if (claims.iss !== undefined && claims.iss !== urls.issuer) {
      throw new AuthError(AuthErrorCode.ISSUER_MISMATCH, 'the token was not issued by the configured issuer');
    }
    const aud = claims.aud;
    const audiences = Array.isArray(aud) ? aud : aud === undefined ? [] : [aud];
    if (!audiences.includes(urls.resource)) {
      throw new AuthError(AuthErrorCode.AUDIENCE_MISMATCH, 'the token is not meant for this gateway (aud)');
    }
    const exp = typeof claims.exp === 'number' ? claims.exp * 1000 : now + INTROSPECTION_CACHE_MS;
    return this.mapper.fromClaims(
      { iss: urls.issuer, ...claims },
      { expiresAt: Math.min(exp, now + INTROSPECTION_CACHE_MS) },
    );
  }

  private remember(token: string, principal: Principal): void {
    if (this.cache.size >= this.config.auth.tokenCacheSize) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(token, principal);
  }

  private async keys(): Promise<Discovered> {
    if (this.discovered) return this.discovered;
    try {
      return await this.discover();
    } catch {
      throw new AuthError(
        AuthErrorCode.IDP_UNAVAILABLE,
        `the identity provider cannot be reached (${this.lastDiscoveryError ?? 'discovery failed'}); try again shortly`,
      );
    }
  }

  private discover(attempt = 0): Promise<Discovered> {
    this.discovering ??= this.discoverOnce().then(
      (d) => {
        this.discovered = d;
        this.lastDiscoveryError = undefined;
        return d;
      },
      (err: Error) => {
        this.discovering = undefined;
        this.lastDiscoveryError = err.message;
        if (!this.closed && !this.discovered && this.retryTimer === undefined) {
          const delay = DISCOVERY_RETRY_MS[Math.min(attempt, DISCOVERY_RETRY_MS.length - 1)] ?? 10_000;
          this.logger.warn({ err: err.message, retryInMs: delay }, 'identity provider discovery failed');
          this.retryTimer = setTimeout(() => {
            this.retryTimer = undefined;
            void this.discover(attempt + 1).catch(() => undefined);
          }, delay);
          this.retryTimer.unref();
        }
        throw err;
      },
    );
    return this.discovering;
  }

  private async discoverOnce(): Promise<Discovered> {
    const urls = await this.urls.ready();
    const { auth } = this.config;
    const issuer = new URL(urls.issuer);
    const insecure = issuer.protocol === 'http:' ? { execute: [oidc.allowInsecureRequests] } : {};
    const config = auth.introspection
      ? await oidc.discovery(
          issuer,
          auth.introspection.clientId,
          undefined,
          oidc.ClientSecretBasic(auth.introspection.clientSecret),
          insecure,
        )
      : await oidc.discovery(issuer, 'gatehouse-resource-server', undefined, oidc.None(), insecure);
    const metadata = config.serverMetadata();
    if (!metadata.jwks_uri) throw new Error(`issuer ${urls.issuer} publishes no jwks_uri`);
    const validator = new TokenValidator({
      issuer: metadata.issuer,
      audience: urls.resource,
      algorithms: auth.algorithms,
      jwksUri: metadata.jwks_uri,
      clockToleranceSec: auth.clockSkewSeconds,
      jwksCooldownMs: auth.jwksCooldownSeconds * 1000,
      ...(auth.typ ? { typ: auth.typ } : {}),
    });
    this.logger.info(
      {
        issuer: metadata.issuer,
        audience: urls.resource,
        jwks: metadata.jwks_uri,
        introspection: auth.introspection ? metadata.introspection_endpoint : undefined,
      },
      'identity provider discovered',
    );
    return { validator, introspection: auth.introspection ? config : undefined };
  }
}

/** The token of `Authorization: Bearer <token>` (RFC 6750: scheme case-insensitive, one space). */
export function bearerToken(header: string | undefined): string {
  if (!header) throw new AuthError(AuthErrorCode.TOKEN_MISSING, 'a bearer token is required');
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*)\s*$/i.exec(header);
  if (!match?.[1]) {
    throw new AuthError(AuthErrorCode.TOKEN_MALFORMED, 'the Authorization header must be "Bearer <token>"');
  }
  return match[1];
}

/** RFC 8705 §3: a token bound to a certificate is only good over a connection presenting it. */
function checkBinding(principal: Principal, certificate: CertificateIdentity | undefined): void {
  if (principal.boundCertificate === undefined) return;
  if (certificate?.thumbprint !== principal.boundCertificate) {
    throw new AuthError(
      AuthErrorCode.CERTIFICATE_MISMATCH,
      certificate
        ? 'the token is bound to a different client certificate (cnf x5t#S256)'
        : 'the token is bound to a client certificate this connection did not present (cnf x5t#S256)',
    );
  }
}
