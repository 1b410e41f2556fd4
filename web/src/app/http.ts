import { ApiError, type ApiProblem } from '../api/client';

/**
 * A same-origin JSON request for the endpoints the generated client does not describe yet
 * (`/api/v1/me`, `/auth/logout`, `/api/v1/overview`). It throws {@link ApiError} with the
 * server's code and message, or with code `NETWORK` when the gateway could not be reached.
 */
export async function requestJson<T>(
  path: string,
  init: { method?: 'GET' | 'POST'; csrfToken?: string; body?: unknown } = {},
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (init.csrfToken) headers['x-csrf-token'] = init.csrfToken;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(path, {
      method: init.method ?? 'GET',
      credentials: 'same-origin',
      headers,
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
  } catch (err) {
    throw new ApiError(0, {
      code: 'NETWORK',
      message: `the gateway could not be reached (${err instanceof Error ? err.message : String(err)})`,
    });
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!response.ok) {
    const problem = (body as { error?: ApiProblem } | undefined)?.error;
    throw new ApiError(
      response.status,
      problem ?? { code: `HTTP_${response.status}`, message: response.statusText || 'no answer body' },
    );
  }
  return body as T;
}
