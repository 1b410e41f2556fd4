import { Injectable, type OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { Authenticator } from '../authenticator';
import { GatewayUrls } from '../gateway-urls';
import { PrincipalMapper } from '../principal-mapper';

/**
 * AuthModule's identity services, for the console. AuthModule imports ConsoleAuthModule, so
 * importing AuthModule back would be a module cycle; the single instances are looked up in
 * the application once every provider exists.
 */
@Injectable()
export class IdentityRefs implements OnModuleInit {
  private resolved: { authenticator: Authenticator; urls: GatewayUrls; mapper: PrincipalMapper } | undefined;

  constructor(private readonly moduleRef: ModuleRef) {}

  onModuleInit(): void {
    const find = <T>(type: new (...args: never[]) => T): T => this.moduleRef.get(type, { strict: false });
    this.resolved = {
      authenticator: find(Authenticator),
      urls: find(GatewayUrls),
      mapper: find(PrincipalMapper),
    };
  }

  get authenticator(): Authenticator {
    return this.get().authenticator;
  }

  get urls(): GatewayUrls {
    return this.get().urls;
  }

  get mapper(): PrincipalMapper {
    return this.get().mapper;
  }

  private get(): NonNullable<IdentityRefs['resolved']> {
    if (!this.resolved) throw new Error('identity services are used before the application initialised');
    return this.resolved;
  }
}
