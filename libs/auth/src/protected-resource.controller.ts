import { Controller, Get, Header, Inject, NotFoundException } from '@nestjs/common';
import { authMode, GATEHOUSE_CONFIG, type GatehouseConfig } from '@gatehouse/config';
import { GatewayUrls } from './gateway-urls';

/**
 * RFC 9728 protected-resource metadata: how an MCP client finds the IdP that issues tokens for
 * this gateway. Served at the root form and the path-suffixed form for `/mcp`; the 401
 * challenge points at the latter.
 */
@Controller('.well-known/oauth-protected-resource')
export class ProtectedResourceController {
  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    private readonly urls: GatewayUrls,
  ) {}

  @Get()
  @Header('access-control-allow-origin', '*')
  @Header('cache-control', 'public, max-age=300')
  root(): Promise<Record<string, unknown>> {
    return this.document();
  }

  @Get('mcp')
  @Header('access-control-allow-origin', '*')
  @Header('cache-control', 'public, max-age=300')
  mcp(): Promise<Record<string, unknown>> {
    return this.document();
  }

  private async document(): Promise<Record<string, unknown>> {
    if (authMode(this.config) === 'none') {
      throw new NotFoundException(
        'authentication is off (auth.mode: none); there is no authorization server',
      );
    }
    const urls = await this.urls.ready();
    const { auth, server } = this.config;
    return {
      resource: urls.resource,
      authorization_servers: [urls.issuer],
      bearer_methods_supported: ['header'],
      ...scopes(this.config),
      resource_name: 'Gatehouse MCP gateway',
      tls_client_certificate_bound_access_tokens: (server.tls?.clientCertificate ?? 'off') !== 'off',
      // Extension member (RFC 9728 §2 allows others): the public client `gatehouse login` uses.
      gatehouse_cli_client_id: auth.cliClientId,
    };
  }
}

/**
 * The scopes clients should request. With none required, say nothing so clients use their own
 * defaults (an empty list makes some request no scope at all, which IdPs refuse); the
 * development IdP knows the gateway's scope `mcp`, so the embedded start names it.
 */
function scopes(config: GatehouseConfig): { scopes_supported?: string[] } {
  if (config.auth.requiredScopes.length > 0) return { scopes_supported: config.auth.requiredScopes };
  return authMode(config) === 'dev' ? { scopes_supported: ['mcp'] } : {};
}
