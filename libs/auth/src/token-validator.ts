import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';

/** Why a bearer token was refused; each maps to 401 with a `WWW-Authenticate` reason. */
export enum AuthErrorCode {
  TOKEN_MISSING = 'TOKEN_MISSING',
  TOKEN_MALFORMED = 'TOKEN_MALFORMED',
  ALGORITHM_NOT_ALLOWED = 'ALGORITHM_NOT_ALLOWED',
  SIGNATURE_INVALID = 'SIGNATURE_INVALID',
  KEY_UNKNOWN = 'KEY_UNKNOWN',
  ISSUER_MISMATCH = 'ISSUER_MISMATCH',
  AUDIENCE_MISMATCH = 'AUDIENCE_MISMATCH',
  EXPIRED = 'EXPIRED',
  NOT_YET_VALID = 'NOT_YET_VALID',
  TYPE_MISMATCH = 'TYPE_MISMATCH',
  KEYS_UNAVAILABLE = 'KEYS_UNAVAILABLE',
  /** Introspection says the (opaque) token is not active: revoked, expired or unknown. */
  TOKEN_INACTIVE = 'TOKEN_INACTIVE',
  /** An opaque token arrived but no introspection client is configured. */
  TOKEN_OPAQUE = 'TOKEN_OPAQUE',
  /** RFC 8705: the token is bound to a certificate this connection did not present. */
  CERTIFICATE_MISMATCH = 'CERTIFICATE_MISMATCH',
  /** A certificate was presented but does not verify against the configured CA bundle. */
  CERTIFICATE_INVALID = 'CERTIFICATE_INVALID',
  /** Valid token, too few scopes: 403 insufficient_scope. */
  INSUFFICIENT_SCOPE = 'INSUFFICIENT_SCOPE',
  /** The IdP could not be reached to learn its keys or introspect: 503, try again. */
  IDP_UNAVAILABLE = 'IDP_UNAVAILABLE',
}

export class AuthError extends Error {
  constructor(
    readonly code: AuthErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'AuthError';
  }
}

export interface TokenValidatorOptions {
  /** Exact `iss` the IdP puts in its tokens. */
  issuer: string;
  /** The gateway's own resource URI (RFC 8707); `aud` must contain it (R1). */
  audience: string;
  /** Algorithms accepted from this issuer, pinned; `none` and HMAC are never allowed (R3). */
  algorithms: string[];
  /** The issuer's JWKS endpoint. */
  jwksUri: string;
  /** Clock skew allowed on `exp` and `nbf`, at most 60 s (R4). */
  clockToleranceSec?: number;
  /** Required JOSE `typ` header, e.g. `at+jwt` (RFC 9068), when the IdP sets one. */
  typ?: string;
  /** Least time between two JWKS fetches caused by unknown key ids (R5). */
  jwksCooldownMs?: number;
}

/** What a valid token says; the principal is built from it. */
export interface ValidatedToken {
  claims: JWTPayload;
  expiresAt: number;
}

const FORBIDDEN_ALGORITHMS = /^(none|HS\d+)$/i;

/**
 * Validates bearer JWTs from one issuer: signature against the issuer's JWKS (cached, refetched
 * at most once per cooldown for an unknown `kid`, and kept while the IdP is down), pinned
 * algorithms, exact issuer, the gateway as audience, `exp`/`nbf` within the allowed skew and the
 * configured `typ`. It keeps no tokens: the Authenticator remembers principals until they expire.
 */
export class TokenValidator {
  private readonly keys: JWTVerifyGetKey;
  private readonly tolerance: number;

  constructor(private readonly options: TokenValidatorOptions) {
    const forbidden = options.algorithms.filter((a) => FORBIDDEN_ALGORITHMS.test(a));
    if (forbidden.length > 0 || options.algorithms.length === 0) {
      throw new Error(
        `algorithms must be asymmetric and listed; refused: ${forbidden.join(', ') || '(empty list)'}`,
      );
    }
    this.tolerance = Math.min(options.clockToleranceSec ?? 60, 60);
    this.keys = createRemoteJWKSet(new URL(options.jwksUri), {
      cooldownDuration: options.jwksCooldownMs ?? 30_000,
      // Keys stay usable while the IdP is unreachable; rotation is picked up by kid misses.
      cacheMaxAge: Infinity,
    });
  }

  async validate(token: string | undefined, now = Date.now()): Promise<ValidatedToken> {
    if (!token) throw new AuthError(AuthErrorCode.TOKEN_MISSING, 'a bearer token is required');

    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keys, {
        issuer: this.options.issuer,
        audience: this.options.audience,
        algorithms: this.options.algorithms,
        clockTolerance: this.tolerance,
        currentDate: new Date(now),
        requiredClaims: ['exp'],
        ...(this.options.typ ? { typ: this.options.typ } : {}),
      }));
    } catch (err) {
      throw toAuthError(err);
    }
    return { claims: payload, expiresAt: ((payload.exp as number) + this.tolerance) * 1000 };
  }
}

function toAuthError(err: unknown): AuthError {
  if (err instanceof errors.JWTExpired) return new AuthError(AuthErrorCode.EXPIRED, 'the token has expired');
  if (err instanceof errors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case 'iss':
        return new AuthError(
          AuthErrorCode.ISSUER_MISMATCH,
          'the token was not issued by the configured issuer',
        );
      case 'aud':
        return new AuthError(
          AuthErrorCode.AUDIENCE_MISMATCH,
          'the token is not meant for this gateway (aud)',
        );
      case 'nbf':
        return new AuthError(AuthErrorCode.NOT_YET_VALID, 'the token is not valid yet (nbf)');
      case 'typ':
        return new AuthError(AuthErrorCode.TYPE_MISMATCH, 'the token type (typ) is not the one required');
      default:
        return new AuthError(AuthErrorCode.TOKEN_MALFORMED, `the token's ${err.claim} claim is invalid`);
    }
  }
  if (err instanceof errors.JOSEAlgNotAllowed) {
    return new AuthError(
      AuthErrorCode.ALGORITHM_NOT_ALLOWED,
      'the token is signed with an algorithm not allowed for this issuer',
    );
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return new AuthError(AuthErrorCode.SIGNATURE_INVALID, 'the token signature does not verify');
  }
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) {
    return new AuthError(
      AuthErrorCode.KEY_UNKNOWN,
      'the token is signed with a key the issuer does not publish',
    );
  }
  if (
    err instanceof errors.JWKSTimeout ||
    (err instanceof Error && /fetch|ECONNREFUSED|network/i.test(err.message))
  ) {
    return new AuthError(AuthErrorCode.KEYS_UNAVAILABLE, "the issuer's keys cannot be fetched");
  }
  return new AuthError(AuthErrorCode.TOKEN_MALFORMED, 'the token is not a valid JWT');
}
