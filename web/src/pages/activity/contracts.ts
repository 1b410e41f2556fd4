import type { Client } from 'openapi-fetch';
import { api, ApiError, type ApiProblem } from '../../api/client';
import type { components, paths } from '../../api/schema';

/**
 * Hand-declared shapes of the audit endpoints that are not yet in the generated `schema.d.ts`
 * (principals, period, timeline, verify). When the generated client has them, these types and
 * {@link auditApi} are replaced by `components['schemas'][...]` and `api` (one file to switch).
 */

export type AuditEvent = components['schemas']['AuditEvent'];
export type AuditEventPage = components['schemas']['AuditEventPage'];
export type ActivitySummary = components['schemas']['ActivitySummary'];

/** `GET /api/v1/audit/principals?q=&limit=20`. */
export interface Principal {
  subject: string;
  name?: string | null;
  email?: string | null;
  kind: string;
  calls: number;
  lastSeenAt: string;
}
export interface PrincipalList {
  principals: Principal[];
}

/** `GET /api/v1/audit/period?phrase=&tz=`: the exact interval a phrase names, [from, to). */
export interface ResolvedPeriod {
  phrase: string;
  tz: string;
  from: string;
  to: string;
}

/** The 400 body of an unreadable phrase: `error.code` is `PERIOD_UNREADABLE`. */
export interface PeriodProblem extends ApiProblem {
  suggestions?: string[];
}

/** The call decisions the timeline splits by, in the API's words. */
export const DECISION_SERIES = [
  'allowed',
  'denied',
  'shadow_denied',
  'rate_limited',
  'bypassed',
  'failed',
] as const;
export type DecisionSeries = (typeof DECISION_SERIES)[number];

/** `GET /api/v1/audit/users/{subject}/timeline?period=&tz=`. */
export interface Timeline {
  from: string;
  to: string;
  bucketSeconds: number;
  buckets: Array<{ start: string } & Record<DecisionSeries, number>>;
}

/** `POST /api/v1/audit/verify` with `{ from, to }`. */
export interface VerifyResult {
  ok: boolean;
  checked: number;
  from: string;
  to: string;
  verifiedAt: string;
  firstId?: string | null;
  lastId?: string | null;
  problems: Array<{ id?: string | null; reason: string }>;
}

interface ErrorBody {
  content: { 'application/json': { error: ApiProblem } };
}

/** The new endpoints in openapi-typescript's shape, so `auditApi` is typed like `api`. */
interface PendingPaths {
  '/api/v1/audit/verify': {
    parameters: { query?: never; header?: never; path?: never; cookie?: never };
    get?: never;
    put?: never;
    post: {
      parameters: { query?: never; header?: never; path?: never; cookie?: never };
      requestBody: { content: { 'application/json': { from: string; to: string } } };
      responses: {
        200: { headers: Record<string, unknown>; content: { 'application/json': VerifyResult } };
        400: { headers: Record<string, unknown> } & ErrorBody;
        401: { headers: Record<string, unknown> } & ErrorBody;
        403: { headers: Record<string, unknown> } & ErrorBody;
      };
    };
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
}

/** The same client instance as `api` (same CSRF middleware), typed with the pending paths too. */
export const auditApi = api as unknown as Client<paths & PendingPaths>;

/**
 * GET of a pending endpoint with plain `fetch` (same origin, session cookie; GETs need no CSRF
 * token): the JSON body, or an {@link ApiError} with the server's code, message and extras.
 */
export async function getJson<T>(
  path: string,
  query: Record<string, string | number | undefined>,
  signal?: AbortSignal,
): Promise<T> {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params.set(k, String(v));
  const response = await fetch(`${path}?${params.toString()}`, {
    credentials: 'same-origin',
    headers: { accept: 'application/json' },
    ...(signal ? { signal } : {}),
  });
  const body = (await response.json().catch(() => undefined)) as unknown;
  if (response.ok && body !== undefined) return body as T;
  const problem = (body as { error?: ApiProblem } | undefined)?.error;
  throw new ApiError(
    response.status,
    problem ?? { code: `HTTP_${response.status}`, message: response.statusText || 'no answer' },
  );
}

export const fetchPrincipals = (q: string, signal?: AbortSignal) =>
  getJson<PrincipalList>('/api/v1/audit/principals', { q, limit: 20 }, signal);

export const fetchPeriod = (phrase: string, tz: string, signal?: AbortSignal) =>
  getJson<ResolvedPeriod>('/api/v1/audit/period', { phrase, tz }, signal);

export const fetchTimeline = (subject: string, period: string, tz: string, signal?: AbortSignal) =>
  getJson<Timeline>(`/api/v1/audit/users/${encodeURIComponent(subject)}/timeline`, { period, tz }, signal);
