import { Inject, Module, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { authMode, GATEHOUSE_CONFIG, type GatehouseConfig } from '@gatehouse/config';
import { LOGGER, type Logger } from '@gatehouse/observability';
import { Authenticator } from './authenticator';
import { ConsoleAuthModule } from './console';
import { IdentityModule } from './identity.module';
import { loadDevIdp, mountDevIdp, type DevIdp } from './dev-idp';
import { DEV_IDP_PATH, GatewayUrls } from './gateway-urls';
import { ProtectedResourceController } from './protected-resource.controller';

/**
 * Identity: who is calling. Bearer tokens become principals (Authenticator), the gateway
 * describes itself as an OAuth protected resource (RFC 9728), and in the embedded start a
 * development IdP serves demo users.
 */
@Module({
  imports: [IdentityModule, ConsoleAuthModule],
  controllers: [ProtectedResourceController],
  exports: [IdentityModule],
})
export class AuthModule implements OnModuleInit, OnApplicationShutdown {
  private devIdp: Promise<DevIdp> | undefined;

  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    private readonly authenticator: Authenticator,
    private readonly urls: GatewayUrls,
    private readonly adapterHost: HttpAdapterHost,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onModuleInit(): void {
    const mode = authMode(this.config);
    if (mode === 'none') {
      this.logger.warn(
        'AUTHENTICATION IS OFF (auth.mode: none): every request is anonymous. For isolated tests only.',
      );
      return;
    }
    if (mode === 'dev') this.startDevIdp();
    this.authenticator.start();
    void this.urls
      .ready()
      .then((urls) =>
        this.logger.info(
          { issuer: urls.issuer, audience: urls.resource, resourceMetadata: urls.resourceMetadata },
          mode === 'dev'
            ? 'identity: DEVELOPMENT IdP (for development only, never production) with demo users alice, bob, carol, dave, erin, frank'
            : 'identity: OIDC bearer tokens required on /mcp',
        ),
      );
  }

  async onApplicationShutdown(): Promise<void> {
    await (await this.devIdp?.catch(() => undefined))?.close();
  }

  /** The embedded development IdP, served under /dev-idp on the gateway's own port. */
  private startDevIdp(): void {
    this.devIdp = this.urls.ready().then((urls) =>
      loadDevIdp({
        issuer: urls.issuer,
        resource: urls.resource,
        consoleRedirectUris: [`${urls.base}/auth/callback`],
        consolePostLogoutRedirectUris: [`${urls.base}/`],
        dataDir: this.config.dataDir,
        onError: (err) => this.logger.error({ err }, 'development IdP error'),
      }),
    );
    this.devIdp.catch((err: unknown) => this.logger.error({ err }, 'the development IdP did not start'));
    mountDevIdp(this.adapterHost.httpAdapter.getInstance<FastifyInstance>(), DEV_IDP_PATH, this.devIdp);
  }
}
