import { readFileSync } from 'node:fs';

import { Command, InvalidArgumentError, Option } from 'commander';

import { CredentialStore, defaultCredentialsPath, gatewayKey } from '../auth/credential-store';
import { loginCommandFor } from '../auth/errors';
import { LoginTokenSource } from '../auth/token-source';
import { Bridge, type BridgeAuth } from '../bridge/bridge';
import { LOG_LEVELS, Logger, type LogFormat, type LogLevel } from '../bridge/logger';
import { DEFAULT_RETRY_POLICY } from '../bridge/retry';

interface BridgeFlags {
  url: URL;
  tokenEnv: string;
  header: Array<[string, string]>;
  cert?: string;
  key?: string;
  ca?: string;
  timeout: number;
  connectTimeout: number;
  retries: number;
  retryDelay: number;
  retryMaxDelay: number;
  retryBudget: number;
  logFormat: LogFormat;
  logLevel: LogLevel;
}

/** Headers the transport derives from the traffic; a flag must not fight it. */
const RESERVED_HEADERS = new Set(['content-type', 'content-length', 'accept', 'host', 'last-event-id']);

export function parseUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError('expected an absolute URL such as https://gatehouse.example.com/mcp');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidArgumentError('the gateway URL must be http:// or https://');
  }
  return url;
}

function parseHeader(value: string, previous: Array<[string, string]>): Array<[string, string]> {
  const at = value.indexOf('=');
  const name = at > 0 ? value.slice(0, at).trim() : '';
  if (!name || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
    throw new InvalidArgumentError('expected name=value, e.g. --header x-tenant=acme');
  }
  const lower = name.toLowerCase();
  if (RESERVED_HEADERS.has(lower) || lower.startsWith('mcp-')) {
    throw new InvalidArgumentError(`${name} is set by the bridge from the MCP traffic`);
  }
  return [...previous, [name, value.slice(at + 1)]];
}

function parseMs(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new InvalidArgumentError('expected a whole number of milliseconds');
  return n;
}

function parseCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number');
  return n;
}

export function readPem(path: string | undefined, flag: string): string | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new InvalidArgumentError(`${flag}: cannot read ${path}: ${(error as Error).message}`);
  }
}

