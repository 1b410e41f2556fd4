import { Global, Module, type OnModuleInit } from '@nestjs/common';
import { APP_FILTER, HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { AuthController } from './auth.controller';
import { ConsoleErrorFilter } from './console-error.filter';
import { ConsoleGate } from './console-gate.service';
import { ConsoleOidc } from './console-oidc';
import { ConsoleSessionsController } from './console-sessions.controller';
import { ConsoleSessions } from './console-sessions.service';
import { registerCookies } from './cookies';
import { ConsoleGuard } from './console.guard';
import { IdentityModule } from '../identity.module';
import { MeController } from './me.controller';
import { OpenApiController } from '../api/openapi.controller';

/**
 * Console sign-in (authorization code + PKCE through passport), server-side sessions in
 * Postgres, CSRF rules, and the role guard. Global so any module's controllers can use
 * `@Roles(...)` / `@Authenticated()` without importing it.
 */
@Global()
@Module({
  imports: [IdentityModule],
  controllers: [AuthController, MeController, ConsoleSessionsController, OpenApiController],
  providers: [
    ConsoleSessions,
    ConsoleOidc,
    ConsoleGate,
    ConsoleGuard,
    { provide: APP_FILTER, useClass: ConsoleErrorFilter },
  ],
  exports: [ConsoleGate, ConsoleSessions],
})
export class ConsoleAuthModule implements OnModuleInit {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  async onModuleInit(): Promise<void> {
    await registerCookies(this.adapterHost.httpAdapter.getInstance<FastifyInstance>());
  }
}
