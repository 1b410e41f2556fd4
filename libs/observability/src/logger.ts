import pino, { type Logger } from 'pino';
import { LOG_REDACT_LIMITS, redactBoundedText, redactValue } from './secrets';

/** Paths never written to logs: credentials in headers, tokens and anything named like a secret. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.Authorization',
  'headers.cookie',
  'headers.Cookie',
  'headers["x-api-key"]',
  // Secret-named fields at the top and up to two levels down (pino matches exact depths).
  ...[
    'token',
    'accessToken',
    'refreshToken',
    'password',
    'secret',
    'clientSecret',
    'apiKey',
    'api_key',
    'authorization',
  ].flatMap((key) => [key, `*.${key}`, `*.*.${key}`]),
];

/** A line's fields after the secret rules (R20): any depth, free text included, bounded. */
function scrubFields(fields: Record<string, unknown>): Record<string, unknown> {
  return redactValue(fields, { limits: LOG_REDACT_LIMITS }) as Record<string, unknown>;
}

/**
 * Creates the process logger: JSON lines, errors under `err`, secrets redacted. The fixed paths
 * above are the cheap first pass; every line's fields, its message and its error (message, stack,
 * own properties) then go through the secret rules, because upstream error messages, stderr,
 * resource URIs and client names are free text that can hold a credential anywhere (R20). The
 * scan is bounded per line ({@link LOG_REDACT_LIMITS}): a longer field is cut and marked.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'gatehouse' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: { log: scrubFields },
      serializers: {
        // The standard serializer's object has a prototype of its own; its own fields are the line.
        err: (err: Error) => scrubFields({ ...pino.stdSerializers.err(err) }),
        msg: (msg: unknown) =>
          typeof msg === 'string' ? redactBoundedText(msg, LOG_REDACT_LIMITS.maxStringScan) : msg,
      },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

export type { Logger };
