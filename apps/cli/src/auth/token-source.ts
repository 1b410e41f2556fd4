import type { AuthProvider } from '@modelcontextprotocol/client';
import * as oidc from 'openid-client';

import type { CredentialStore, StoredLogin } from './credential-store';
import { LoginError, LoginErrorCode, loginCommandFor } from './errors';
import { connectIdp, idpError, isTransient, oauthErrorOf } from './idp';
import { isFresh, toStoredLogin } from './tokens';

/** The few logger methods the token source uses, plus a way to keep new tokens out of every line. */
export interface TokenLog {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** Values to scrub from every later log line. */
  redact(...values: string[]): void;
}

export interface LoginTokenSourceOptions {
  store: CredentialStore;
  /** The gateway's key in the store. */
  gateway: string;
  log: TokenLog;
  /** Discovery of the IdP; tests may point it elsewhere. */
  connect?: (issuer: string, clientId: string) => Promise<oidc.Configuration>;
  now?: () => number;
}

type RefreshOutcome =
  | { kind: 'adopted' | 'refreshed'; login: StoredLogin }
  | { kind: 'gone' }
  | { kind: 'no-refresh-token' }
  | { kind: 'dead' };

/**
 * The bridge's bearer token from a stored `gatehouse login`, as the MCP SDK's
 * {@link AuthProvider}: the transport asks {@link token} before each request
 * and calls {@link onUnauthorized} once on a 401 before retrying it.
 *
 * - The access token is refreshed before it expires, and once more after a
 *   401. Refreshes run under the credentials file's lock and start from the
 *   file, so several bridges (and a `gatehouse login` meanwhile) share one
 *   rotating refresh token: whoever comes second adopts the first one's
 *   tokens instead of replaying a rotated refresh token, which IdPs punish by
 *   revoking the grant.
 * - A refresh token the IdP refused is never sent again; the next request
 *   looks at the file again, so a new `gatehouse login` in another terminal
 *   takes effect without restarting the host.
 * - With no login at all, requests go without a token (the gateway may not
 *   ask for one); a 401 then looks for a login made since, or says how to log in.
 */
export class LoginTokenSource implements AuthProvider {
  private current: StoredLogin | undefined;
  private refreshing: Promise<RefreshOutcome> | undefined;
  private deadRefreshToken: string | undefined;
  private reportedFailure: string | undefined;
  /** Set while the IdP cannot be reached and the current token still serves: warned once, not per request. */
  private warnedIdpDown = false;
  private readonly configs = new Map<string, Promise<oidc.Configuration>>();
  private readonly now: () => number;
  private readonly connect: (issuer: string, clientId: string) => Promise<oidc.Configuration>;

  constructor(private readonly options: LoginTokenSourceOptions) {
    this.now = options.now ?? Date.now;
    this.connect = options.connect ?? connectIdp;
  }

  /** Loads the stored login, if any; call once before the first request. */
  async load(): Promise<StoredLogin | undefined> {
    const login = await this.options.store.get(this.options.gateway);
    if (login) this.use(login);
    return login;
  }

  /** The access token to send now, refreshed first when it is about to expire. */
  async token(): Promise<string | undefined> {
    const login = this.current;
    if (login === undefined) return undefined;
    if (isFresh(login, this.now())) return login.accessToken;
    try {
      return this.settle(await this.refresh(login.accessToken)).accessToken;
    } catch (error) {
      // The IdP is down but the token has not expired yet: use it while it lasts.
      if (
        error instanceof LoginError &&
        error.code === LoginErrorCode.IDP_UNREACHABLE &&
        Date.parse(login.expiresAt) > this.now()
      ) {
        if (!this.warnedIdpDown) {
          this.warnedIdpDown = true;
          this.options.log.warn('cannot refresh the access token yet; using it until it expires', {
            expiresAt: login.expiresAt,
            err: error.message,
          });
        }
        return login.accessToken;
      }
      throw error;
    }
  }

  /** The gateway refused the token: get another (or a login made since), so the transport can retry once. */
  async onUnauthorized(): Promise<void> {
    this.settle(await this.refresh(this.current?.accessToken));
  }

