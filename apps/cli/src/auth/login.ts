import type { FetchLike } from '@modelcontextprotocol/client';
import * as oidc from 'openid-client';

import type { CredentialStore, StoredLogin } from './credential-store';
import { deviceLogin, type Say, type TokenRequest } from './device-flow';
import { LoginError, LoginErrorCode } from './errors';
import { discoverGatewaySignIn } from './gateway-metadata';
import { connectIdp, idpError } from './idp';
import { loopbackLogin } from './loopback-flow';
import { toStoredLogin } from './tokens';

/** Scopes every login asks for: who the person is, and a refresh token for the bridge. */
export const LOGIN_SCOPES = ['openid', 'profile', 'email', 'offline_access'];

export interface LoginOptions {
  /** The gateway, as its base URL or its `/mcp` endpoint. */
  url: URL;
  /** Try the device authorization grant first. */
  device: boolean;
  /** Open the system browser for the loopback flow. */
  openBrowser: (url: string) => boolean;
  /** Longest wait for the browser to come back in the loopback flow. */
  loopbackTimeoutMs: number;
  /** How to reach the gateway (its TLS settings); the IdP is reached with the platform's fetch. */
  gatewayFetch: FetchLike;
  store: CredentialStore;
  say: Say;
  signal?: AbortSignal;
}

/**
 * `gatehouse login`: finds the gateway's IdP, signs the person in with the
 * device flow (or the browser, with a loopback redirect), and stores the
 * tokens for the gateway. Returns what was stored; never prints a token.
 */
export async function login(options: LoginOptions): Promise<StoredLogin> {
  // A credentials file that cannot take the result is reported before the person signs in.
  await options.store.list();
  const signIn = await discoverGatewaySignIn(options.url, options.gatewayFetch);
  const config = await connectIdp(signIn.issuer, signIn.clientId);
  const request: TokenRequest = {
    gateway: signIn.gateway,
    scope: [...new Set([...LOGIN_SCOPES, ...signIn.scopes])].join(' '),
    resource: signIn.resource,
  };

  const hasDevice = config.serverMetadata().device_authorization_endpoint !== undefined;
  if (options.device && !hasDevice) {
    options.say('The IdP offers no device sign-in; signing in through the browser instead.\n');
  }
  const tokens =
    options.device && hasDevice
      ? await deviceLogin(config, request, options.say, options.signal)
      : await loopbackLogin(config, request, options.say, {
          openBrowser: options.openBrowser,
          timeoutMs: options.loopbackTimeoutMs,
          ...(options.signal ? { signal: options.signal } : {}),
        });

  const stored = toStoredLogin(
    { gateway: signIn.gateway, issuer: signIn.issuer, clientId: signIn.clientId, resource: signIn.resource },
    tokens,
    Date.now(),
  );
  await options.store.update((logins) => {
    logins[signIn.gateway] = stored;
  });

  const who = describeUser(tokens);
  options.say(
    `\nSigned in to ${signIn.gateway}${who ? ` as ${who}` : ''}. Credentials saved in ${options.store.path}.\n` +
      (stored.refreshToken === undefined
        ? `The IdP gave no refresh token, so this login ends when the access token expires (${stored.expiresAt}).\n`
        : '') +
      `Agent hosts can now run: gatehouse bridge --url ${signIn.gateway}/mcp\n`,
  );
  return stored;
}

/** Who signed in, from the ID token, for the closing message. */
function describeUser(tokens: oidc.TokenEndpointResponse): string | undefined {
  const claims = (tokens as Partial<oidc.TokenEndpointResponseHelpers>).claims?.();
  if (!claims) return undefined;
  const name = [claims.preferred_username, claims.email, claims.sub].find(
    (value): value is string => typeof value === 'string' && value !== '',
  );
  return name;
}

export interface LogoutOptions {
  store: CredentialStore;
  /** The gateway's key; absent with `all`, or when exactly one login is stored. */
  gateway?: string;
  all: boolean;
  say: Say;
}

/**
 * `gatehouse logout`: revokes each chosen login's refresh token at its IdP
 * (RFC 7009, when the IdP has a revocation endpoint) and removes it from the
 * file. Revocation is best effort: the entry goes either way, and a failure is
 * reported. Runs under the file's lock, so the token revoked is the one a
 * bridge may just have rotated. Returns the gateways logged out of.
 */
export async function logout(options: LogoutOptions): Promise<string[]> {
  return options.store.update(async (logins) => {
    let targets: string[];
    if (options.all) {
      targets = Object.keys(logins);
    } else if (options.gateway !== undefined) {
      targets = options.gateway in logins ? [options.gateway] : [];
      if (targets.length === 0) options.say(`Not logged in to ${options.gateway}; nothing to do.\n`);
    } else {
      targets = Object.keys(logins);
      if (targets.length > 1) {
        throw new LoginError(
          LoginErrorCode.WHICH_GATEWAY,
          `logged in to several gateways (${targets.join(', ')}); say which with --url, or use --all`,
        );
      }
    }
    if (targets.length === 0 && options.gateway === undefined) options.say('Not logged in anywhere.\n');
    for (const gateway of targets) {
      const entry = logins[gateway] as StoredLogin;
      const revoked = await revoke(entry);
      delete logins[gateway];
      options.say(`Logged out of ${gateway}${revoked}.\n`);
    }
    return targets;
  });
}

/** A clause for the logout message saying what became of the refresh token at the IdP. */
async function revoke(entry: StoredLogin): Promise<string> {
  if (entry.refreshToken === undefined) return '';
  try {
    const config = await connectIdp(entry.issuer, entry.clientId);
    if (config.serverMetadata().revocation_endpoint === undefined) {
      return ` (the IdP has no revocation endpoint, so the refresh token stays valid there until it expires)`;
    }
    await oidc.tokenRevocation(config, entry.refreshToken, { token_type_hint: 'refresh_token' });
    return '; the refresh token is revoked at the IdP';
  } catch (error) {
    return ` (could not revoke the refresh token at the IdP: ${idpError(error, 'revocation').message}; it stays valid there until it expires)`;
  }
}
