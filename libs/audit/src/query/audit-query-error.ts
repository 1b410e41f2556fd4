import { Catch, HttpStatus, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply } from 'fastify';

/** Why the audit query API refused a request. */
export enum AuditQueryErrorCode {
  INVALID_REQUEST = 'INVALID_REQUEST',
  /** A period phrase nothing could be read from; the error carries `suggestions`. */
  PERIOD_UNREADABLE = 'PERIOD_UNREADABLE',
  /** A verification over more records or a longer span than one request may check. */
  VERIFY_TOO_LARGE = 'VERIFY_TOO_LARGE',
  /** A verification is already running on this replica. */
  VERIFY_BUSY = 'VERIFY_BUSY',
}

/** The audit query API's error; answered as `{ error: { code, message } }`. */
export class AuditQueryError extends Error {
  constructor(
    readonly code: AuditQueryErrorCode,
    message: string,
    /** Phrases to try instead (PERIOD_UNREADABLE). */
    readonly suggestions?: string[],
  ) {
    super(message);
  }
}

/** The HTTP status of each code; a missing case does not compile. */
export function auditQueryErrorStatus(code: AuditQueryErrorCode): number {
  switch (code) {
    case AuditQueryErrorCode.INVALID_REQUEST:
    case AuditQueryErrorCode.PERIOD_UNREADABLE:
      return HttpStatus.BAD_REQUEST;
    case AuditQueryErrorCode.VERIFY_TOO_LARGE:
      return HttpStatus.PAYLOAD_TOO_LARGE;
    case AuditQueryErrorCode.VERIFY_BUSY:
      return HttpStatus.TOO_MANY_REQUESTS;
  }
}

@Catch(AuditQueryError)
export class AuditQueryErrorFilter implements ExceptionFilter<AuditQueryError> {
  catch(err: AuditQueryError, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    void reply
      .status(auditQueryErrorStatus(err.code))
      .header('content-type', 'application/json; charset=utf-8')
      .send({
        error: {
          code: err.code,
          message: err.message,
          ...(err.suggestions ? { suggestions: err.suggestions } : {}),
        },
      });
  }
}
