import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

import Provider, {
  errors,
  type Account,
  type Client,
  type Configuration,
  type ResourceServerInfo,
  type Token,
} from 'oidc-provider';

import { loadSigningKeys, writeSecrets } from './files';
import { memoryAdapter } from './memory-adapter';
import {
  deviceCodeInputPage,
  deviceConfirmPage,
  deviceSuccessPage,
  errorPage,
  loginPage,
  logoutPage,
  signedOutPage,
} from './pages';
import {
  DEV_IDP_CLIENTS,
  DEV_USER_GRANT,
  MCP_SCOPE,
  SEEDED_USERS,
  findSeededUser,
  type DevIdpSecrets,
} from './users';

export interface DevIdpOptions {
  /** The issuer URL; may carry a path when mounted in the gateway, e.g. `http://127.0.0.1:8080/dev-idp`. */
  issuer: string;
  /** The gateway's resource URI (RFC 8707): the default resource of every client and the tokens' `aud`. */
  resource: string;
  /** The console's redirect URIs; default `<resource origin>/auth/callback`. */
  consoleRedirectUris?: string[];
  /** Where the console may send people after logout; default `<resource origin>/`. */
  consolePostLogoutRedirectUris?: string[];
  /** Lifetime of access tokens for the gateway; default 300 s. */
  accessTokenTtlSeconds?: number;
  /** When set, the signing keys and the client secrets are written under `<dataDir>/dev-idp/` (0600). */
  dataDir?: string;
  /** Unexpected errors inside the IdP (500s); default: a line on stderr. */
  onError?: (error: unknown) => void;
}

/** A running development IdP, ready to be served by any Node HTTP server or mounted in Fastify. */
export interface DevIdp {
  issuer: string;
  /** Secrets of the confidential clients (new on every start). */
  secrets: DevIdpSecrets;
  /** Serves a request whose URL is relative to the issuer's path (the mount strips it). */
  callback: (req: IncomingMessage, res: ServerResponse) => void;
  close(): Promise<void>;
}

/** Device-flow clients may poll every second: faster sign-ins for people and tests alike. */
const DEVICE_POLL_INTERVAL_SECONDS = 1;
const MAX_FORM_BYTES = 8 * 1024;

const userList = () => SEEDED_USERS.map((u) => u.username).join(', ');

function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** Reads a small urlencoded form body. */
async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const type = req.headers['content-type'] ?? '';
  if (!type.startsWith('application/x-www-form-urlencoded')) {
    throw new errors.InvalidRequest('expected a form submission (application/x-www-form-urlencoded)');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) throw new errors.InvalidRequest('form too large', 413);
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(html);
}

/**
 * Builds the embedded development IdP (oidc-provider) with seeded users and Gatehouse's clients.
 * DEVELOPMENT ONLY: there are no passwords, and it refuses to start when NODE_ENV=production.
 */
