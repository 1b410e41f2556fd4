/** Why a console or admin API request was refused. */
export enum ConsoleErrorCode {
  /** `auth.mode: none`: there is no IdP to sign in with. */
  AUTH_DISABLED = 'AUTH_DISABLED',
  INVALID_REQUEST = 'INVALID_REQUEST',
  /** `returnTo` is not a same-origin relative path (open-redirect guard). */
  RETURN_TO_INVALID = 'RETURN_TO_INVALID',
  /** The callback came without a live sign-in started by this browser. */
  LOGIN_STATE_MISSING = 'LOGIN_STATE_MISSING',
  /** The IdP refused, or its answer did not verify (state, nonce, PKCE, ID token). */
  LOGIN_FAILED = 'LOGIN_FAILED',
  /** The IdP cannot be reached (discovery or token endpoint). */
  IDP_UNAVAILABLE = 'IDP_UNAVAILABLE',
  /** Neither a session cookie nor a bearer token. */
  NOT_SIGNED_IN = 'NOT_SIGNED_IN',
  /** The session cookie names a session that was signed out, revoked or has expired. */
  SESSION_ENDED = 'SESSION_ENDED',
  /** The bearer token did not validate. */
  TOKEN_REJECTED = 'TOKEN_REJECTED',
  INSUFFICIENT_SCOPE = 'INSUFFICIENT_SCOPE',
  CSRF_TOKEN_MISSING = 'CSRF_TOKEN_MISSING',
  CSRF_TOKEN_INVALID = 'CSRF_TOKEN_INVALID',
  /** `Origin` or `Sec-Fetch-Site` says the request comes from another site. */
  CROSS_SITE_REQUEST = 'CROSS_SITE_REQUEST',
  /** Signed in, but without any of the roles the endpoint requires. */
  ROLE_REQUIRED = 'ROLE_REQUIRED',
  /** The audit trail cannot record the sign-in or sign-out, so it was not done (issue 5 point 5). */
  AUDIT_UNAVAILABLE = 'AUDIT_UNAVAILABLE',
}

/** A refusal the console API answers as `{ error: { code, message } }` with {@link consoleErrorStatus}. */
export class ConsoleError extends Error {
  override readonly name = 'ConsoleError';

  constructor(
    readonly code: ConsoleErrorCode,
    message: string,
    /** Extra response headers, e.g. `WWW-Authenticate` or a `Set-Cookie` that clears a dead session. */
    readonly headers: Record<string, string | string[]> = {},
  ) {
    super(message);
  }
}

/** The HTTP status of each code; a code without one does not compile. */
export function consoleErrorStatus(code: ConsoleErrorCode): 400 | 401 | 403 | 404 | 503 {
  switch (code) {
    case ConsoleErrorCode.INVALID_REQUEST:
    case ConsoleErrorCode.RETURN_TO_INVALID:
    case ConsoleErrorCode.LOGIN_STATE_MISSING:
      return 400;
    case ConsoleErrorCode.NOT_SIGNED_IN:
    case ConsoleErrorCode.SESSION_ENDED:
    case ConsoleErrorCode.TOKEN_REJECTED:
      return 401;
    case ConsoleErrorCode.LOGIN_FAILED:
    case ConsoleErrorCode.INSUFFICIENT_SCOPE:
    case ConsoleErrorCode.CSRF_TOKEN_MISSING:
    case ConsoleErrorCode.CSRF_TOKEN_INVALID:
    case ConsoleErrorCode.CROSS_SITE_REQUEST:
    case ConsoleErrorCode.ROLE_REQUIRED:
      return 403;
    case ConsoleErrorCode.AUTH_DISABLED:
      return 404;
    case ConsoleErrorCode.IDP_UNAVAILABLE:
    case ConsoleErrorCode.AUDIT_UNAVAILABLE:
      return 503;
    default: {
      const unhandled: never = code;
      throw new Error(`unmapped console error ${String(unhandled)}`);
    }
  }
}
