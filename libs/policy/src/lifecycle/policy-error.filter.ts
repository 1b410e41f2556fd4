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
} from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { catchError, type Observable } from 'rxjs';
import { LOGGER, type Logger } from '@gatehouse/observability';
import { PolicyError, PolicyErrorCode, policyErrorStatus } from './policy-error';

/** Answers a {@link PolicyError} as `{ error: { code, message, problems?, errorId? } }`. */
@Catch(PolicyError)
export class PolicyErrorFilter implements ExceptionFilter<PolicyError> {
  catch(err: PolicyError, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    void reply
      .status(policyErrorStatus(err.code))
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

/**
 * Turns anything unexpected a handler throws into an `INTERNAL` error whose `errorId` is on the
 * log line with the cause, so the answer says nothing internal and the operator can find it.
 * It wraps handlers only; refusals of the console guard keep their own answers.
 */
@Injectable()
export class PolicyErrorInterceptor implements NestInterceptor {
  constructor(@Inject(LOGGER) private readonly logger: Logger) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(
      catchError((err: unknown) => {
        if (err instanceof PolicyError) throw err;
        const errorId = randomUUID();
        const req = context.switchToHttp().getRequest<{ method: string; url: string }>();
        this.logger.error({ err, errorId, method: req.method, url: req.url }, 'policy API: unexpected error');
        throw new PolicyError(
          PolicyErrorCode.INTERNAL,
          `the policy API failed unexpectedly; the gateway log has the cause under errorId ${errorId}`,
          undefined,
          errorId,
        );
      }),
    );
  }
}
