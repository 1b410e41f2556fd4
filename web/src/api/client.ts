import createClient, { type Middleware } from 'openapi-fetch';
import type { paths } from './schema';

/**
 * The console's typed API client. `schema.d.ts` is generated from the gateway's OpenAPI document
 * (never edited by hand); this file only adds what every request needs: the session cookie
 * (same origin), and the session's CSRF token on writes.
 */
let csrfToken: string | undefined;

/** Set from `GET /api/v1/me` once the session is known; cleared on sign-out. */
export function setCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

const csrf: Middleware = {
  onRequest({ request }) {
    if (request.method !== 'GET' && request.method !== 'HEAD' && csrfToken) {
      request.headers.set('x-csrf-token', csrfToken);
    }
    return request;
  },
};

export const api = createClient<paths>({ baseUrl: '', credentials: 'same-origin' });
api.use(csrf);

/** The gateway's refusal body: `{ error: { code, message, ... } }`. */
export interface ApiProblem {
  code: string;
  message: string;
  [key: string]: unknown;
}

/** An API answer that is not 2xx, with the server's code and message kept for the screen. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: ApiProblem,
  ) {
    super(problem.message);
    this.name = 'ApiError';
  }
}

/** Unwraps an openapi-fetch result: the data, or an {@link ApiError} carrying the server's reason. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.response.ok && result.data !== undefined) return result.data;
  const body = result.error as { error?: ApiProblem } | undefined;
  throw new ApiError(
    result.response.status,
    body?.error ?? { code: `HTTP_${result.response.status}`, message: result.response.statusText },
  );
}
