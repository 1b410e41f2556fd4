import { readFileSync } from 'node:fs';

import { Command, InvalidArgumentError, Option } from 'commander';

import { CredentialStore, defaultCredentialsPath, gatewayKey } from '../auth/credential-store';
import { loginCommandFor } from '../auth/errors';
import { LoginTokenSource } from '../auth/token-source';
import { Bridge, type BridgeAuth } from '../bridge/bridge';
import { createGatewayHttp } from '../bridge/http';
import { LOG_LEVELS, Logger, type LogFormat, type LogLevel } from '../bridge/logger';
import { DEFAULT_RETRY_POLICY } from '../bridge/retry';
import { cliVersion } from '../bridge/version';
import { FallbackRoute } from '../direct/fallback-route';
import { identityOf } from '../direct/identity';
import { BRIDGE_VERSION_HEADER, IngestClient } from '../direct/ingest-client';
import { loadDirectTarget, type DirectTarget } from '../direct/legacy-config';
import { isAggregated } from '../direct/namespace';
import { ShadowBridge } from '../direct/shadow-bridge';
import { defaultSpoolDir, DEFAULT_SPOOL_MAX_BYTES, Spool, spoolPath } from '../direct/spool';
import { SpoolUploader } from '../direct/uploader';

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
  shadow?: boolean;
  direct?: string;
  fallback?: string;
  server?: string;
  as?: string;
  spoolMaxMb: number;
}

/**
 * Retry defaults in fallback mode: a host waits for the first call of an outage until the
 * bridge gives up on the gateway, so that wait is seconds, not the relay's minute.
 */
const FALLBACK_RETRY = { retries: 2, budgetMs: 5_000, connectTimeoutMs: 3_000 };

/** The bearer token of an `authorization` header given with --header, if that is one. */
function headerBearer(headers: Record<string, string>): string | undefined {
  const value = Object.entries(headers).find(([name]) => name.toLowerCase() === 'authorization')?.[1];
  const match = value === undefined ? null : /^Bearer\s+(.+)$/i.exec(value.trim());
  return match?.[1];
}

