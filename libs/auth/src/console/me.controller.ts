import { Controller, Get, Header } from '@nestjs/common';
import type { Principal } from '../principal';
import { Authenticated, Caller } from './console.guard';
import type { ConsoleCaller } from './console-gate.service';

/** What `GET /api/v1/me` answers. */
export interface MeResponse {
  kind: Principal['kind'];
  sub: string;
  issuer: string;
  name?: string;
  email?: string;
  groups: string[];
  roles: string[];
  certificate?: { subject: string; issuer: string };
  authenticatedBy: ConsoleCaller['via'];
  /** For a console session: the token every write must echo in `x-csrf-token`. */
  csrfToken?: string;
  session?: { createdAt: Date; lastSeenAt: Date; expiresAt: Date; idleExpiresAt: Date };
}

@Controller('api/v1')
export class MeController {
  /** Who the caller is (console session or bearer token) and, for a session, its CSRF token. */
  @Get('me')
  @Authenticated()
  @Header('cache-control', 'no-store')
  me(@Caller() caller: ConsoleCaller): MeResponse {
    const { principal: p, session } = caller;
    return {
      kind: p.kind,
      sub: p.subject,
      issuer: p.issuer,
      ...(p.name !== undefined ? { name: p.name } : {}),
      ...(p.email !== undefined ? { email: p.email } : {}),
      groups: p.groups,
      roles: p.roles,
      ...(p.certificate
        ? { certificate: { subject: p.certificate.subject, issuer: p.certificate.issuer } }
        : {}),
      authenticatedBy: caller.via,
      ...(session
        ? {
            csrfToken: session.csrfToken,
            session: {
              createdAt: session.createdAt,
              lastSeenAt: session.lastSeenAt,
              expiresAt: session.expiresAt,
              idleExpiresAt: session.idleExpiresAt,
            },
          }
        : {}),
    };
  }
}
