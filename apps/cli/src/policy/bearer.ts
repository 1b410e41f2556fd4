import { CredentialStore, defaultCredentialsPath } from '../auth/credential-store';
import { loginCommandFor } from '../auth/errors';
import { LoginTokenSource, type TokenLog } from '../auth/token-source';
import type { BearerSource } from './api-client';

/** The variable CI sets to a service account's token. */
export const TOKEN_ENV = 'GATEHOUSE_TOKEN';

/**
 * The token for the admin API: `$GATEHOUSE_TOKEN` when set (CI's service account), otherwise the
 * stored `gatehouse login` for the gateway, refreshed as the bridge refreshes it.
 */
export async function bearerFor(
  gateway: string,
  env: NodeJS.ProcessEnv,
  warn: (line: string) => void,
): Promise<BearerSource> {
  const login = loginCommandFor(gateway);
  // The CLI is its own configuration boundary: the token comes from this variable only.
  const token = env[TOKEN_ENV]?.trim() || undefined;
  if (token !== undefined) {
    return {
      token: () => Promise.resolve(token),
      renew: () => Promise.resolve(false),
      describe: `the token in $${TOKEN_ENV}`,
      remedy: `get a new one, or unset $${TOKEN_ENV} and run \`${login}\``,
    };
  }
  const log: TokenLog = {
    info: () => undefined,
    warn: (msg) => warn(`warning: ${msg}`),
    // Login failures come back as errors, and are told once where they are caught.
    error: () => undefined,
    redact: () => undefined,
  };
  const source = new LoginTokenSource({
    store: new CredentialStore(defaultCredentialsPath(env)),
    gateway,
    log,
  });
  const stored = await source.load();
  if (stored === undefined) {
    return {
      token: () => Promise.resolve(undefined),
      renew: () => Promise.resolve(false),
      describe: 'a request without a token',
      remedy: `run \`${login}\`, or set $${TOKEN_ENV} to a service account's token`,
    };
  }
  return {
    token: () => source.token(),
    renew: async () => {
      await source.onUnauthorized();
      return true;
    },
    describe: `your login for ${gateway}`,
    remedy: `run \`${login}\` again`,
  };
}
