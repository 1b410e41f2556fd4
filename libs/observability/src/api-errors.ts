import { randomUUID } from 'node:crypto';
import {
  Catch,
  Inject,
  Injectable,
  type ArgumentsHost,
  type CallHandler,
  type ExceptionFilter,
  type ExecutionContext,
  type NestInterceptor,
  type Type,
} from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { catchError, type Observable } from 'rxjs';
import type { Logger } from './logger';
import { LOGGER } from './observability.module';

/** What an admin API's coded error carries (`PolicyError`, `BypassError`, …). */
export interface CodedApiError extends Error {
  readonly code: string;
  readonly problems?: readonly unknown[];
  readonly errorId?: string;
}

/** How one admin API answers its coded errors and wraps the unexpected ones. */
export interface ApiErrorHandling<E extends CodedApiError> {
  /** The API's name in the answer and the log ("policy", "bypass"). */
  area: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any constructor signature
  type: abstract new (...args: any[]) => E;
  status(err: E): number;
  /** The API's `INTERNAL` error for an unexpected failure logged under `errorId`. */
  internal(message: string, errorId: string): E;
  /** Extra headers for some codes (e.g. `allow` on a refused method). */
  headers?(err: E): Record<string, string>;
}

/**
 * The exception filter of one admin API: its coded error as
 * `{ error: { code, message, problems?, errorId? } }`, never cached.
 */
export function apiErrorFilter<E extends CodedApiError>(h: ApiErrorHandling<E>): Type<ExceptionFilter> {
  @Catch(h.type)
  class CodedApiErrorFilter implements ExceptionFilter<E> {
    catch(err: E, host: ArgumentsHost): void {
      const reply = host.switchToHttp().getResponse<FastifyReply>();
      for (const [name, value] of Object.entries(h.headers?.(err) ?? {})) void reply.header(name, value);
      void reply
        .status(h.status(err))
        .header('cache-control', 'no-store')
        .type('application/json')
        .send({
          error: {
            code: err.code,
            message: err.message,
            ...(err.problems ? { problems: err.problems } : {}),
            ...(err.errorId ? { errorId: err.errorId } : {}),
          },
        });
    }
  }
  return CodedApiErrorFilter;
}

/**
 * Turns anything unexpected a handler of one admin API throws into its `INTERNAL` error whose
 * `errorId` is on the log line with the cause, so the answer says nothing internal and the operator
 * can find it. It wraps handlers only: refusals of the console guard and the audit keep their answers.
 */
export function apiErrorInterceptor<E extends CodedApiError>(h: ApiErrorHandling<E>): Type<NestInterceptor> {
  @Injectable()
  class CodedApiErrorInterceptor implements NestInterceptor {
    constructor(@Inject(LOGGER) private readonly logger: Logger) {}

    intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
      return next.handle().pipe(
        catchError((err: unknown) => {
          if (err instanceof h.type) throw err;
          const errorId = randomUUID();
          const req = context.switchToHttp().getRequest<{ method: string; url: string }>();
          this.logger.error(
            { err, errorId, method: req.method, url: req.url },
            `${h.area} API: unexpected error`,
          );
          throw h.internal(
            `the ${h.area} API failed unexpectedly; the gateway log has the cause under errorId ${errorId}`,
            errorId,
          );
        }),
      );
    }
  }
  return CodedApiErrorInterceptor;
}
