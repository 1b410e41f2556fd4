import { Command } from 'commander';

import { CredentialStore, defaultCredentialsPath, gatewayKey } from '../auth/credential-store';
import { logout } from '../auth/login';
import { parseUrl } from './bridge.command';
import { exitCodeOf } from './login.command';

interface LogoutFlags {
  url?: URL;
  all?: boolean;
}

/** `gatehouse logout`: revokes and forgets the stored login of one gateway, or of all. */
export function logoutCommand(): Command {
  return new Command('logout')
    .description(
      'Revoke the refresh token of a stored login at the identity provider and remove the login. ' +
        'Without --url, the only stored login; --all removes every one.',
    )
    .option('--url <url>', 'the gateway to log out of', parseUrl)
    .option('--all', 'log out of every gateway')
    .action(async (flags: LogoutFlags, command: Command) => {
      if (flags.url !== undefined && flags.all) {
        command.error('error: --url and --all exclude each other', { exitCode: 2 });
      }
      const say = (text: string) => void process.stderr.write(text);
      try {
        await logout({
          store: new CredentialStore(defaultCredentialsPath(process.env)),
          ...(flags.url !== undefined ? { gateway: gatewayKey(flags.url) } : {}),
          all: flags.all === true,
          say,
        });
      } catch (error) {
        say(`gatehouse logout: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exitCode = exitCodeOf(error);
      }
    });
}
