import pino, { type Logger } from 'pino';

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

/** Creates the process logger: JSON lines, errors under `err`, secrets redacted. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'gatehouse' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: { err: pino.stdSerializers.err },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

export type { Logger };