/** `gatehouse bridge`: stdio MCP server for agent hosts, relaying to a Gatehouse gateway over Streamable HTTP. */
export function bridgeCommand(): Command {
  return new Command('bridge')
    .description(
      'Serve MCP on stdin/stdout for an agent host (Claude Desktop, Cursor, VS Code) and relay every message ' +
        'to a Gatehouse gateway over Streamable HTTP. Logs go to stderr.',
    )
    .requiredOption('--url <url>', 'gateway MCP endpoint, e.g. https://gatehouse.example.com/mcp', parseUrl)
    .option('--token-env <name>', 'environment variable holding the bearer token', 'GATEHOUSE_TOKEN')
    .option('--header <name=value>', 'extra HTTP header for every request (repeatable)', parseHeader, [])
    .option('--cert <file>', 'client certificate (PEM) for mutual TLS')
    .option('--key <file>', 'private key (PEM) of the client certificate')
    .option('--ca <file>', 'CA bundle (PEM) to verify the gateway, instead of the system roots')
    .option('--timeout <ms>', 'longest wait for the gateway to start answering a request', parseMs, 120_000)
    .option('--connect-timeout <ms>', 'longest wait for a connection to the gateway', parseMs, 10_000)
    .option(
      '--retries <n>',
      'retries of a message the gateway did not take',
      parseCount,
      DEFAULT_RETRY_POLICY.retries,
    )
    .option(
      '--retry-delay <ms>',
      'first backoff delay (doubles, with jitter)',
      parseMs,
      DEFAULT_RETRY_POLICY.initialDelayMs,
    )
    .option('--retry-max-delay <ms>', 'largest backoff delay', parseMs, DEFAULT_RETRY_POLICY.maxDelayMs)
    .option(
      '--retry-budget <ms>',
      'stop retrying a message after this long',
      parseMs,
      DEFAULT_RETRY_POLICY.budgetMs,
    )
    .addOption(
      new Option('--log-format <format>', 'stderr log format').choices(['text', 'json']).default('text'),
    )
    .addOption(new Option('--log-level <level>', 'stderr log level').choices([...LOG_LEVELS]).default('info'))
    .action(async (flags: BridgeFlags, command: Command) => {
      if ((flags.cert === undefined) !== (flags.key === undefined)) {
        command.error('error: --cert and --key go together', { exitCode: 2 });
      }
      let cert: string | undefined;
      let key: string | undefined;
      let ca: string | undefined;
      try {
        cert = readPem(flags.cert, '--cert');
        key = readPem(flags.key, '--key');
        ca = readPem(flags.ca, '--ca');
      } catch (error) {
        command.error(`error: ${(error as Error).message}`, { exitCode: 2 });
      }
      // The CLI is its own configuration boundary: the token comes from the named variable only.
      const token = process.env[flags.tokenEnv]?.trim() || undefined;
      const headers: Record<string, string> = {};
      for (const [name, value] of flags.header) headers[name] = value;
      if (token !== undefined) {
        if (Object.keys(headers).some((name) => name.toLowerCase() === 'authorization')) {
          command.error(`error: both $${flags.tokenEnv} and --header authorization=... are set; keep one`, {
            exitCode: 2,
          });
        }
        headers.authorization = `Bearer ${token}`;
      }
      const logger = new Logger({
        format: flags.logFormat,
        level: flags.logLevel,
        secrets: [...(token !== undefined ? [token] : []), ...flags.header.map(([, value]) => value)],
      });
      // stdout is the protocol channel: anything a dependency prints goes to stderr instead.
      console.log = console.info = console.debug = console.error;

      const gateway = gatewayKey(flags.url);
      const relogin = loginCommandFor(gateway);
      let auth: BridgeAuth;
      let loggedIn = false;
      if (token !== undefined) {
        auth = {
          credential: `the token in $${flags.tokenEnv}`,
          remedy: `get a new one, or unset $${flags.tokenEnv} and run \`${relogin}\``,
        };
      } else if (Object.keys(headers).some((name) => name.toLowerCase() === 'authorization')) {
        auth = { credential: 'the authorization given with --header', remedy: 'correct that header' };
      } else {
        // No token given: the stored `gatehouse login` for this gateway, refreshed as it goes.
        const source = new LoginTokenSource({
          store: new CredentialStore(defaultCredentialsPath(process.env)),
          gateway,
          log: logger,
        });
        try {
          loggedIn = (await source.load()) !== undefined;
        } catch (error) {
          command.error(`error: ${(error as Error).message}`, { exitCode: 2 });
        }
        if (!loggedIn) {
          logger.info(
            `no $${flags.tokenEnv} and no stored login for ${gateway}; if the gateway asks for sign-in, run \`${relogin}\``,
          );
        }
        auth = {
          provider: source,
          credential: `the login for ${gateway}`,
          remedy: `run \`${relogin}\``,
        };
      }

      const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(flags.url.hostname);
      if ((token !== undefined || loggedIn) && flags.url.protocol === 'http:' && !loopback) {
        logger.warn('sending a bearer token over plain http; use https', { url: flags.url.href });
      }
      logger.debug('options', {
        url: flags.url.href,
        bearerFrom:
          token !== undefined
            ? `$${flags.tokenEnv}`
            : loggedIn
              ? `the stored login for ${gateway}`
              : `nothing ($${flags.tokenEnv} not set, no stored login)`,
        headers: flags.header.map(([name]) => name),
        mtls: cert !== undefined,
        ca: ca !== undefined,
      });

      const bridge = new Bridge({
        url: flags.url,
        headers,
        http: {
          ...(cert !== undefined ? { cert } : {}),
          ...(key !== undefined ? { key } : {}),
          ...(ca !== undefined ? { ca } : {}),
          connectTimeoutMs: flags.connectTimeout,
          headersTimeoutMs: flags.timeout,
        },
        retry: {
          retries: flags.retries,
          initialDelayMs: flags.retryDelay,
          maxDelayMs: flags.retryMaxDelay,
          budgetMs: flags.retryBudget,
        },
        logger,
        auth,
      });
      const stop = (signal: string) => void bridge.close(`received ${signal}`);
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
      await bridge.start();
      await bridge.done();
    });
}
