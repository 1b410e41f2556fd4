import type * as oidc from 'openid-client';

import type { StoredLogin } from './credential-store';
import { LoginError, LoginErrorCode } from './errors';

/** Assumed lifetime of an access token whose response gave no `expires_in`. */
const DEFAULT_LIFETIME_S = 300;

/**
 * The stored form of a token response. A rotated refresh token replaces the
 * old one; an IdP that does not rotate sends none, and the old one stays.
 */
export function toStoredLogin(
  base: Omit<StoredLogin, 'accessToken' | 'refreshToken' | 'expiresAt' | 'obtainedAt'> & {
    refreshToken?: string;
  },
  tokens: oidc.TokenEndpointResponse,
  now: number,
): StoredLogin {
  if (tokens.token_type.toLowerCase() !== 'bearer') {
    throw new LoginError(
      LoginErrorCode.IDP_REFUSED,
      `the IdP issued a ${tokens.token_type} token; Gatehouse sends bearer tokens only (turn off DPoP for the ${base.clientId} client)`,
    );
  }
  const refreshToken = tokens.refresh_token ?? base.refreshToken;
  return {
    gateway: base.gateway,
    issuer: base.issuer,
    clientId: base.clientId,
    resource: base.resource,
    ...(refreshToken !== undefined ? { refreshToken } : {}),
    accessToken: tokens.access_token,
    expiresAt: new Date(now + (tokens.expires_in ?? DEFAULT_LIFETIME_S) * 1000).toISOString(),
    obtainedAt: new Date(now).toISOString(),
  };
}

/** Refresh this long before expiry: a quarter of the token's life, at most 30 s. */
export function refreshMarginMs(login: StoredLogin): number {
  const lifetime = Date.parse(login.expiresAt) - Date.parse(login.obtainedAt);
  return Math.min(30_000, Math.max(0, lifetime / 4));
}

/** Whether the access token can still be sent without refreshing first. */
export function isFresh(login: StoredLogin, now: number): boolean {
  return Date.parse(login.expiresAt) - now > refreshMarginMs(login);
}
