import { Controller, Get, Header } from '@nestjs/common';
import { z } from 'zod';
import { ApiRoute, isoTime, ok } from '../api/api-route';
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

/** {@link MeResponse} as the JSON sent. */
export const meSchema = z
  .object({
    kind: z.enum(['user', 'service', 'anonymous']),
    sub: z.string(),
    issuer: z.string(),
    name: z.string().optional(),
    email: z.string().optional(),
    groups: z.array(z.string()),
    roles: z.array(z.string()),
    certificate: z.object({ subject: z.string(), issuer: z.string() }).optional(),
    authenticatedBy: z.enum(['session', 'bearer', 'anonymous']),
    csrfToken: z
      .string()
      .optional()
      .meta({ description: 'Console sessions: echo in x-csrf-token on every write' }),
    session: z
      .object({ createdAt: isoTime, lastSeenAt: isoTime, expiresAt: isoTime, idleExpiresAt: isoTime })
      .optional(),
  })
  .meta({ id: 'Me' });

@Controller('api/v1')
export class MeController {
  /** Who the caller is (console session or bearer token) and, for a session, its CSRF token. */
  @Get('me')
  @Authenticated()
  @Header('cache-control', 'no-store')
  @ApiRoute({
    tag: 'console',
    operationId: 'getMe',
    summary: 'Who the caller is, and for a console session its CSRF token (any signed-in caller)',
    responses: { 200: ok('The caller', meSchema) },
  })
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
