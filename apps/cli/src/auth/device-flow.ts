import * as oidc from 'openid-client';

import { LoginError, LoginErrorCode, loginCommandFor } from './errors';
import { idpError, isTransient, oauthErrorOf } from './idp';

/** What both flows ask the IdP for. */
export interface TokenRequest {
  /** The gateway the login is for, for messages. */
  gateway: string;
  /** Space-separated scopes. */
  scope: string;
  /** The gateway's resource URI (RFC 8707). */
  resource: string;
}

/** Where the flows talk to the person: stderr, since stdout may be piped. */
export type Say = (text: string) => void;

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** RFC 8628 §3.5: each `slow_down` adds five seconds to the polling interval. */
const SLOW_DOWN_STEP_S = 5;

/**
 * The device authorization grant (RFC 8628): shows the person where to go and
 * which code to enter, then polls the token endpoint at the interval the IdP
 * asked for until they approve, refuse, or the code expires. The polling is
 * our own rather than openid-client's so each `slow_down`, connection
 * trouble and the expiry get a sentence on the terminal.
 */
export async function deviceLogin(
  config: oidc.Configuration,
  request: TokenRequest,
  say: Say,
  signal?: AbortSignal,
): Promise<oidc.TokenEndpointResponse> {
  let authorization: oidc.DeviceAuthorizationResponse;
  try {
    authorization = await oidc.initiateDeviceAuthorization(config, {
      scope: request.scope,
      resource: request.resource,
    });
  } catch (error) {
    throw idpError(error, 'the IdP refused to start a device sign-in');
  }
  const expiresAt = Date.now() + authorization.expires_in * 1000;
  say(
    `\nTo sign in to ${request.gateway}, open this page in a browser on any device:\n\n` +
      `    ${authorization.verification_uri}\n\nand enter the code:\n\n    ${authorization.user_code}\n\n` +
      (authorization.verification_uri_complete !== undefined
        ? `Or open this link, which carries the code:\n\n    ${authorization.verification_uri_complete}\n\n`
        : '') +
      `Waiting for the sign-in (the code expires in ${describeDuration(authorization.expires_in)}; Ctrl-C to stop)...\n`,
  );

  let interval = authorization.interval ?? 5;
  let unreachable = false;
  for (;;) {
    await sleep(Math.min(interval * 1000, Math.max(0, expiresAt - Date.now())), signal);
    if (Date.now() >= expiresAt) throw expired(request, authorization.user_code);
    try {
      return await oidc.genericGrantRequest(config, DEVICE_CODE_GRANT, {
        device_code: authorization.device_code,
        resource: request.resource,
      });
    } catch (error) {
      const oauth = oauthErrorOf(error);
      switch (oauth?.error ?? '') {
        case 'authorization_pending':
          if (unreachable) say('The IdP answers again; still waiting for the sign-in.\n');
          unreachable = false;
          continue;
        case 'slow_down':
          interval += SLOW_DOWN_STEP_S;
          say(`The IdP asked Gatehouse to check less often; checking every ${interval} s now.\n`);
          continue;
        case 'expired_token':
          throw expired(request, authorization.user_code);
        case 'access_denied':
          throw new LoginError(
            LoginErrorCode.ACCESS_DENIED,
            `the sign-in was refused at the IdP${oauth?.description ? ` (${oauth.description})` : ''}; nothing was stored`,
          );
        default:
          break;
      }
      if (isTransient(error)) {
        // RFC 8628 §3.5: keep polling through connection trouble, but back off.
        if (!unreachable) say(`Cannot reach the IdP right now; still trying (the code stays valid).\n`);
        unreachable = true;
        interval = Math.min(interval * 2, 60);
        continue;
      }
      throw idpError(error, 'the IdP refused the device code');
    }
  }
}

function expired(request: TokenRequest, userCode: string): LoginError {
  return new LoginError(
    LoginErrorCode.EXPIRED,
    `the code ${userCode} expired before the sign-in was approved; run \`${loginCommandFor(request.gateway)}\` again`,
  );
}

function describeDuration(seconds: number): string {
  if (seconds < 120) return `${seconds} seconds`;
  return `${Math.round(seconds / 60)} minutes`;
}

/** Waits `ms`, or throws CANCELLED when `signal` fires first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(cancelled());
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(cancelled());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function cancelled(): LoginError {
  return new LoginError(LoginErrorCode.CANCELLED, 'login stopped; nothing was stored');
}
