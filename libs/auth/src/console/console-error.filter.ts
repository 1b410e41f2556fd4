import { Catch, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ConsoleError, consoleErrorStatus } from './console-error';

/**
 * Answers every {@link ConsoleError} as `{ error: { code, message } }` with its status and
 * headers. A browser navigating to a sign-in URL (GET, accepts HTML) gets the same message as a
 * small page instead, so a failed sign-in (IdP down, R33) reads clearly.
 */
@Catch(ConsoleError)
export class ConsoleErrorFilter implements ExceptionFilter<ConsoleError> {
  catch(err: ConsoleError, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const req = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const status = consoleErrorStatus(err.code);
    reply.status(status).headers({ ...err.headers, 'cache-control': 'no-store' });
    if (req.method === 'GET' && (req.headers.accept ?? '').includes('text/html')) {
      void reply.type('text/html; charset=utf-8').send(page(status, err));
      return;
    }
    void reply.type('application/json').send({ error: { code: err.code, message: err.message } });
  }
}

function page(status: number, err: ConsoleError): string {
  const title = status === 503 ? 'Sign-in is unavailable' : 'Sign-in did not complete';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Gatehouse: ${title}</title></head>
<body><h1>${title}</h1><p>${escape(err.message)}</p><p><code>${err.code}</code></p>
<p><a href="/auth/login">Try again</a></p></body></html>
`;
}

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
