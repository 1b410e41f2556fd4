import type { LoggerService } from '@nestjs/common';
import type { Logger } from './logger';

/**
 * Nest's own messages (an unhandled exception's message and stack, a provider that failed) written
 * through the process logger, so they are JSON lines with the secret rules applied like every
 * other line (R20) instead of Nest's console output, which is not scrubbed. Only warnings and
 * errors, as before; Nest's informational lines (route mapping) are not written.
 */
export function nestLogger(logger: Logger): LoggerService {
  const write = (level: 'error' | 'warn', message: unknown, params: unknown[]): void => {
    const context =
      params.length > 0 && typeof params[params.length - 1] === 'string' ? params.pop() : undefined;
    const stack = level === 'error' && typeof params[0] === 'string' ? params[0] : undefined;
    const fields = { nest: true, ...(context !== undefined ? { context } : {}), ...(stack ? { stack } : {}) };
    if (message instanceof Error) logger[level]({ ...fields, err: message }, message.message);
    else logger[level](fields, typeof message === 'string' ? message : JSON.stringify(message));
  };
  return {
    log: () => undefined,
    error: (message: unknown, ...params: unknown[]) => write('error', message, params),
    warn: (message: unknown, ...params: unknown[]) => write('warn', message, params),
  };
}
