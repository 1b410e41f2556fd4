import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import * as oidc from 'openid-client';

import { cancelled, type Say, type TokenRequest } from './device-flow';
import { LoginError, LoginErrorCode, loginCommandFor } from './errors';
import { idpError } from './idp';

/** The one-shot HTTP listener the browser is sent back to. */
export interface LoopbackReceiver {
  /** `http://127.0.0.1:<port>/callback` (RFC 8252 §7.3: loopback IP, any port). */
  redirectUri: string;
  /** The full callback URL, once the browser brought back this login's `state`. */
  callback: Promise<URL>;
  /** Stops listening (also done once the callback came, failed or timed out). */
  close(): Promise<void>;
}

/**
 * Listens on 127.0.0.1 (not `localhost`, which may resolve elsewhere) on a
 * random port for one authorization response. A response whose `state` is
 * not `expectedState` is refused and ends the login: it was not started here
 * (login CSRF). Other paths get 404 and are otherwise ignored. Nothing
 * arriving within `timeoutMs` ends the login too.
 */
export async function startLoopbackReceiver(
  expectedState: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<LoopbackReceiver> {
  let settle!: { resolve: (url: URL) => void; reject: (error: LoginError) => void };
  const callback = new Promise<URL>((resolve, reject) => (settle = { resolve, reject }));
  // The caller awaits `callback` only after printing the URL; a failure before that must not go unhandled.
  callback.catch(() => undefined);
  let done = false;

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`);
    if (req.method !== 'GET' || url.pathname !== '/callback' || done) {
      page(res, 404, 'Not found', 'This address only receives the Gatehouse sign-in.');
      return;
    }
    const outcome = judge(url, expectedState);
    done = true;
    if (outcome instanceof LoginError) {
      page(res, 400, 'Sign-in not completed', `${outcome.message}. Return to the terminal.`, () =>
        finish(outcome),
      );
    } else {
      page(res, 200, 'Signed in', 'You can close this tab and return to the terminal.', () =>
        finish(outcome),
      );
    }
  });

  const timer = setTimeout(() => {
    done = true;
    finish(
      new LoginError(
        LoginErrorCode.EXPIRED,
        `no sign-in came back from the browser within ${timeoutMs >= 1000 ? `${Math.round(timeoutMs / 1000)} s` : `${timeoutMs} ms`}`,
      ),
    );
  }, timeoutMs);
  const onAbort = () => {
    done = true;
    finish(cancelled());
  };
  signal?.addEventListener('abort', onAbort, { once: true });

  function finish(outcome: URL | LoginError) {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
    void close();
    if (outcome instanceof LoginError) settle.reject(outcome);
    else settle.resolve(outcome);
  }

  let closed: Promise<void> | undefined;
  function close(): Promise<void> {
    closed ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return closed;
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return { redirectUri: `http://127.0.0.1:${port}/callback`, callback, close };
}

/** The callback URL when it carries this login's state and a code, else the reason it is refused. */
function judge(url: URL, expectedState: string): URL | LoginError {
  const state = url.searchParams.get('state');
  if (state === null || !sameString(state, expectedState)) {
    return new LoginError(
      LoginErrorCode.STATE_MISMATCH,
      'the browser came back with a sign-in this login did not start (state mismatch), so it was refused',
    );
  }
  const error = url.searchParams.get('error');
  if (error !== null) {
    const description = url.searchParams.get('error_description');
    return new LoginError(
      error === 'access_denied' ? LoginErrorCode.ACCESS_DENIED : LoginErrorCode.IDP_REFUSED,
      `the IdP ended the sign-in with ${error}${description ? ` (${description})` : ''}`,
    );
  }
  if (!url.searchParams.get('code')) {
    return new LoginError(LoginErrorCode.IDP_REFUSED, 'the browser came back without an authorization code');
  }
  return url;
}

function sameString(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

function page(
  res: ServerResponse<IncomingMessage>,
  status: number,
  title: string,
  text: string,
  then?: () => void,
) {
  const body = `<!doctype html><html><head><meta charset="utf-8"><title>Gatehouse: ${title}</title></head><body><h1>${title}</h1><p>${escapeHtml(text)}</p></body></html>`;
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'close',
    'referrer-policy': 'no-referrer',
  });
  res.end(body, then);
}

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

export interface LoopbackOptions {
  /** Try to open the system browser on the authorization URL (it is printed either way). */
  openBrowser: (url: string) => boolean;
  /** Longest wait for the browser to come back. */
  timeoutMs: number;
  signal?: AbortSignal;
}

/**
 * Authorization code with PKCE (S256) and a loopback redirect (RFC 8252):
 * prints the authorization URL, opens the browser unless told not to, waits
 * for the one callback, checks its state and exchanges the code.
 */
export async function loopbackLogin(
  config: oidc.Configuration,
  request: TokenRequest,
  say: Say,
  options: LoopbackOptions,
): Promise<oidc.TokenEndpointResponse> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const receiver = await startLoopbackReceiver(state, options.timeoutMs, options.signal);
  try {
    const parameters: Record<string, string> = {
      redirect_uri: receiver.redirectUri,
      response_type: 'code',
      scope: request.scope,
      resource: request.resource,
      state,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    };
    // OpenID Connect Core §11: a refresh token for offline use is only granted after consent.
    if (request.scope.split(' ').includes('offline_access')) parameters.prompt = 'consent';
    let authorizationUrl: URL;
    try {
      authorizationUrl = oidc.buildAuthorizationUrl(config, parameters);
    } catch (error) {
      throw idpError(error, 'the IdP has no usable authorization endpoint');
    }
    const opened = options.openBrowser(authorizationUrl.href);
    say(
      `\nTo sign in to ${request.gateway}, ${opened ? 'finish in your browser; if no window opened, open this page in a browser on this machine' : 'open this page in a browser on this machine'}:\n\n` +
        `    ${authorizationUrl.href}\n\n` +
        `Waiting for the browser to come back to ${receiver.redirectUri} ` +
        `(up to ${Math.round(options.timeoutMs / 1000)} s; Ctrl-C to stop)...\n`,
    );
    let callback: URL;
    try {
      callback = await receiver.callback;
    } catch (error) {
      if (error instanceof LoginError && error.code === LoginErrorCode.EXPIRED) {
        throw new LoginError(
          LoginErrorCode.EXPIRED,
          `${error.message}; run \`${loginCommandFor(request.gateway)}\` again`,
        );
      }
      throw error;
    }
    try {
      return await oidc.authorizationCodeGrant(
        config,
        callback,
        { pkceCodeVerifier: verifier, expectedState: state },
        { resource: request.resource },
      );
    } catch (error) {
      throw idpError(error, 'the IdP refused the authorization code');
    }
  } finally {
    await receiver.close();
  }
}
