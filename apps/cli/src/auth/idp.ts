import * as oidc from 'openid-client';

import { describeNetworkError } from './gateway-metadata';
import { LoginError, LoginErrorCode } from './errors';

/** Longest wait for one IdP request (discovery, token, revocation). */
export const IDP_TIMEOUT_MS = 10_000;

/** Loopback hosts: plain http to them never leaves the machine. */
export function isLoopback(url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * Discovers the IdP with openid-client as the public client `clientId` (no
 * client authentication; PKCE and the device code protect the flows). Plain
 * http is allowed for a loopback issuer only, as a development IdP is.
 */
export async function connectIdp(issuer: string, clientId: string): Promise<oidc.Configuration> {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new LoginError(LoginErrorCode.INSECURE_ISSUER, `the IdP issuer ${issuer} is not a URL`);
  }
  const loopback = isLoopback(url);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new LoginError(
      LoginErrorCode.INSECURE_ISSUER,
      `the IdP ${issuer} is not https; Gatehouse only talks to an IdP over plain http on this machine (localhost, 127.0.0.1)`,
    );
  }
  try {
    const config = await oidc.discovery(url, clientId, { token_endpoint_auth_method: 'none' }, oidc.None(), {
      timeout: IDP_TIMEOUT_MS / 1000,
      ...(loopback && url.protocol === 'http:' ? { execute: [oidc.allowInsecureRequests] } : {}),
    });
    config.timeout = IDP_TIMEOUT_MS / 1000;
    return config;
  } catch (error) {
    throw idpError(error, `cannot discover the IdP at ${issuer}`);
  }
}

/**
 * The OAuth error code of a refused IdP request (`invalid_grant`,
 * `slow_down`, ...), or undefined when the IdP did not answer with one.
 */
export function oauthErrorOf(error: unknown): { error: string; description?: string } | undefined {
  if (error instanceof oidc.ResponseBodyError || error instanceof oidc.AuthorizationResponseError) {
    return {
      error: error.error,
      ...(error.error_description !== undefined ? { description: error.error_description } : {}),
    };
  }
  return undefined;
}

/** Whether trying again later may help: no answer, a timeout, or a server error. */
export function isTransient(error: unknown): boolean {
  if (oauthErrorOf(error) !== undefined) {
    const status = (error as oidc.ResponseBodyError).status;
    return typeof status === 'number' && status >= 500;
  }
  // fetch's "fetch failed" (no connection, DNS, TLS); by name, as it may come from another realm.
  if ((error as { name?: unknown } | undefined)?.name === 'TypeError') return true;
  if (error instanceof oidc.ClientError) {
    if (error.code === 'OAUTH_TIMEOUT' || error.code === 'OAUTH_ABORT') return true;
    // A fetch failure openid-client did not recognise (another realm's TypeError) arrives wrapped.
    if ((error.cause as { name?: unknown } | undefined)?.name === 'TypeError') return true;
    const status = (error.cause as { status?: unknown } | undefined)?.status;
    return typeof status === 'number' && status >= 500;
  }
  return false;
}

/** A LoginError for a failed IdP request: IDP_REFUSED with the IdP's words, or IDP_UNREACHABLE. */
export function idpError(error: unknown, doing: string): LoginError {
  if (error instanceof LoginError) return error;
  const oauth = oauthErrorOf(error);
  if (oauth && !isTransient(error)) {
    return new LoginError(
      LoginErrorCode.IDP_REFUSED,
      `${doing}: the IdP answered ${oauth.error}${oauth.description ? ` (${oauth.description})` : ''}`,
      { cause: error },
    );
  }
  if (isTransient(error)) {
    return new LoginError(LoginErrorCode.IDP_UNREACHABLE, `${doing}: ${describeNetworkError(error)}`, {
      cause: error,
    });
  }
  return new LoginError(
    LoginErrorCode.IDP_REFUSED,
    `${doing}: ${error instanceof Error ? error.message : String(error)}`,
    { cause: error },
  );
}
