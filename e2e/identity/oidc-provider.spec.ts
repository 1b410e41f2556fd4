import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { OAuthClientInformationMixed, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { COMPLETE_LINK, runCli } from '../../apps/cli/src/auth/__tests__/cli';
import { startHost } from '../../apps/cli/src/bridge/__tests__/host';
import type { RunningGateway } from '../../apps/gateway/src/bootstrap';
import {
  approveDevice,
  authorizeAs,
  devUserToken,
  serviceToken,
  startDevIdp,
  type StartedDevIdp,
} from '../support/dev-idp';
import { demoUpstreamsYaml, gatewayWith, initializeBody, rawPost } from '../transport/helpers';
import { freePort, spawnGateway, type GatewayProcess } from '../transport/processes';

/**
 * Identity against a real OpenID Provider (oidc-provider, the development IdP, in its own
 * process): the happy paths real IdPs produce. The forged-token attack table is in
 * resource-server.spec.ts.
 */

const CLI = resolve(__dirname, '../../dist/apps/cli/src/main.js');

/** An MCP client's OAuth state, kept in memory: what a desktop host keeps in its keychain. */
class MemoryOAuthProvider implements OAuthClientProvider {
  authorizationUrl: URL | undefined;
  private saved: OAuthTokens | undefined;
  private verifier = '';
  constructor(private readonly port: number) {}
  get redirectUrl(): string {
    return `http://127.0.0.1:${this.port}/callback`;
  }
  get clientMetadata() {
    return {
      client_name: 'test host',
      redirect_uris: [this.redirectUrl],
      token_endpoint_auth_method: 'none',
      scope: 'openid mcp',
    };
  }
  clientInformation(): OAuthClientInformationMixed {
    return { client_id: 'gatehouse-cli' };
  }
  tokens(): OAuthTokens | undefined {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens): void {
    this.saved = tokens;
  }
  redirectToAuthorization(url: URL): void {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(v: string): void {
    this.verifier = v;
  }
  codeVerifier(): string {
    return this.verifier;
  }
}

describe('with a real OpenID Provider', () => {
  let idp: StartedDevIdp;
  let gw: RunningGateway & { logs: string[] };
  let resource: string;

  beforeAll(async () => {
    // The IdP needs the gateway's resource URI before the gateway starts, and OAuth clients check
    // it against the URL they connect to, so the gateway's port is chosen up front.
    const port = await freePort();
    resource = `http://127.0.0.1:${port}/mcp`;
    idp = await startDevIdp({ resource });
    gw = await gatewayWith(
      `auth:
  issuer: ${idp.issuer}
  audience: ${resource}
  introspection:
    clientId: gatehouse-introspection
    clientSecret: \${INTROSPECTION_SECRET}
  roles:
    admin: [admin]
  serviceAccounts:
    ci-bot:
      groups: [ci]
${demoUpstreamsYaml('shared')}`,
      { INTROSPECTION_SECRET: idp.secrets['gatehouse-introspection'] },
      [`port: ${port}`],
    );
  });
  afterAll(async () => {
    await gw.close();
    await idp.close();
  });

  const openedBy = (subject: string) =>
    gw.logs
      .filter((l) => l.includes('session opened'))
      .map((l) => JSON.parse(l) as { principal: Record<string, unknown> })
      .find((l) => l.principal.subject === subject)?.principal;

  it('an MCP client that speaks OAuth connects without the bridge (401 → RFC 9728 → IdP → token)', async () => {
    const provider = new MemoryOAuthProvider(53_682);
    const url = new URL(`${gw.url}/mcp`);
    const first = new Client({ name: 'oauth-host', version: '1.0.0' });
    await expect(
      first.connect(new StreamableHTTPClientTransport(url, { authProvider: provider })),
    ).rejects.toThrow(/Unauthorized/i);
    const authUrl = provider.authorizationUrl as URL;
    expect(authUrl.href.startsWith(`${idp.issuer}/`)).toBe(true);
    expect(authUrl.searchParams.get('resource')).toBe(resource);
    const back = await authorizeAs(authUrl, 'alice');
    expect(back.searchParams.get('code')).toBeTruthy();
    const transport = new StreamableHTTPClientTransport(url, { authProvider: provider });
    await transport.finishAuth(back.searchParams.get('code') as string);
    const client = new Client({ name: 'oauth-host', version: '1.0.0' });
    await client.connect(transport);
    try {
      const result = await client.callTool({ name: 'everything__echo', arguments: { message: 'signed in' } });
      expect(JSON.stringify(result.content)).toContain('signed in');
      expect(openedBy('alice')).toMatchObject({ kind: 'user', clientId: 'gatehouse-cli' });
    } finally {
      await client.close();
    }
  });

  it('a person token carries name, email and groups; roles come from the configured groups', async () => {
    const res = await rawPost(`${gw.url}/mcp`, initializeBody(), {
      authorization: `Bearer ${await devUserToken(idp, 'carol')}`,
    });
    expect(res.status).toBe(200);
    expect(openedBy('carol')).toMatchObject({
      kind: 'user',
      subject: 'carol',
      name: expect.stringMatching(/carol/i),
      email: 'carol@example.com',
      groups: ['admin'],
      roles: ['admin'],
    });
  });

  it('a service account authenticates with the client-credentials grant', async () => {
    const res = await rawPost(`${gw.url}/mcp`, initializeBody(), {
      authorization: `Bearer ${await serviceToken(idp, 'ci-bot')}`,
    });
    expect(res.status).toBe(200);
    expect(openedBy('ci-bot')).toMatchObject({
      kind: 'service',
      clientId: 'ci-bot',
      groups: ['ci'],
      roles: [],
    });
  });

  it('an opaque token is checked by RFC 7662 introspection', async () => {
    const opaque = await serviceToken(idp, 'opaque-client');
    expect(opaque.split('.')).toHaveLength(1);
    const res = await rawPost(`${gw.url}/mcp`, initializeBody(), { authorization: `Bearer ${opaque}` });
    expect(res.status).toBe(200);
    expect(openedBy('opaque-client')).toMatchObject({ kind: 'service' });
    const bogus = await rawPost(`${gw.url}/mcp`, initializeBody(), {
      authorization: 'Bearer not-a-token-the-idp-issued',
    });
    expect(bogus.status).toBe(401);
    expect(bogus.json.error.data.auth).toBe('TOKEN_INACTIVE');
  });
});

describe('the embedded start (development IdP mounted in the gateway)', () => {
  let gw: GatewayProcess;

  beforeAll(async () => {
    // No auth section and no issuer: the default development mode, as `npm start` runs it.
    gw = await spawnGateway(`auth: {}\n${demoUpstreamsYaml('shared')}`);
  });
  afterAll(async () => gw.stop());

  it('challenges unauthenticated calls and serves a token from its own IdP', async () => {
    const denied = await rawPost(`${gw.url}/mcp`, initializeBody());
    expect(denied.status).toBe(401);
    const meta = (await (await fetch(`${gw.url}/.well-known/oauth-protected-resource/mcp`)).json()) as {
      authorization_servers: string[];
      resource: string;
      scopes_supported: string[];
    };
    expect(meta).toMatchObject({
      authorization_servers: [`${gw.url}/dev-idp`],
      resource: `${gw.url}/mcp`,
      scopes_supported: ['mcp'],
    });
    const { issuer, secrets } = JSON.parse(readFileSync(join(gw.dataDir, 'dev-idp', 'secrets.json'), 'utf8'));
    expect(issuer).toBe(meta.authorization_servers[0]);
    const token = await devUserToken({ issuer, secrets }, 'alice');
    const init = await rawPost(`${gw.url}/mcp`, initializeBody(), { authorization: `Bearer ${token}` });
    expect(init.status).toBe(200);
    expect(gw.output.join('')).toMatch(/DEVELOPMENT IdP \(for development only/);
  });

  it('a new user: gatehouse login (device flow on the built-in IdP), then a host through the bridge calls a tool', async () => {
    const xdg = mkdtempSync(join(tmpdir(), 'gatehouse-first-run-'));
    try {
      const run = runCli(['login', '--url', gw.url], { XDG_CONFIG_HOME: xdg });
      const [, link] = await run.waitFor(COMPLETE_LINK);
      expect(link?.startsWith(`${gw.url}/dev-idp/`)).toBe(true);
      await approveDevice(link as string, 'alice');
      expect(await run.exit).toBe(0);
      const host = await startHost(`${gw.url}/mcp`, { env: { XDG_CONFIG_HOME: xdg } });
      try {
        const result = await host.client.callTool({
          name: 'everything__echo',
          arguments: { message: 'first run' },
        });
        expect(JSON.stringify(result.content)).toContain('first run');
      } finally {
        await host.close();
      }
    } finally {
      rmSync(xdg, { recursive: true, force: true });
    }
  });

  it('gatehouse dev-token prints a token the gateway accepts', () => {
    const out = spawnSync(
      process.execPath,
      [CLI, 'dev-token', 'frank', '--url', gw.url, '--data-dir', gw.dataDir],
      {
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    expect(out.stderr).toBe('');
    expect(out.status).toBe(0);
    const token = out.stdout.trim();
    expect(token.split('.')).toHaveLength(3);
    return rawPost(`${gw.url}/mcp`, initializeBody(), { authorization: `Bearer ${token}` }).then((res) => {
      expect(res.status).toBe(200);
    });
  });
});
