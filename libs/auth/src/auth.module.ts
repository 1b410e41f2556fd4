import { Inject, Module, type OnModuleInit } from '@nestjs/common';
import { authMode, GATEHOUSE_CONFIG, type GatehouseConfig } from '@gatehouse/config';
import { LOGGER, type Logger } from '@gatehouse/observability';
import { Authenticator } from './authenticator';
import { GatewayUrls } from './gateway-urls';
import { PrincipalMapper } from './principal-mapper';
import { ProtectedResourceController } from './protected-resource.controller';

/**
 * Identity: who is calling. Bearer tokens become principals (Authenticator), the gateway
 * describes itself as an OAuth protected resource (RFC 9728), and in the embedded start a
 * development IdP serves demo users.
 */
@Module({
  controllers: [ProtectedResourceController],
  providers: [GatewayUrls, PrincipalMapper, Authenticator],
  exports: [GatewayUrls, PrincipalMapper, Authenticator],
})
export class AuthModule implements OnModuleInit {
  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    private readonly authenticator: Authenticator,
    private readonly urls: GatewayUrls,
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
}
