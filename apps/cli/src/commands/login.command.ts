import { Command, InvalidArgumentError } from 'commander';

import { openBrowser } from '../auth/browser';
import { CredentialStore, defaultCredentialsPath } from '../auth/credential-store';
import { LoginError, LoginErrorCode } from '../auth/errors';
import { login } from '../auth/login';
import { createGatewayHttp } from '../bridge/http';
import { parseUrl, readPem } from './bridge.command';

interface LoginFlags {
  url: URL;
  device: boolean;
  browser: boolean;
  timeout: number;
  cert?: string;
  key?: string;
  ca?: string;
}

function parseSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a whole number of seconds');
  return n;
}

/** Exit status for a failed login or logout: 130 when the person pressed Ctrl-C, as shells do. */
export function exitCodeOf(error: unknown): number {
  return error instanceof LoginError && error.code === LoginErrorCode.CANCELLED ? 130 : 1;
}

/** `gatehouse login`: signs in to a gateway's IdP and stores the tokens for `gatehouse bridge`. */
export function loginCommand(): Command {
  return new Command('login')
    .description(
      "Sign in to a Gatehouse gateway's identity provider and save the tokens for `gatehouse bridge` " +
        '(device code first, or the browser with a redirect to this machine). Messages go to stderr; tokens are never printed.',
    )
    .requiredOption(
      '--url <url>',
      'the gateway, e.g. https://gatehouse.example.com (or its /mcp endpoint)',
      parseUrl,
    )
    .option('--no-device', 'skip the device code and sign in through the browser on this machine')
    .option('--no-browser', 'do not open a browser; print the address to open instead')
    .option('--timeout <seconds>', 'longest wait for the browser sign-in to come back', parseSeconds, 300)
    .option('--cert <file>', 'client certificate (PEM), when the gateway requires mutual TLS')
    .option('--key <file>', 'private key (PEM) of the client certificate')
    .option('--ca <file>', 'CA bundle (PEM) to verify the gateway, instead of the system roots')
    .action(async (flags: LoginFlags, command: Command) => {
      if ((flags.cert === undefined) !== (flags.key === undefined)) {
        command.error('error: --cert and --key go together', { exitCode: 2 });
      }
      let tls: { cert?: string; key?: string; ca?: string } = {};
      try {
        const cert = readPem(flags.cert, '--cert');
        const key = readPem(flags.key, '--key');
        const ca = readPem(flags.ca, '--ca');
        tls = { ...(cert ? { cert } : {}), ...(key ? { key } : {}), ...(ca ? { ca } : {}) };
      } catch (error) {
        command.error(`error: ${(error as Error).message}`, { exitCode: 2 });
      }
      const say = (text: string) => void process.stderr.write(text);
      const http = createGatewayHttp({ ...tls, connectTimeoutMs: 10_000, headersTimeoutMs: 10_000 });
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        await login({
          url: flags.url,
          device: flags.device,
          openBrowser: flags.browser ? openBrowser : () => false,
          loopbackTimeoutMs: flags.timeout * 1000,
          gatewayFetch: http.fetch,
          // The CLI is its own configuration boundary: where the credentials live comes from the environment.
          store: new CredentialStore(defaultCredentialsPath(process.env)),
          say,
          signal: stop.signal,
        });
      } catch (error) {
        say(`gatehouse login: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exitCode = exitCodeOf(error);
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        await http.close();
      }
    });
}
