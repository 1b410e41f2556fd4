import { Catch, HttpStatus, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply } from 'fastify';

/** Why the audit query API refused a request. */
export enum AuditQueryErrorCode {
  INVALID_REQUEST = 'INVALID_REQUEST',
}

/** The audit query API's error; answered as `{ error: { code, message } }`. */
export class AuditQueryError extends Error {
  constructor(
    readonly code: AuditQueryErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The HTTP status of each code; a missing case does not compile. */
export function auditQueryErrorStatus(code: AuditQueryErrorCode): number {
  switch (code) {
    case AuditQueryErrorCode.INVALID_REQUEST:
      return HttpStatus.BAD_REQUEST;
  }
}

@Catch(AuditQueryError)
export class AuditQueryErrorFilter implements ExceptionFilter<AuditQueryError> {
  catch(err: AuditQueryError, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    void reply
      .status(auditQueryErrorStatus(err.code))
      .header('content-type', 'application/json; charset=utf-8')
      .send({ error: { code: err.code, message: err.message } });
  }
}
