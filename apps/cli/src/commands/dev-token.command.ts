import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';

import { Command, InvalidArgumentError, Option } from 'commander';

/** The embedded development IdP's grant and client (see libs/auth/src/dev-idp/users.ts). */
const DEV_USER_GRANT = 'urn:gatehouse:params:oauth:grant-type:dev-user';
const DEV_TOKEN_CLIENT = 'gatehouse-dev-token';
const REQUEST_TIMEOUT_MS = 10_000;

interface DevTokenFlags {
  url: URL;
  dataDir: string;
}

/** A failure with a message meant for the person at the terminal. */
export class DevTokenError extends Error {}

function parseGatewayUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError('expected an absolute URL such as http://127.0.0.1:8080');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidArgumentError('the gateway URL must be http:// or https://');
  }
  return url;
}

function reason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}

async function getJson(url: URL): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url, {
    headers: { accept: 'application/json' },
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await response.text();
  try {
    return { status: response.status, body: JSON.parse(text) };
  } catch {
    return { status: response.status, body: undefined };
  }
}

/** The IdP and resource of the gateway, from its RFC 9728 protected-resource metadata. */
async function protectedResource(gateway: URL): Promise<{ issuer: string; resource: string }> {
  const path = gateway.pathname.replace(/\/$/, '');
  const metadataUrl = new URL(`/.well-known/oauth-protected-resource${path}`, gateway.origin);
  let answer: { status: number; body: unknown };
  try {
    answer = await getJson(metadataUrl);
  } catch (error) {
    throw new DevTokenError(
      `cannot reach the gateway at ${gateway.origin} (${reason(error)}); is it running (npm start)? ` +
        'Pass --url if it listens elsewhere.',
    );
  }
  if (answer.status === 404) {
    throw new DevTokenError(
      `the gateway at ${gateway.origin} publishes no ${metadataUrl.pathname}: it does not check tokens ` +
        '(auth.mode none), so it needs none.',
    );
  }
  const body = answer.body as { resource?: unknown; authorization_servers?: unknown[] } | undefined;
  const issuer = body?.authorization_servers?.[0];
  if (answer.status !== 200 || typeof issuer !== 'string' || typeof body?.resource !== 'string') {
    throw new DevTokenError(`${metadataUrl.href} answered ${answer.status} without an authorization server`);
  }
  return { issuer, resource: body.resource };
}

/** The dev-token client's secret, from the file the development IdP writes at start. */
async function devTokenSecret(dataDir: string, issuer: string): Promise<string> {
  const file = resolve(dataDir, 'dev-idp', 'secrets.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new DevTokenError(
        `${file} does not exist: the gateway (IdP ${issuer}) is not running the embedded development IdP ` +
          '(auth.mode dev), or its data directory is elsewhere (pass --data-dir).',
      );
    }
    throw new DevTokenError(`cannot read ${file}: ${(error as Error).message}`);
  }
  let saved: { issuer?: unknown; secrets?: Record<string, unknown> } | undefined;
  try {
    saved = JSON.parse(text) as typeof saved;
  } catch {
    saved = undefined;
  }
  const secret = saved?.secrets?.[DEV_TOKEN_CLIENT];
  if (typeof secret !== 'string') throw new DevTokenError(`${file} has no secret for ${DEV_TOKEN_CLIENT}`);
  // The secret only ever goes to the IdP that wrote it, never to whatever the metadata names.
  if (saved?.issuer !== issuer) {
    throw new DevTokenError(
      `the gateway uses the IdP ${issuer}, but ${file} belongs to the development IdP ${String(saved?.issuer)}: ` +
        'the gateway is not in dev mode, or that file is from another gateway (pass --data-dir).',
    );
  }
  return secret;
}

async function tokenEndpoint(issuer: string): Promise<URL> {
  const discoveryUrl = new URL(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`);
  let answer: { status: number; body: unknown };
  try {
    answer = await getJson(discoveryUrl);
  } catch (error) {
    throw new DevTokenError(`cannot reach the IdP at ${issuer} (${reason(error)})`);
  }
  const doc = answer.body as { token_endpoint?: unknown; grant_types_supported?: unknown[] } | undefined;
  if (answer.status !== 200 || typeof doc?.token_endpoint !== 'string') {
    throw new DevTokenError(`${discoveryUrl.href} answered ${answer.status} without a token endpoint`);
  }
  if (!doc.grant_types_supported?.includes(DEV_USER_GRANT)) {
    throw new DevTokenError(`${issuer} is not the Gatehouse development IdP (it has no dev-user grant)`);
  }
  return new URL(doc.token_endpoint);
}

/** The `aud` of a JWT, read without verifying it (the gateway verifies; this only catches a mix-up). */
function audienceOf(token: string): string | undefined {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      aud?: unknown;
    };
    return typeof payload.aud === 'string' ? payload.aud : undefined;
  } catch {
    return undefined;
  }
}

/** Fetches a development access token for `user` from the gateway's embedded IdP. */
export async function fetchDevToken(user: string, gateway: URL, dataDir: string): Promise<string> {
  const { issuer, resource } = await protectedResource(gateway);
  const secret = await devTokenSecret(dataDir, issuer);
  const endpoint = await tokenEndpoint(issuer);
  const credentials = `${encodeURIComponent(DEV_TOKEN_CLIENT)}:${encodeURIComponent(secret)}`;
  let response: Response;
  try {
    response = await fetch(endpoint, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(credentials).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: new URLSearchParams({ grant_type: DEV_USER_GRANT, username: user }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (error) {
    throw new DevTokenError(`cannot reach the IdP's token endpoint ${endpoint.href} (${reason(error)})`);
  }
  const body = (await response.json().catch(() => ({}))) as {
    access_token?: unknown;
    error?: string;
    error_description?: string;
  };
  if (response.status === 401) {
    throw new DevTokenError(
      `the IdP refused the ${DEV_TOKEN_CLIENT} secret from ${dataDir}: it has restarted since; is --data-dir ` +
        "the gateway's data directory?",
    );
  }
  if (!response.ok || typeof body.access_token !== 'string') {
    throw new DevTokenError(body.error_description ?? body.error ?? `the IdP answered ${response.status}`);
  }
  const audience = audienceOf(body.access_token);
  if (audience !== undefined && audience !== resource) {
    throw new DevTokenError(
      `the IdP issues tokens for ${audience}, but the gateway expects ${resource}: restart the gateway so both agree`,
    );
  }
  return body.access_token;
}

/** `gatehouse dev-token <user>`: prints a development access token, alone on stdout, for scripts. */
export function devTokenCommand(): Command {
  return new Command('dev-token')
    .description(
      "Print an access token for a seeded user of the gateway's embedded development IdP " +
        '(alice, bob, carol, dave, erin, frank), e.g. TOKEN=$(gatehouse dev-token alice). Development only.',
    )
    .argument('<user>', 'a seeded user, e.g. alice')
    .addOption(
      new Option('--url <url>', 'the gateway')
        .argParser(parseGatewayUrl)
        .default(new URL('http://127.0.0.1:8080'), 'http://127.0.0.1:8080'),
    )
    .option(
      '--data-dir <dir>',
      "the gateway's data directory, where the IdP writes dev-idp/secrets.json",
      // The CLI is its own configuration boundary: the same variable the gateway reads.
      process.env.GATEHOUSE_DATA_DIR ?? './.gatehouse',
    )
    .action(async (user: string, flags: DevTokenFlags) => {
      const token = await fetchDevToken(user, flags.url, flags.dataDir);
      process.stdout.write(`${token}\n`);
    });
}
