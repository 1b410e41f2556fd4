import { extractWWWAuthenticateParams, type FetchLike } from '@modelcontextprotocol/client';
import { z } from 'zod';

import { gatewayKey } from './credential-store';
import { LoginError, LoginErrorCode } from './errors';

/** What a gateway says about signing in to it (RFC 9728 protected resource metadata). */
export interface GatewaySignIn {
  /** The gateway's key in the credentials file. */
  gateway: string;
  /** The resource URI to ask tokens for (RFC 8707) and the gateway checks in `aud`. */
  resource: string;
  /** The IdP: the first of the metadata's `authorization_servers`. */
  issuer: string;
  /** Scopes the gateway uses (`scopes_supported`), asked for on top of the login scopes. */
  scopes: string[];
  /** The public client `gatehouse login` signs in as. */
  clientId: string;
  /** Where the metadata came from, for messages. */
  metadataUrl: string;
}

/** The client the gateway names when its metadata does not (the default of `auth.cliClientId`). */
export const DEFAULT_CLI_CLIENT_ID = 'gatehouse-cli';

const metadataSchema = z.object({
  resource: z.string().min(1),
  authorization_servers: z.array(z.string().min(1)).min(1),
  scopes_supported: z.array(z.string().min(1)).optional(),
  gatehouse_cli_client_id: z.string().min(1).optional(),
});

/**
 * Finds the gateway's IdP: first its RFC 9728 metadata at
 * `/.well-known/oauth-protected-resource/mcp`, then the `resource_metadata`
 * named in the 401 challenge of `/mcp`, then the metadata without the `/mcp`
 * suffix. The `resource` it names must be this gateway (RFC 9728 §3.3), so
 * a gateway cannot send the user to get a token for some other service.
 */
export async function discoverGatewaySignIn(
  url: URL,
  fetch: FetchLike,
  timeoutMs = 10_000,
): Promise<GatewaySignIn> {
  const gateway = gatewayKey(url);
  const base = new URL(gateway);
  const path = base.pathname.replace(/\/$/, '');
  const wellKnown = (suffix: string) =>
    new URL(`/.well-known/oauth-protected-resource${path}${suffix}`, base);

  const tried: string[] = [];
  const attempt = async (metadataUrl: URL): Promise<GatewaySignIn | undefined> => {
    tried.push(metadataUrl.href);
    const response = await get(fetch, metadataUrl, 'application/json', timeoutMs);
    if (response.status === 404) {
      await response.body?.cancel();
      return undefined;
    }
    return parseMetadata(response, metadataUrl, gateway);
  };

  const suffixed = await attempt(wellKnown('/mcp'));
  if (suffixed) return suffixed;

  const endpoint = new URL(`${gateway}/mcp`);
  const challenge = await get(fetch, endpoint, 'text/event-stream', timeoutMs);
  await challenge.body?.cancel();
  if (challenge.status === 401) {
    const { resourceMetadataUrl } = extractWWWAuthenticateParams(challenge);
    if (resourceMetadataUrl) {
      const fromChallenge = await attempt(resourceMetadataUrl);
      if (fromChallenge) return fromChallenge;
    }
  }

  const plain = await attempt(wellKnown(''));
  if (plain) return plain;

  throw new LoginError(
    LoginErrorCode.NO_SIGN_IN,
    challenge.status === 401
      ? `the gateway at ${gateway} asks for a token but publishes no OAuth metadata (tried ${tried.join(', ')}); ask its operator which IdP it trusts`
      : `the gateway at ${gateway} does not ask for sign-in (no OAuth metadata at ${tried.join(', ')}, and ${endpoint.href} answered ${challenge.status}, not 401); the bridge needs no login for it`,
  );
}

async function get(fetch: FetchLike, url: URL, accept: string, timeoutMs: number): Promise<Response> {
  try {
    return await fetch(url, { headers: { accept }, signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    throw new LoginError(
      LoginErrorCode.GATEWAY_UNREACHABLE,
      `cannot reach the gateway at ${url.origin}: ${describeNetworkError(error)}`,
      { cause: error },
    );
  }
}

async function parseMetadata(response: Response, metadataUrl: URL, gateway: string): Promise<GatewaySignIn> {
  const text = await response.text();
  if (!response.ok) {
    throw new LoginError(
      LoginErrorCode.METADATA_INVALID,
      `the gateway answered ${response.status} for its OAuth metadata at ${metadataUrl.href}: ${text.slice(0, 200)}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new LoginError(
      LoginErrorCode.METADATA_INVALID,
      `the OAuth metadata at ${metadataUrl.href} is not JSON: ${text.slice(0, 200)}`,
    );
  }
  const parsed = metadataSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new LoginError(
      LoginErrorCode.METADATA_INVALID,
      `the OAuth metadata at ${metadataUrl.href} is unusable (${issue ? `${issue.path.join('.') || 'document'}: ${issue.message}` : 'unexpected shape'})`,
    );
  }
  const metadata = parsed.data;
  const resource = metadata.resource.replace(/\/$/, '');
  if (resource !== `${gateway}/mcp` && resource !== gateway) {
    throw new LoginError(
      LoginErrorCode.METADATA_INVALID,
      `the gateway at ${gateway} names ${metadata.resource} as its resource, which is not its own address, so no token is asked for it. ` +
        `If the gateway is published under another address, log in with that one (its operator sets server.publicUrl).`,
    );
  }
  return {
    gateway,
    resource: metadata.resource,
    issuer: metadata.authorization_servers[0] as string,
    scopes: metadata.scopes_supported ?? [],
    clientId: metadata.gatehouse_cli_client_id ?? DEFAULT_CLI_CLIENT_ID,
    metadataUrl: metadataUrl.href,
  };
}

/** The innermost cause of a failed fetch, e.g. `connect ECONNREFUSED 127.0.0.1:8080`. */
export function describeNetworkError(error: unknown): string {
  let message = String(error);
  // Duck-typed: fetch's errors come from Node's own realm, which `instanceof` misses under Jest.
  let current = error as { message?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; depth < 5 && typeof current?.message === 'string'; depth++) {
    message = current.message;
    current = current.cause as typeof current;
  }
  return message;
}
