import { Catch, HttpStatus, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { AdminAuditUnavailableError } from '@gatehouse/auth';

/**
 * Answers an admin action the trail could not record: 503 `{ error: { code: 'AUDIT_UNAVAILABLE',
 * message } }`, like the other admin API refusals. Global, registered by AuditModule.
 */
@Catch(AdminAuditUnavailableError)
export class AdminAuditErrorFilter implements ExceptionFilter<AdminAuditUnavailableError> {
  catch(err: AdminAuditUnavailableError, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    void reply
      .status(HttpStatus.SERVICE_UNAVAILABLE)
      .header('cache-control', 'no-store')
      .header('retry-after', '5')
      .type('application/json')
      .send({ error: { code: err.code, message: err.message } });
  }
}