  private settle(outcome: RefreshOutcome): StoredLogin {
    const gateway = this.options.gateway;
    switch (outcome.kind) {
      case 'adopted':
      case 'refreshed':
        if (this.reportedFailure !== undefined) {
          this.options.log.info('using the new login', { gateway });
          this.reportedFailure = undefined;
        }
        return outcome.login;
      case 'gone':
        throw this.fail(
          'gone',
          `the gateway at ${gateway} requires sign-in and there is no login for it: run \`${loginCommandFor(gateway)}\` (or set a token in $GATEHOUSE_TOKEN)`,
        );
      case 'no-refresh-token':
        throw this.fail(
          'no-refresh-token',
          `the login for ${gateway} has expired and the IdP gave no refresh token to renew it: run \`${loginCommandFor(gateway)}\``,
        );
      case 'dead':
        throw this.fail(
          `dead:${this.deadRefreshToken ?? ''}`,
          `the login for ${gateway} has expired or was revoked: run \`${loginCommandFor(gateway)}\``,
        );
      default:
        return assertUnreachable(outcome);
    }
  }

  /** A LOGIN_REQUIRED error, told once on stderr however many requests it fails. */
  private fail(key: string, message: string): LoginError {
    if (this.reportedFailure !== key) {
      this.reportedFailure = key;
      this.options.log.error(message);
    }
    return new LoginError(LoginErrorCode.LOGIN_REQUIRED, message);
  }

  /** One refresh at a time in this process; concurrent callers share it. */
  private refresh(stale: string | undefined): Promise<RefreshOutcome> {
    this.refreshing ??= this.refreshFromFile(stale).finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async refreshFromFile(stale: string | undefined): Promise<RefreshOutcome> {
    const gateway = this.options.gateway;
    let minted: StoredLogin | undefined;
    let outcome: RefreshOutcome;
    try {
      outcome = await this.options.store.update(async (logins): Promise<RefreshOutcome> => {
        const entry = logins[gateway];
        if (!entry) return { kind: 'gone' };
        // Another process refreshed, or the person logged in again: take those tokens.
        if (entry.accessToken !== stale && isFresh(entry, this.now()))
          return { kind: 'adopted', login: entry };
        if (entry.refreshToken === undefined) return { kind: 'no-refresh-token' };
        if (entry.refreshToken === this.deadRefreshToken) return { kind: 'dead' };
        const config = await this.config(entry);
        let tokens: oidc.TokenEndpointResponse;
        try {
          tokens = await oidc.refreshTokenGrant(config, entry.refreshToken, { resource: entry.resource });
        } catch (error) {
          if (oauthErrorOf(error) !== undefined && !isTransient(error)) {
            // invalid_grant (revoked, expired, replayed) and the like: this refresh token is done.
            this.deadRefreshToken = entry.refreshToken;
            this.options.log.warn('the IdP refused the refresh token', {
              err: idpError(error, 'refresh').message,
            });
            return { kind: 'dead' };
          }
          throw idpError(error, `cannot refresh the access token for ${gateway} at the IdP ${entry.issuer}`);
        }
        minted = toStoredLogin(entry, tokens, this.now());
        this.options.log.redact(minted.accessToken, ...(minted.refreshToken ? [minted.refreshToken] : []));
        logins[gateway] = minted;
        return { kind: 'refreshed', login: minted };
      });
    } catch (error) {
      if (minted === undefined) throw error;
      // The IdP rotated the refresh token but the file could not take it: keep going on the copy in memory.
      this.options.log.error('could not save the refreshed login; this bridge keeps it in memory', {
        err: error instanceof Error ? error.message : String(error),
      });
      outcome = { kind: 'refreshed', login: minted };
    }
    if (outcome.kind === 'adopted' || outcome.kind === 'refreshed') {
      this.use(outcome.login);
      this.warnedIdpDown = false;
    }
    if (outcome.kind === 'refreshed') {
      this.options.log.info('access token refreshed', { expiresAt: outcome.login.expiresAt });
    }
    return outcome;
  }

  private use(login: StoredLogin): void {
    this.options.log.redact(login.accessToken, ...(login.refreshToken ? [login.refreshToken] : []));
    this.current = login;
  }

  private config(login: StoredLogin): Promise<oidc.Configuration> {
    const key = `${login.issuer} ${login.clientId}`;
    let config = this.configs.get(key);
    if (!config) {
      config = this.connect(login.issuer, login.clientId);
      // A failed discovery is tried again next time, not remembered.
      config.catch(() => this.configs.delete(key));
      this.configs.set(key, config);
    }
    return config;
  }
}

function assertUnreachable(value: never): never {
  throw new Error(`unhandled refresh outcome: ${JSON.stringify(value)}`);
}
