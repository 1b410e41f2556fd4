#!/usr/bin/env node
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';

import { createDevIdp } from './dev-idp';
import { DEV_ONLY_BANNER } from './pages';

const USAGE =
  'usage: node dist/libs/auth/src/dev-idp/main.js --resource <uri> [--port 0] [--host 127.0.0.1] ' +
  '[--access-token-ttl 300] [--console-base <gatewayUrl>] [--data-dir <dir>]';

function fail(message: string): never {
  process.stderr.write(`dev-idp: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function parse() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: 'string', default: '0' },
        host: { type: 'string', default: '127.0.0.1' },
        resource: { type: 'string' },
        'access-token-ttl': { type: 'string', default: '300' },
        'console-base': { type: 'string' },
        'data-dir': { type: 'string' },
      },
      strict: true,
    }));
  } catch (error) {
    fail((error as Error).message);
  }
  const port = Number(values.port);
  const ttl = Number(values['access-token-ttl']);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail('--port must be a port number');
  if (!Number.isInteger(ttl) || ttl <= 0) fail('--access-token-ttl must be a whole number of seconds');
  if (values.resource === undefined)
    fail('--resource is required (the gateway resource URI, e.g. http://127.0.0.1:8080/mcp)');
  for (const [flag, value] of [
    ['--resource', values.resource],
    ['--console-base', values['console-base']],
  ] as const) {
    if (value !== undefined && !URL.canParse(value)) fail(`${flag} must be an absolute URL`);
  }
  const consoleBase = values['console-base']?.replace(/\/$/, '');
  return {
    port,
    host: values.host,
    resource: values.resource,
    accessTokenTtlSeconds: ttl,
    dataDir: values['data-dir'],
    ...(consoleBase !== undefined
      ? {
          consoleRedirectUris: [`${consoleBase}/auth/callback`],
          consolePostLogoutRedirectUris: [`${consoleBase}/`],
        }
      : {}),
  };
}

/** The standalone development IdP: prints `{"issuer","secrets"}` as one line on stdout once it serves. */
async function main(): Promise<void> {
  const { port, host, ...options } = parse();
  // stdout carries exactly one JSON line; oidc-provider's notices go to stderr with everything else.
  console.log = console.info = console.debug = console.warn = console.error;

  // The issuer needs the port, so the server listens first and answers 503 until the IdP is built.
  let serve: RequestListener = (_req, res) => res.writeHead(503).end();
  const server = createServer((req, res) => serve(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const address = server.address() as AddressInfo;
  // Listening on every interface still needs one name in the issuer: the loopback address.
  const ip = address.address === '0.0.0.0' || address.address === '::' ? '127.0.0.1' : address.address;
  const hostname = ip.includes(':') ? `[${ip}]` : ip;
  const issuer = `http://${hostname}:${address.port}`;
  const idp = await createDevIdp({ ...options, issuer });
  serve = idp.callback;

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`dev-idp: ${signal}, stopping\n`);
    server.close();
    server.closeAllConnections();
    void idp.close();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));

  process.stderr.write(`dev-idp: ${DEV_ONLY_BANNER}; issuer ${issuer}, resource ${options.resource}\n`);
  process.stdout.write(`${JSON.stringify({ issuer, secrets: idp.secrets })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`dev-idp: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
