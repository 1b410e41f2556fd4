import {
  HttpException,
  Inject,
  Injectable,
  StreamableFile,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply } from 'fastify';
import { finalize, from, mergeMap, tap, type Observable } from 'rxjs';
import {
  ADMIN_ACTION_KEY,
  ADMIN_AUDIT,
  adminActor,
  adminEntry,
  type AdminActionMeta,
  type AdminActor,
  type AdminAudit,
  type AdminAuditFailure,
  type AdminAuditTicket,
  type ConsoleRequest,
} from '@gatehouse/auth';

/** The actor of a marked handler that no console guard identified (auth.mode none without a guard). */
const UNIDENTIFIED: AdminActor = { kind: 'anonymous', issuer: 'none', subject: 'anonymous', groups: [] };

/**
 * Global (registered by AuditModule), but acts only on handlers marked `@AdminAction`: the
 * attempt record is committed before the handler runs, or the request is refused with 503
 * `AUDIT_UNAVAILABLE` and the handler never runs. The ending record is queued once both the
 * handler has settled and the response is closed: it then carries the status the caller actually
 * got and the code and message of the refusal, if any. A caller who hangs up does not turn a
 * completed action into an error (the change happened); a streamed export cut off before its end
 * does end as `RESPONSE_ABORTED`.
 */
@Injectable()
export class AdminActionInterceptor implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    @Inject(ADMIN_AUDIT) private readonly audit: AdminAudit,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const meta = this.reflector.get<AdminActionMeta | undefined>(ADMIN_ACTION_KEY, context.getHandler());
    if (!meta) return next.handle();
    const http = context.switchToHttp();
    const req = http.getRequest<ConsoleRequest>();
    const reply = http.getResponse<FastifyReply>();
    const caller = req.consoleCaller;
    const entry = adminEntry(meta, req, caller ? adminActor(caller.principal) : UNIDENTIFIED);
    return from(this.audit.begin(entry)).pipe(
      mergeMap((ticket) => {
        const run: Run = { handled: false, closed: false };
        const settle = () => {
          if (run.handled && run.closed) finish(ticket, meta, reply, run);
        };
        reply.raw.once('close', () => {
          run.closed = true;
          settle();
        });
        return next.handle().pipe(
          tap({
            next: (value) => (run.result = value),
            error: (err: unknown) => (run.failure = describe(err)),
          }),
          finalize(() => {
            run.handled = true;
            settle();
          }),
        );
      }),
    );
  }
}

/** What one marked request did: the handler's value or failure, and whether each side is done. */
interface Run {
  handled: boolean;
  closed: boolean;
  result?: unknown;
  failure?: AdminAuditFailure;
}

function finish(ticket: AdminAuditTicket, meta: AdminActionMeta, reply: FastifyReply, run: Run): void {
  const status = reply.raw.statusCode;
  const sent = reply.raw.writableFinished;
  if (run.failure) {
    ticket.done({ outcome: 'error', ...run.failure, ...(sent ? { status } : {}) });
  } else if (!sent && run.result instanceof StreamableFile) {
    ticket.done({
      outcome: 'error',
      code: 'RESPONSE_ABORTED',
      message: 'the connection closed before the whole export was sent',
    });
  } else if (sent && status >= 400) {
    ticket.done({ outcome: 'error', status, code: `HTTP_${status}`, message: 'refused' });
  } else {
    let target: string | undefined;
    try {
      target = meta.resultTarget?.(run.result);
    } catch {
      target = undefined;
    }
    ticket.done({ outcome: 'ok', ...(target !== undefined ? { target } : {}) });
  }
}

/** The code and message of what a handler threw: the lib error's own code where it has one. */
function describe(err: unknown): AdminAuditFailure {
  if (err instanceof HttpException) return { code: `HTTP_${err.getStatus()}`, message: err.message };
  if (err instanceof Error) {
    const code = (err as Error & { code?: unknown }).code;
    return { code: typeof code === 'string' ? code : err.name, message: err.message };
  }
  return { code: 'UNKNOWN', message: String(err) };
}
