import { api, unwrap, type ApiProblem } from '../../api/client';
import type { components, paths } from '../../api/schema';

/**
 * The Activity screen's view of the audit API. Every type comes from the generated
 * `schema.d.ts`. The write (verify) goes through the typed client `api` (CSRF header); the GETs
 * the screen asks while someone types go through {@link getJson}, plain same-origin `fetch`, so
 * component tests can answer them with a stubbed `fetch`. A refusal becomes an `ApiError` carrying
 * the server's code, message and extras (a period's suggestions).
 */

export type AuditEvent = components['schemas']['AuditEvent'];
export type AuditEventPage = components['schemas']['AuditEventPage'];
export type ActivitySummary = components['schemas']['ActivitySummary'];

type Json<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends {
  responses: { 200: { content: { 'application/json': infer T } } };
}
  ? T
  : never;

export type PrincipalList = Json<'/api/v1/audit/principals', 'get'>;
export type Principal = PrincipalList['principals'][number];
/** The exact interval a phrase names, [from, to). */
export type ResolvedPeriod = Json<'/api/v1/audit/period', 'get'>;
export type Timeline = Json<'/api/v1/audit/users/{subject}/timeline', 'get'>;
export type VerifyResult = Json<'/api/v1/audit/verify', 'post'>;

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
] as const satisfies ReadonlyArray<Exclude<keyof Timeline['buckets'][number], 'start'>>;
export type DecisionSeries = (typeof DECISION_SERIES)[number];

/**
 * GET with plain `fetch` (same origin, session cookie; GETs need no CSRF token): the JSON body, or
 * the client's `ApiError` (through `unwrap`) with the server's code, message and extras.
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
  return unwrap({ data: response.ok ? (body as T | undefined) : undefined, error: body, response });
}

export const fetchPrincipals = (q: string, signal?: AbortSignal) =>
  getJson<PrincipalList>('/api/v1/audit/principals', { q, limit: 20 }, signal);

export const fetchPeriod = (phrase: string, tz: string, signal?: AbortSignal) =>
  getJson<ResolvedPeriod>('/api/v1/audit/period', { phrase, tz }, signal);

export const fetchTimeline = (subject: string, period: string, tz: string, signal?: AbortSignal) =>
  getJson<Timeline>(`/api/v1/audit/users/${encodeURIComponent(subject)}/timeline`, { period, tz }, signal);

export const verifyPeriod = async (from: string, to: string, signal?: AbortSignal): Promise<VerifyResult> =>
  unwrap(await api.POST('/api/v1/audit/verify', { body: { from, to }, signal }));