function parseMegabytes(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError('expected a whole number of megabytes, 1 or more');
  return n;
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
    .option(
      '--shadow',
      'shadow mode: serve every call from the server in --direct (the gateway is never in the call path) ' +
        'and report each call to the gateway, which records what its policy would have decided',
    )
    .option(
      '--direct <file>',
      'with --shadow: the host config (Claude Desktop, Cursor or VS Code JSON) of the direct server',
    )
    .option(
      '--fallback <file>',
      'fallback mode: relay to the gateway, but while it is unreachable serve calls from the server in this host ' +
        "config, spool a record of each (fsync'd) and upload the spool when the gateway is back",
    )
    .option('--server <name>', 'with --direct or --fallback: the server to use when the file has several')
    .option(
      '--as <name>',
      "with --direct or --fallback: the gateway upstream name of that server, when it differs from the file's",
    )
    .option(
      '--spool-max-mb <n>',
      'cap of the spool of calls not yet uploaded; offline calls are refused when it is full',
      parseMegabytes,
      DEFAULT_SPOOL_MAX_BYTES / (1024 * 1024),
    )
    .addHelpText(
      'after',
      '\nSpool: $XDG_STATE_HOME/gatehouse/spool (default ~/.local/state/gatehouse/spool), one file per gateway ' +
        'and identity; any bridge uploads a leftover spool for its gateway at start. See docs/bridge.md.',
    )
    .action(async (flags: BridgeFlags, command: Command) => {
      if ((flags.cert === undefined) !== (flags.key === undefined)) {
        command.error('error: --cert and --key go together', { exitCode: 2 });
      }
      if (flags.shadow && flags.direct === undefined) {
        command.error('error: --shadow needs --direct <host config file> naming the server to run calls on', {
          exitCode: 2,
        });
      }
      if (flags.direct !== undefined && !flags.shadow) {
        command.error('error: --direct is for --shadow; for an offline fallback use --fallback <file>', {
          exitCode: 2,
        });
      }
      if (flags.shadow && flags.fallback !== undefined) {
        command.error(
          'error: --shadow and --fallback exclude each other (shadow never uses the gateway in the call path)',
          {
            exitCode: 2,
          },
        );
      }
      const legacyFile = flags.direct ?? flags.fallback;
      if (legacyFile === undefined && (flags.server !== undefined || flags.as !== undefined)) {
        command.error('error: --server and --as go with --direct or --fallback', { exitCode: 2 });
      }
      let target: DirectTarget | undefined;
      if (legacyFile !== undefined) {
        try {
          target = loadDirectTarget(legacyFile, {
            ...(flags.server !== undefined ? { server: flags.server } : {}),
            ...(flags.as !== undefined ? { as: flags.as } : {}),
          });
        } catch (error) {
          command.error(`error: ${(error as Error).message}`, { exitCode: 2 });
        }
      }
      if (flags.fallback !== undefined) {
        // Unless set on the command line, give up on the gateway within seconds (see FALLBACK_RETRY).
        if (command.getOptionValueSource('retries') === 'default') flags.retries = FALLBACK_RETRY.retries;
        if (command.getOptionValueSource('retryBudget') === 'default')
          flags.retryBudget = FALLBACK_RETRY.budgetMs;
        if (command.getOptionValueSource('connectTimeout') === 'default') {
          flags.connectTimeout = FALLBACK_RETRY.connectTimeoutMs;
        }
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
      const version = cliVersion();
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
      let loginToken: string | undefined;
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
          const login = await source.load();
          loggedIn = login !== undefined;
          loginToken = login?.accessToken;
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

      const http = {
        ...(cert !== undefined ? { cert } : {}),
        ...(key !== undefined ? { key } : {}),
        ...(ca !== undefined ? { ca } : {}),
        connectTimeoutMs: flags.connectTimeout,
        headersTimeoutMs: flags.timeout,
      };
      // Every bridge looks after the spool of its gateway and identity: a leftover one is uploaded at start.
      const ingestHttp = createGatewayHttp(http);
      const spool = new Spool({
        path: spoolPath(
          defaultSpoolDir(process.env),
          gateway,
          identityOf(token ?? loginToken ?? headerBearer(headers)),
        ),
        maxBytes: flags.spoolMaxMb * 1024 * 1024,
        log: logger,
      });
      const uploader = new SpoolUploader({
        spool,
        log: logger,
        client: new IngestClient({
          gateway,
          fetch: ingestHttp.fetch,
          headers,
          ...(auth.provider ? { auth: auth.provider } : {}),
          bridgeVersion: version,
          timeoutMs: Math.min(flags.timeout, 30_000),
        }),
      });
      const stop = (run: { close(reason: string): Promise<void> }) => {
        process.once('SIGINT', () => void run.close('received SIGINT'));
        process.once('SIGTERM', () => void run.close('received SIGTERM'));
      };

      if (flags.shadow && target) {
        const shadow = new ShadowBridge({ target, spool, uploader, logger });
        stop(shadow);
        await shadow.start();
        await shadow.done();
        await ingestHttp.close();
        return;
      }

      const fallback =
        flags.fallback !== undefined && target
          ? new FallbackRoute({
              target,
              aggregated: isAggregated(flags.url),
              spool,
              uploader,
              logger,
              timeoutMs: flags.timeout,
              probe: () =>
                ingestHttp
                  .fetch(`${flags.url.origin}/readyz`, {
                    signal: AbortSignal.timeout(flags.connectTimeout + 2_000),
                  })
                  .then((response) => response.ok),
            })
          : undefined;
      uploader.kick();
      const bridge = new Bridge({
        url: flags.url,
        headers: { ...headers, [BRIDGE_VERSION_HEADER]: version },
        http,
        retry: {
          retries: flags.retries,
          initialDelayMs: flags.retryDelay,
          maxDelayMs: flags.retryMaxDelay,
          budgetMs: flags.retryBudget,
        },
        logger,
        auth,
        ...(fallback ? { fallback } : {}),
      });
      stop(bridge);
      await bridge.start();
      await bridge.done();
      await uploader.stop(2_000);
      await ingestHttp.close();
    });
}
