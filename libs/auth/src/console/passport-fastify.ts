import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyRequest } from 'fastify';
import type { Authenticator as Passport } from 'passport';

/** What a passport strategy decided for one request. */
export type PassportOutcome =
  | { kind: 'redirect'; location: string; status: number }
  | { kind: 'success'; user: unknown; info: unknown }
  | { kind: 'fail'; challenge: unknown; status: number | undefined }
  /** The strategy made no decision (`this.pass()`). */
  | { kind: 'pass' };

/**
 * The Express-like request passport strategies read. `session` is the strategy's scratch space
 * (openid-client keeps its PKCE verifier, state and nonce there); the caller persists it.
 */
export interface PassportRequest {
  method: string;
  url: string;
  originalUrl: string;
  headers: IncomingHttpHeaders;
  query: unknown;
  session: Record<string, unknown>;
}

/**
 * Runs `passport.authenticate(strategy)` for a Fastify request and settles exactly once: with
 * the redirect the strategy writes (passport calls `res.setHeader` and `res.end`, which
 * Fastify's reply lacks), its success or failure, or rejects with its error. Nothing is
 * written to the real reply; the caller answers from the outcome.
 */
export function authenticate(
  passport: Passport,
  strategy: string,
  req: FastifyRequest,
  session: Record<string, unknown>,
  options: Record<string, unknown> = {},
): Promise<PassportOutcome> {
  const request: PassportRequest = {
    method: req.method,
    url: req.url,
    originalUrl: req.url,
    headers: req.headers,
    query: req.query,
    session,
  };
  return new Promise<PassportOutcome>((resolve, reject) => {
    let settled = false;
    const settle = (outcome: PassportOutcome | Error): void => {
      if (settled) return;
      settled = true;
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };
    const headers = new Map<string, unknown>();
    const response = {
      statusCode: 200,
      setHeader(name: string, value: unknown): void {
        headers.set(name.toLowerCase(), value);
      },
      getHeader(name: string): unknown {
        return headers.get(name.toLowerCase());
      },
      end(): void {
        const location = headers.get('location');
        if (typeof location === 'string') {
          settle({ kind: 'redirect', location, status: response.statusCode });
        } else {
          settle(new Error(`passport strategy "${strategy}" ended the response without a redirect`));
        }
      },
      redirect(location: string): void {
        settle({ kind: 'redirect', location, status: 302 });
      },
    };
    const done = (err: unknown, user?: unknown, info?: unknown, status?: number | number[]): void => {
      if (err) return settle(asError(err));
      if (user === false || user === undefined || user === null) {
        return settle({ kind: 'fail', challenge: info, status: Array.isArray(status) ? status[0] : status });
      }
      settle({ kind: 'success', user, info });
    };
    const next = (err?: unknown): void => {
      if (err) settle(asError(err));
      else settle({ kind: 'pass' });
    };
    try {
      // With a callback, passport reports success, failure and errors to it; redirects go to `res`.
      passport.authenticate(strategy, { ...options, session: false }, done)(request, response, next);
    } catch (err) {
      settle(asError(err));
    }
  });
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(`passport reported ${JSON.stringify(err)}`);
}
