import { Controller, Get, Global, HttpCode, Module, Post } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import type { FastifyRequest } from 'fastify';
import type { ConsoleRole, Principal } from '../principal';
import { ConsoleError, ConsoleErrorCode } from './console-error';
import { ConsoleErrorFilter } from './console-error.filter';
import { ConsoleGate, type ConsoleCaller } from './console-gate.service';
import type { LiveSession } from './console-sessions.service';
import { Authenticated, Caller, Roles } from './console.guard';

/**
 * The guard and decorators as a later module uses them: a controller in a module that does not
 * import ConsoleAuthModule. Identification is the gate's job and runs for real in
 * e2e/console-login; here a stand-in gate names the caller from a header, so the guard's own
 * rules (role metadata, CSRF only for cookie writes, one identification per request) are what
 * is under test.
 */
const people: Record<string, ConsoleRole[]> = { carol: ['admin'], frank: ['auditor'], alice: [] };

class StandInGate {
  identified = 0;
  csrfChecks = 0;

  async identify(req: FastifyRequest): Promise<ConsoleCaller> {
    this.identified++;
    const who = String(req.headers['x-user'] ?? '');
    const roles = people[who];
    if (!roles) throw new ConsoleError(ConsoleErrorCode.NOT_SIGNED_IN, 'not signed in');
    const principal: Principal = {
      kind: 'user',
      issuer: 'https://idp.test',
      subject: who,
      groups: [],
      roles,
      scopes: [],
      expiresAt: Date.now() + 60_000,
    };
    if (req.headers['x-via'] === 'bearer') return { principal, via: 'bearer' };
    return { principal, via: 'session', session: { csrfToken: 'token' } as LiveSession };
  }

  checkCsrf(req: FastifyRequest, session: LiveSession): void {
    this.csrfChecks++;
    if (req.headers['x-csrf-token'] !== session.csrfToken) {
      throw new ConsoleError(ConsoleErrorCode.CSRF_TOKEN_MISSING, 'csrf');
    }
  }
}

@Controller('policies')
@Roles('auditor', 'admin')
class PoliciesController {
  @Get()
  list(@Caller() caller: ConsoleCaller): { sub: string } {
    return { sub: caller.principal.subject };
  }

  @Post('approve')
  @HttpCode(200)
  @Roles('admin')
  approve(): { approved: true } {
    return { approved: true };
  }
}

@Controller('profile')
class ProfileController {
  @Get()
  @Authenticated()
  show(@Caller() caller: ConsoleCaller): { roles: string[] } {
    return { roles: caller.principal.roles };
  }
}

@Module({ controllers: [PoliciesController, ProfileController] })
class PolicyModule {}

describe('ConsoleGuard with @Roles / @Authenticated in another module', () => {
  const gate = new StandInGate();
  let app: NestFastifyApplication;
  let url: string;

  @Global()
  @Module({
    providers: [
      { provide: ConsoleGate, useValue: gate },
      { provide: APP_FILTER, useClass: ConsoleErrorFilter },
    ],
    exports: [ConsoleGate],
  })
  class IdentityModule {}

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({ imports: [IdentityModule, PolicyModule] }).compile();
    app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false });
    await app.listen(0, '127.0.0.1');
    url = await app.getUrl();
  });
  afterAll(() => app?.close());
  beforeEach(() => {
    gate.identified = 0;
    gate.csrfChecks = 0;
  });

  const call = async (method: 'GET' | 'POST', path: string, headers: Record<string, string>) => {
    const res = await fetch(`${url}${path}`, { method, headers });
    const body = (await res.json()) as Record<string, unknown> & { error: { code: string; message: string } };
    return { statusCode: res.status, json: () => body };
  };

  it.each([
    ['frank (auditor)', 'frank', 200],
    ['carol (admin)', 'carol', 200],
    ['alice (no role)', 'alice', 403],
  ])('applies the class-level roles to %s', async (_who, user, status) => {
    const res = await call('GET', '/policies', { 'x-user': user });
    expect(res.statusCode).toBe(status);
    if (status === 200) expect(res.json()).toEqual({ sub: user });
    else
      expect(res.json()).toEqual({
        error: {
          code: 'ROLE_REQUIRED',
          message: 'this needs the console role auditor or admin; you have no console role',
        },
      });
  });

  it('lets a handler-level @Roles override the class and identifies the caller once', async () => {
    const frank = await call('POST', '/policies/approve', { 'x-user': 'frank', 'x-csrf-token': 'token' });
    expect(frank.statusCode).toBe(403);
    expect(frank.json().error.message).toBe('this needs the console role admin; you have auditor');
    const carol = await call('POST', '/policies/approve', { 'x-user': 'carol', 'x-csrf-token': 'token' });
    expect(carol.statusCode).toBe(200);
    // @Roles on the class and on the handler run the guard twice per request; one identification each.
    expect(gate.identified).toBe(2);
  });

  it('checks CSRF on cookie-session writes only, before the roles', async () => {
    const forged = await call('POST', '/policies/approve', { 'x-user': 'alice' });
    expect(forged.json().error.code).toBe('CSRF_TOKEN_MISSING');
    await call('GET', '/policies', { 'x-user': 'carol' });
    expect(gate.csrfChecks).toBe(1);
    const bearer = await call('POST', '/policies/approve', { 'x-user': 'carol', 'x-via': 'bearer' });
    expect(bearer.statusCode).toBe(200);
    expect(gate.csrfChecks).toBe(1);
  });

  it('answers 401 for nobody and lets any signed-in person through @Authenticated', async () => {
    const nobody = await call('GET', '/profile', {});
    expect(nobody.statusCode).toBe(401);
    expect(nobody.json()).toEqual({ error: { code: 'NOT_SIGNED_IN', message: 'not signed in' } });
    const alice = await call('GET', '/profile', { 'x-user': 'alice' });
    expect(alice.statusCode).toBe(200);
    expect(alice.json()).toEqual({ roles: [] });
  });
});
