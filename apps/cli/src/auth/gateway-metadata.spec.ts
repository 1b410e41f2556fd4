import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { LoginErrorCode } from './errors';
import { discoverGatewaySignIn } from './gateway-metadata';

type Route = { status: number; body?: unknown; headers?: Record<string, string> };

/**
 * A protected resource that publishes its metadata in one of the ways RFC 9728 allows. The real
 * gateway publishes every form at once (its login is tested in e2e/bridge-login), so the fallbacks
 * and the refusals need a server that publishes only one, or a wrong one.
 */
async function resourceServer(routes: (base: string) => Record<string, Route>) {
  let base = '';
  const seen: string[] = [];
  const server: Server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const route = routes(base)[req.url ?? ''] ?? { status: 404, body: 'not found' };
    res.writeHead(route.status, { 'content-type': 'application/json', ...route.headers });
    res.end(typeof route.body === 'string' ? route.body : JSON.stringify(route.body ?? {}));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    seen,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

const metadata = (base: string, extra: Record<string, unknown> = {}) => ({
  resource: `${base}/mcp`,
  authorization_servers: ['https://idp.example.com', 'https://other-idp.example.com'],
  ...extra,
});

describe('finding the IdP of a gateway (RFC 9728)', () => {
  const servers: Array<{ close(): Promise<unknown> }> = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) await server.close();
  });

  async function serve(routes: (base: string) => Record<string, Route>) {
    const server = await resourceServer(routes);
    servers.push(server);
    return server;
  }

  it('reads the path-suffixed metadata of /mcp first, with the CLI client and scopes the gateway names', async () => {
    const server = await serve((base) => ({
      '/.well-known/oauth-protected-resource/mcp': {
        status: 200,
        body: metadata(base, { scopes_supported: ['mcp'], gatehouse_cli_client_id: 'corp-cli' }),
      },
    }));

    const found = await discoverGatewaySignIn(new URL(`${server.base}/mcp`), fetch);

    expect(found).toEqual({
      gateway: server.base,
      resource: `${server.base}/mcp`,
      issuer: 'https://idp.example.com',
      scopes: ['mcp'],
      clientId: 'corp-cli',
      metadataUrl: `${server.base}/.well-known/oauth-protected-resource/mcp`,
    });
    expect(server.seen).toEqual(['GET /.well-known/oauth-protected-resource/mcp']);
  });

  it('falls back to the resource_metadata of the 401 challenge of /mcp', async () => {
    const server = await serve((base) => ({
      '/mcp': {
        status: 401,
        headers: { 'www-authenticate': `Bearer resource_metadata="${base}/meta/elsewhere"` },
      },
      '/meta/elsewhere': { status: 200, body: metadata(base) },
    }));

    const found = await discoverGatewaySignIn(new URL(server.base), fetch);

    expect(found).toMatchObject({ issuer: 'https://idp.example.com', clientId: 'gatehouse-cli', scopes: [] });
    expect(server.seen).toEqual([
      'GET /.well-known/oauth-protected-resource/mcp',
      'GET /mcp',
      'GET /meta/elsewhere',
    ]);
  });

  it('then tries the metadata without the /mcp suffix', async () => {
    const server = await serve((base) => ({
      '/.well-known/oauth-protected-resource': { status: 200, body: metadata(base) },
    }));

    await expect(discoverGatewaySignIn(new URL(server.base), fetch)).resolves.toMatchObject({
      resource: `${server.base}/mcp`,
    });
  });

  it('refuses metadata naming another resource, so no token is asked for someone else', async () => {
    const server = await serve(() => ({
      '/.well-known/oauth-protected-resource/mcp': {
        status: 200,
        body: {
          resource: 'https://payroll.example.com/mcp',
          authorization_servers: ['https://idp.example.com'],
        },
      },
    }));

    const found = discoverGatewaySignIn(new URL(server.base), fetch);

    await expect(found).rejects.toMatchObject({ code: LoginErrorCode.METADATA_INVALID });
    await expect(found).rejects.toThrow(
      `names https://payroll.example.com/mcp as its resource, which is not its own address`,
    );
  });

  it.each([
    ['no authorization server', { authorization_servers: [] }, /authorization_servers: /],
    ['not JSON', 'not json at all', /is not JSON/],
  ])('refuses metadata with %s', async (_what, body, message) => {
    const server = await serve((base) => ({
      '/.well-known/oauth-protected-resource/mcp': {
        status: 200,
        body: typeof body === 'string' ? body : metadata(base, body),
      },
    }));

    await expect(discoverGatewaySignIn(new URL(server.base), fetch)).rejects.toThrow(message);
  });

  it('says a gateway without metadata or challenge does not ask for sign-in', async () => {
    const server = await serve(() => ({ '/mcp': { status: 405 } }));

    const found = discoverGatewaySignIn(new URL(server.base), fetch);

    await expect(found).rejects.toMatchObject({ code: LoginErrorCode.NO_SIGN_IN });
    await expect(found).rejects.toThrow('answered 405, not 401); the bridge needs no login for it');
  });
});
