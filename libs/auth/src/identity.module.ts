import { Module } from '@nestjs/common';
import { Authenticator } from './authenticator';
import { GatewayUrls } from './gateway-urls';
import { PrincipalMapper } from './principal-mapper';

/**
 * The identity core every identity feature shares: the gateway's URLs, the claim-to-principal
 * mapping and the bearer-token authenticator. Imported by AuthModule (the /mcp front door, RFC
 * 9728 metadata, the development IdP) and by ConsoleAuthModule (console sign-in).
 */
@Module({
  providers: [GatewayUrls, PrincipalMapper, Authenticator],
  exports: [GatewayUrls, PrincipalMapper, Authenticator],
})
export class IdentityModule {}
