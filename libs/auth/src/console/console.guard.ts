import {
  applyDecorators,
  createParamDecorator,
  Inject,
  Injectable,
  Optional,
  SetMetadata,
  UseGuards,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import {
  ADMIN_ACTION_KEY,
  ADMIN_AUDIT,
  adminActor,
  adminEntry,
  type AdminActionMeta,
  type AdminAudit,
} from '../admin-audit';
import type { ConsoleRole } from '../principal';
import { ConsoleError, ConsoleErrorCode } from './console-error';
import { ConsoleGate, STATE_CHANGING, type ConsoleCaller } from './console-gate.service';

const ROLES_KEY = 'gatehouse:console-roles';

/** A request that passed {@link ConsoleGuard}. */
export interface ConsoleRequest extends FastifyRequest {
  consoleCaller?: ConsoleCaller;
}

/**
 * Lets a request through when its caller is signed in (console session cookie or bearer
 * token), a cookie-authenticated write passes the CSRF checks, and the caller holds one of
 * the roles named by {@link Roles} (if any). Refusals: 401 not signed in (with
 * `WWW-Authenticate`), 403 naming the missing role or the CSRF reason.
 *
 * A role refusal of an `@AdminAction` handler is recorded in the audit trail as `denied` (who
 * tried what without the role), before the 403 is answered. Refusals before the caller is known
 * (401) and CSRF refusals (the request may not be the caller's own) are not recorded. The port is
 * optional so the guard also works in a module tree without the audit lib; the gateway always
 * has it.
 */
@Injectable()
export class ConsoleGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly gate: ConsoleGate,
    @Optional() @Inject(ADMIN_AUDIT) private readonly audit?: AdminAudit,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<ConsoleRequest>();
    const roles =
      this.reflector.getAllAndOverride<ConsoleRole[] | undefined>(ROLES_KEY, [
        context.getHandler(),
        context.getClass(),
      ]) ?? [];
    // A guard on both the class and the handler identifies the caller once.
    let caller = req.consoleCaller;
    if (!caller) {
      caller = await this.gate.identify(req);
      if (caller.session && STATE_CHANGING.has(req.method)) this.gate.checkCsrf(req, caller.session);
      req.consoleCaller = caller;
    }
    const held = caller.principal.roles;
    if (roles.length > 0 && !roles.some((role) => held.includes(role))) {
      const refusal = new ConsoleError(
        ConsoleErrorCode.ROLE_REQUIRED,
        `this needs the console role ${roles.join(' or ')}; you have ${held.length > 0 ? held.join(', ') : 'no console role'}`,
      );
      const action = this.reflector.get<AdminActionMeta | undefined>(ADMIN_ACTION_KEY, context.getHandler());
      if (action && this.audit) {
        await this.audit.refused(adminEntry(action, req, adminActor(caller.principal)), {
          status: 403,
          code: refusal.code,
          message: refusal.message,
        });
      }
      throw refusal;
    }
    return true;
  }
}

/**
 * Requires a signed-in caller with at least one of these console roles, checked on the
 * server for every request: `@Roles('admin')` on a handler or controller.
 */
export function Roles(...roles: [ConsoleRole, ...ConsoleRole[]]): MethodDecorator & ClassDecorator {
  return applyDecorators(SetMetadata(ROLES_KEY, roles), UseGuards(ConsoleGuard));
}

/**
 * The roles `@Roles` requires of a handler (its own, else its controller's), as the guard reads
 * them; empty when none are named. The OpenAPI document states these.
 */
export function rolesOf(handler: object, controller: object): ConsoleRole[] {
  return (Reflect.getMetadata(ROLES_KEY, handler) ??
    Reflect.getMetadata(ROLES_KEY, controller) ??
    []) as ConsoleRole[];
}

/** Requires a signed-in caller, whatever their roles. */
export function Authenticated(): MethodDecorator & ClassDecorator {
  return UseGuards(ConsoleGuard);
}

/** The handler parameter that receives the {@link ConsoleCaller} the guard identified. */
export const Caller = createParamDecorator((_data: unknown, context: ExecutionContext): ConsoleCaller => {
  const caller = context.switchToHttp().getRequest<ConsoleRequest>().consoleCaller;
  if (!caller)
    throw new Error('@Caller() needs @Roles() or @Authenticated() on the handler or its controller');
  return caller;
});