export async function createDevIdp(options: DevIdpOptions): Promise<DevIdp> {
  // Configuration validation refuses auth.mode dev in production already; this guards every other
  // way in (the standalone runner, a future caller) because a password-less IdP must never run there.
  if (process.env.NODE_ENV === 'production') {
    throw new Error('the Gatehouse development IdP refuses to start when NODE_ENV=production');
  }
  const { issuer, resource } = options;
  const basePath = new URL(issuer).pathname.replace(/\/$/, '');
  const gateway = new URL(resource).origin;
  const accessTokenTtl = options.accessTokenTtlSeconds ?? 300;
  const onError =
    options.onError ??
    ((error: unknown) =>
      process.stderr.write(`dev-idp: ${error instanceof Error ? error.stack : String(error)}\n`));

  const secrets: DevIdpSecrets = {
    'ci-bot': newSecret(),
    'gatehouse-introspection': newSecret(),
    'opaque-client': newSecret(),
    'gatehouse-dev-token': newSecret(),
  };
  const keys = await loadSigningKeys(options.dataDir);

  const resourceServer = (client: Client): ResourceServerInfo =>
    client.clientId === DEV_IDP_CLIENTS.opaque
      ? { scope: MCP_SCOPE, accessTokenTTL: accessTokenTtl, accessTokenFormat: 'opaque' }
      : {
          scope: MCP_SCOPE,
          accessTokenTTL: accessTokenTtl,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };

  const clientName = (client: Client | undefined) =>
    client?.clientName ?? client?.clientId ?? 'An application';

  const configuration: Configuration = {
    adapter: memoryAdapter(),
    jwks: { keys },
    clients: [
      {
        client_id: DEV_IDP_CLIENTS.cli,
        client_name: 'Gatehouse CLI',
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'authorization_code', 'refresh_token'],
        response_types: ['code'],
        // RFC 8252: any port on the loopback address is accepted for native clients.
        redirect_uris: ['http://127.0.0.1/callback'],
      },
      {
        client_id: DEV_IDP_CLIENTS.console,
        client_name: 'Gatehouse console',
        application_type: 'web',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: options.consoleRedirectUris ?? [`${gateway}/auth/callback`],
        post_logout_redirect_uris: options.consolePostLogoutRedirectUris ?? [`${gateway}/`],
      },
      {
        client_id: DEV_IDP_CLIENTS.serviceAccount,
        client_name: 'CI bot (service account)',
        client_secret: secrets['ci-bot'],
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
      },
      {
        client_id: DEV_IDP_CLIENTS.introspection,
        client_name: 'Gatehouse gateway (introspection)',
        client_secret: secrets['gatehouse-introspection'],
        grant_types: [],
        response_types: [],
        redirect_uris: [],
      },
      {
        client_id: DEV_IDP_CLIENTS.opaque,
        client_name: 'Opaque-token client',
        client_secret: secrets['opaque-client'],
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
      },
      {
        client_id: DEV_IDP_CLIENTS.devToken,
        client_name: 'gatehouse dev-token',
        client_secret: secrets['gatehouse-dev-token'],
        grant_types: [DEV_USER_GRANT],
        response_types: [],
        redirect_uris: [],
      },
    ],
    cookies: {
      keys: [randomBytes(32).toString('base64url')],
      // Lax, not None: over plain http browsers drop SameSite=None cookies, and only redirects
      // (top-level GETs) bring people back here.
      long: { signed: true, sameSite: 'lax' },
      short: { signed: true, sameSite: 'lax' },
    },
    claims: {
      openid: ['sub'],
      profile: ['name', 'groups'],
      email: ['email', 'email_verified'],
      groups: ['groups'],
    },
    scopes: ['openid', 'offline_access', 'profile', 'email', 'groups'],
    responseTypes: ['code'],
    // ID tokens carry the scope's claims (groups, name, email): the console maps roles from them.
    conformIdTokenClaims: false,
    clientBasedCORS: () => false,
    async findAccount(_ctx, sub): Promise<Account | undefined> {
      const user = findSeededUser(sub);
      if (user === undefined) return undefined;
      return {
        accountId: user.username,
        claims: () => ({
          sub: user.username,
          name: user.name,
          email: user.email,
          email_verified: true,
          groups: user.groups,
        }),
      };
    },
    async extraTokenClaims(_ctx, token: Token) {
      if (token.accountId !== undefined) {
        const user = findSeededUser(token.accountId);
        return user && { groups: user.groups, name: user.name, email: user.email };
      }
      // A service account's subject is its client id (opaque tokens show it on introspection).
      if (token.kind === 'ClientCredentials') return { sub: token.clientId };
      return undefined;
    },
    // Every client allowed the refresh grant (the CLI and the console) gets one, without offline_access.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    pkce: { methods: ['S256'], required: () => true },
    interactions: { url: async (_ctx, interaction) => `${basePath}/interaction/${interaction.uid}` },
    ttl: {
      AccessToken: accessTokenTtl,
      ClientCredentials: accessTokenTtl,
      IdToken: 3600,
      AuthorizationCode: 60,
      DeviceCode: 600,
      Interaction: 600,
      Grant: 14 * 24 * 3600,
      Session: 24 * 3600,
      RefreshToken: 14 * 24 * 3600,
    },
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.body = errorPage(out.error, out.error_description);
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      revocation: { enabled: true },
      // Access tokens are always for the gateway resource, so there is no userinfo access token;
      // the ID token carries the claims instead.
      userinfo: { enabled: false },
      introspection: {
        enabled: true,
        // The gateway's introspection client may look at any token; other clients only at their own.
        allowedPolicy: async (_ctx, client, token) =>
          client.clientId === DEV_IDP_CLIENTS.introspection || token.clientId === client.clientId,
      },
      deviceFlow: {
        enabled: true,
        userCodeInputSource: async (ctx, form, out) => {
          ctx.body = deviceCodeInputPage(form, out?.error_description ?? (out ? out.error : undefined));
        },
        userCodeConfirmSource: async (ctx, form, client, _deviceInfo, userCode) => {
          ctx.body = deviceConfirmPage(form, clientName(client), userCode);
        },
        successSource: async (ctx) => {
          ctx.body = deviceSuccessPage(clientName(ctx.oidc.client));
        },
      },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => {
          ctx.body = logoutPage(form);
        },
        postLogoutSuccessSource: async (ctx) => {
          ctx.body = signedOutPage();
        },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => resource,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, indicator, client) => {
          if (indicator !== resource) {
            throw new errors.InvalidTarget(`this IdP only issues tokens for ${resource}`);
          }
          return resourceServer(client);
        },
      },
    },
  };

  const provider = new Provider(issuer, configuration);
  provider.on('server_error', (_ctx: unknown, error: unknown) => onError(error));

  provider.use(async (ctx, next) => {
    await next();
    if (ctx.oidc?.route === 'device_authorization' && ctx.status === 200 && typeof ctx.body === 'object') {
      ctx.body = { ...ctx.body, interval: DEVICE_POLL_INTERVAL_SECONDS };
    }
  });

  // The dev-user grant: the same access token a login would give, for scripts (`gatehouse dev-token`).
  provider.registerGrantType(
    DEV_USER_GRANT,
    async (ctx) => {
      const client = ctx.oidc.client;
      const username = ctx.oidc.params.username;
      if (client === undefined) throw new errors.InvalidRequest('client authentication is required');
      if (typeof username !== 'string' || username === '') {
        throw new errors.InvalidRequest(`username is required; the seeded users are ${userList()}`);
      }
      const user = findSeededUser(username);
      if (user === undefined) {
        throw new errors.InvalidRequest(`unknown user "${username}"; the seeded users are ${userList()}`);
      }
      const grant = new provider.Grant({ accountId: user.username, clientId: client.clientId });
      grant.addResourceScope(resource, MCP_SCOPE);
      const grantId = await grant.save();
      const token = new provider.AccessToken({
        accountId: user.username,
        client,
        grantId,
        gty: 'dev_user',
        scope: MCP_SCOPE,
      });
      token.resourceServer = new provider.ResourceServer(resource, resourceServer(client));
      ctx.oidc.entity('AccessToken', token);
      const accessToken = await token.save();
      ctx.body = {
        access_token: accessToken,
        token_type: token.tokenType,
        expires_in: token.expiration,
        scope: token.scope,
      };
    },
    ['username'],
  );

  // Static clients are validated lazily by oidc-provider; a bad one should stop the start instead.
  for (const id of Object.values(DEV_IDP_CLIENTS)) await provider.Client.find(id);

  if (options.dataDir !== undefined) await writeSecrets(options.dataDir, issuer, secrets);

  const serve = provider.callback();
  let closed = false;

  async function onInteraction(req: IncomingMessage, res: ServerResponse, uid: string, action?: string) {
    const interaction = await provider.interactionDetails(req, res);
    if (interaction.uid !== uid) {
      throw new errors.SessionNotFound(
        'this sign-in page belongs to another sign-in; start again from the application',
      );
    }
    const { prompt } = interaction;
    if (req.method === 'GET' && action === undefined && prompt.name === 'login') {
      const client = await provider.Client.find(String(interaction.params.client_id));
      const self = `${basePath}/interaction/${uid}`;
      sendHtml(res, 200, loginPage(`${self}/login`, `${self}/abort`, clientName(client), SEEDED_USERS));
      return;
    }
    if (req.method === 'GET' && action === undefined && prompt.name === 'consent') {
      // First-party clients only: consent is granted without asking.
      const accountId = interaction.session?.accountId;
      if (accountId === undefined) throw new errors.SessionNotFound('no signed-in user for this consent');
      const grant =
        (interaction.grantId !== undefined ? await provider.Grant.find(interaction.grantId) : undefined) ??
        new provider.Grant({ accountId, clientId: String(interaction.params.client_id) });
      const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = prompt.details;
      if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
      if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
      for (const [indicator, scopes] of Object.entries(missingResourceScopes ?? {})) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
      const grantId = await grant.save();
      await provider.interactionFinished(
        req,
        res,
        { consent: { grantId } },
        { mergeWithLastSubmission: true },
      );
      return;
    }
    if (req.method === 'POST' && action === 'login' && prompt.name === 'login') {
      const username = (await readForm(req)).get('username') ?? '';
      const user = findSeededUser(username);
      if (user === undefined) {
        throw new errors.InvalidRequest(`unknown user "${username}"; the seeded users are ${userList()}`);
      }
      await provider.interactionFinished(
        req,
        res,
        { login: { accountId: user.username } },
        { mergeWithLastSubmission: false },
      );
      return;
    }
    if (req.method === 'POST' && action === 'abort') {
      await provider.interactionFinished(
        req,
        res,
        { error: 'access_denied', error_description: 'the user cancelled the sign-in' },
        { mergeWithLastSubmission: false },
      );
      return;
    }
    throw new errors.InvalidRequest(
      `nothing to do for ${req.method ?? 'GET'} at this step (${prompt.name})`,
      405,
    );
  }

  function callback(req: IncomingMessage, res: ServerResponse): void {
    if (closed) {
      sendHtml(res, 503, errorPage('temporarily_unavailable', 'the development IdP is shutting down'));
      return;
    }
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const match = /^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login|abort))?\/?$/.exec(path);
    if (match === null) {
      serve(req, res);
      return;
    }
    onInteraction(req, res, match[1] ?? '', match[2]).catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (error instanceof errors.OIDCProviderError) {
        sendHtml(res, error.status, errorPage(error.error, error.error_description));
        return;
      }
      onError(error);
      sendHtml(res, 500, errorPage('server_error', 'the development IdP failed; see its log'));
    });
  }

  return {
    issuer,
    secrets,
    callback,
    close: async () => {
      closed = true;
    },
  };
}
