import { Body, Controller, Get, Header, HttpCode, Inject, Post } from '@nestjs/common';
import { z } from 'zod';
import { LOGGER, type Logger } from '@gatehouse/observability';
import { AdminAction } from '../admin-audit';
import { ApiRoute, isoTime, ok } from '../api/api-route';
import { ConsoleError, ConsoleErrorCode } from './console-error';
import type { ConsoleCaller } from './console-gate.service';
import { ConsoleSessions, type SessionSummary } from './console-sessions.service';
import { Caller, Roles } from './console.guard';

const revokeBody = z
  .strictObject({ subject: z.string().min(1).max(1024) })
  .meta({ id: 'RevokeConsoleSessions' });

const sessionSummary = z
  .object({
    subject: z.string(),
    name: z.string().nullable(),
    roles: z.array(z.string()),
    createdAt: isoTime,
    lastSeenAt: isoTime,
    expiresAt: isoTime,
    idleExpiresAt: isoTime,
  })
  .meta({
    id: 'ConsoleSessionSummary',
    description: 'A live console session (its id is never shown: it is a credential)',
  });

function revokeTarget(req: { body?: unknown }): string | undefined {
  const parsed = revokeBody.safeParse(req.body);
  return parsed.success ? `console-sessions/${parsed.data.subject}` : undefined;
}

/** Admin API over console sessions: who is signed in, and ending a person's sessions. */
@Controller('api/v1/admin/console-sessions')
export class ConsoleSessionsController {
  constructor(
    private readonly sessions: ConsoleSessions,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** Live console sessions (never their ids), most recently used first. */
  @Get()
  @Roles('admin', 'auditor')
  @Header('cache-control', 'no-store')
  @ApiRoute({
    tag: 'console',
    operationId: 'listConsoleSessions',
    summary: 'Live console sessions, never their ids, most recently used first',
    responses: { 200: ok('The sessions', z.object({ sessions: z.array(sessionSummary) })) },
  })
  async list(): Promise<{ sessions: SessionSummary[] }> {
    return { sessions: await this.sessions.list() };
  }

  /**
   * Ends every console session of one person (`{ subject }`); their cookies stop working at once.
   * An admin action: nothing is revoked unless the attempt is in the audit trail.
   */
  @Post('revoke')
  @Roles('admin')
  @AdminAction('console.sessions.revoke', { target: revokeTarget })
  @HttpCode(200)
  @ApiRoute({
    tag: 'console',
    operationId: 'revokeConsoleSessions',
    summary: 'End every console session of one person; an admin action in the audit trail',
    body: revokeBody,
    responses: {
      200: ok('How many sessions ended', z.object({ subject: z.string(), revoked: z.number().int().min(0) })),
    },
  })
  async revoke(
    @Body() body: unknown,
    @Caller() caller: ConsoleCaller,
  ): Promise<{ subject: string; revoked: number }> {
    const parsed = revokeBody.safeParse(body);
    if (!parsed.success) {
      throw new ConsoleError(
        ConsoleErrorCode.INVALID_REQUEST,
        'the body must be {"subject": "<the sub of the person whose sessions end>"}',
      );
    }
    const { subject } = parsed.data;
    const revoked = await this.sessions.revokeSubject(subject);
    this.logger.info(
      { actor: caller.principal.subject, via: caller.via, subject, revoked },
      'console sessions revoked',
    );
    return { subject, revoked };
  }
}
