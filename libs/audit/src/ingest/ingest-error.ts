import { Catch, HttpStatus, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply } from 'fastify';

/** Why the ingest endpoint refused a report. */
export enum IngestErrorCode {
  /** The body breaks the contract; `issues` names each offending call index and field. */
  INVALID_REQUEST = 'INVALID_REQUEST',
  /** The trail could not record the calls; nothing was acknowledged, so the bridge keeps its spool. */
  AUDIT_UNAVAILABLE = 'AUDIT_UNAVAILABLE',
  /** The principal is over its ingest rate or in-flight limit; `Retry-After` says when to retry. */
  RATE_LIMITED = 'RATE_LIMITED',
}

/** One thing wrong with a request body: where (`calls[3].startedAt`) and what. */
export interface IngestIssue {
  path: string;
  message: string;
}

/** The ingest endpoint's error; answered as `{ error: { code, message, issues? } }`. */
export class IngestError extends Error {
  constructor(
    readonly code: IngestErrorCode,
    message: string,
    readonly issues: IngestIssue[] = [],
    /** For RATE_LIMITED: seconds until a retry can pass (the `Retry-After` header). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

/** The HTTP status of each code; a missing case does not compile. */
export function ingestErrorStatus(code: IngestErrorCode): number {
  switch (code) {
    case IngestErrorCode.INVALID_REQUEST:
      return HttpStatus.BAD_REQUEST;
    case IngestErrorCode.AUDIT_UNAVAILABLE:
      return HttpStatus.SERVICE_UNAVAILABLE;
    case IngestErrorCode.RATE_LIMITED:
      return HttpStatus.TOO_MANY_REQUESTS;
  }
}

@Catch(IngestError)
export class IngestErrorFilter implements ExceptionFilter<IngestError> {
  catch(err: IngestError, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    if (err.retryAfterSeconds !== undefined) void reply.header('retry-after', String(err.retryAfterSeconds));
    void reply
      .status(ingestErrorStatus(err.code))
      .header('content-type', 'application/json; charset=utf-8')
      .header('cache-control', 'no-store')
      .send({
        error: {
          code: err.code,
          message: err.message,
          ...(err.issues.length > 0 ? { issues: err.issues } : {}),
        },
      });
  }
}
