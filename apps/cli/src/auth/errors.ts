/** Why `gatehouse login`, `logout` or the bridge's token handling could not go on. */
export enum LoginErrorCode {
  /** The gateway could not be reached to read its OAuth metadata. */
  GATEWAY_UNREACHABLE = 'GATEWAY_UNREACHABLE',
  /** The gateway publishes no RFC 9728 metadata and sends no challenge: it does not ask for sign-in. */
  NO_SIGN_IN = 'NO_SIGN_IN',
  /** The gateway's metadata is unusable (bad JSON, no authorization server, a resource that is not the gateway). */
  METADATA_INVALID = 'METADATA_INVALID',
  /** The IdP would be reached over plain http on a non-loopback address. */
  INSECURE_ISSUER = 'INSECURE_ISSUER',
  /** The IdP did not answer, or answered with a server error; trying later may work. */
  IDP_UNREACHABLE = 'IDP_UNREACHABLE',
  /** The IdP refused a request (unknown client, bad scope, ...). */
  IDP_REFUSED = 'IDP_REFUSED',
  /** The user refused the sign-in at the IdP. */
  ACCESS_DENIED = 'ACCESS_DENIED',
  /** The device code or the browser sign-in ran out of time. */
  EXPIRED = 'EXPIRED',
  /** The browser came back with a `state` that is not this login's. */
  STATE_MISMATCH = 'STATE_MISMATCH',
  /** No usable login for the gateway: never logged in, logged out, or the refresh token is revoked or expired. */
  LOGIN_REQUIRED = 'LOGIN_REQUIRED',
  /** The credentials file is readable or writable by other users, or owned by someone else. */
  CREDENTIALS_UNSAFE = 'CREDENTIALS_UNSAFE',
  /** The credentials file cannot be read or written, or is not ours to parse. */
  CREDENTIALS_UNREADABLE = 'CREDENTIALS_UNREADABLE',
  /** `gatehouse logout` without --url while logged in to several gateways. */
  WHICH_GATEWAY = 'WHICH_GATEWAY',
  /** The user stopped the login (Ctrl-C). */
  CANCELLED = 'CANCELLED',
}

/** A failure of the login machinery, with a message written for the person at the terminal. */
export class LoginError extends Error {
  constructor(
    readonly code: LoginErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'LoginError';
  }
}

/** The one command that gets a person a working login for `gateway`. */
export function loginCommandFor(gateway: string): string {
  return `gatehouse login --url ${gateway}`;
}
