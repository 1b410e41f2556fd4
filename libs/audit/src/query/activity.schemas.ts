import { z } from 'zod';

/**
 * The contracts of the console's Activity screen (issue 15 points 5–8): the query or body each
 * route accepts and the JSON it answers, as zod schemas. The controller validates requests with
 * them; `ACTIVITY_ROUTES` lists them per route for the OpenAPI document. Fields may be added,
 * never renamed: the console is built against these names.
 */

/** An ISO 8601 instant with an offset (`2026-03-12T09:00:00Z`). */
const instant = z
  .string()
  .max(64)
  .refine((s) => !Number.isNaN(Date.parse(s)), 'an ISO 8601 time such as 2026-03-12T09:00:00Z')
  .describe('ISO 8601 instant');

const isoOut = z.string().describe('ISO 8601 instant (UTC)');

const tz = z
  .string()
  .min(1)
  .max(100)
  .default('UTC')
  .describe('IANA time zone the phrase is meant in, e.g. Europe/Berlin (default UTC)');

const phrase = z
  .string()
  .min(1)
  .max(200)
  .describe(
    'a period in words: "today", "yesterday 9-17", "last Thursday", "last week", "this month", "last 7 days", "2026-12-01..2026-12-03"',
  );

/** Fixes the reference time of a phrase (tests and "as of" questions). */
const now = instant.optional().describe('reference time for the phrase (default: now)');

/** A period: a phrase in a time zone, or explicit from/to. */
const periodFields = {
  period: phrase.optional(),
  from: instant.optional(),
  to: instant.optional(),
  tz,
  now,
};

// ---- GET /api/v1/audit/principals -------------------------------------------------------------

export const principalsQuery = z
  .object({
    q: z
      .string()
      .max(200)
      .default('')
      .describe('case-insensitive substring of subject, name or email; empty = most recent'),
    limit: z.coerce.number().int().min(1).max(100).default(20),
  })
  .strict();

export const principal = z.object({
  subject: z.string(),
  name: z.string().optional(),
  email: z.string().optional(),
  kind: z.string().describe('principal kind as the trail records it (user, service, …)'),
  calls: z.number().int().describe('calls (intent records) in the whole trail'),
  lastSeenAt: isoOut.describe('newest record of this principal, any kind'),
});

export const principalsResponse = z.object({ principals: z.array(principal) });

// ---- GET /api/v1/audit/period -----------------------------------------------------------------

export const periodQuery = z.object({ phrase, tz, now }).strict();

export const periodResponse = z.object({
  phrase: z.string(),
  tz: z.string(),
  from: isoOut.describe('start, included'),
  to: isoOut.describe('end, excluded'),
});

// ---- GET /api/v1/audit/users/:subject/timeline ------------------------------------------------

export const timelineQuery = z.object(periodFields).strict();

export const TIMELINE_SERIES = [
  'allowed',
  'denied',
  'shadow_denied',
  'rate_limited',
  'bypassed',
  'failed',
] as const;

const count = z.number().int().min(0);

export const timelineBucket = z.object({
  start: isoOut,
  allowed: count.describe('calls allowed by policy (intent outcome allowed; ingested calls not denied)'),
  denied: count.describe('calls refused by policy (intent outcome denied)'),
  shadow_denied: count.describe(
    'calls a shadow rule would deny, forwarded anyway (intent shadow_denied; ingested calls the policy denies)',
  ),
  rate_limited: count.describe('calls refused by a rate limit (intent outcome rate_limited)'),
  bypassed: count.describe('calls a break-glass grant let through (intent outcome bypassed)'),
  failed: count.describe(
    'policy errors (intent policy_error) plus forwarded calls that ended in error or aborted (outcome record, at its time); a forwarded call that failed is also counted in allowed, shadow_denied or bypassed',
  ),
});

export const timelineResponse = z.object({
  subject: z.string(),
  from: isoOut,
  to: isoOut,
  tz: z.string(),
  phrase: z.string().nullable(),
  bucketSeconds: z.number().int().positive(),
  buckets: z.array(timelineBucket),
});

// ---- POST /api/v1/audit/verify ------------------------------------------------------------------

export const verifyBody = z.object(periodFields).strict();

export const verifyProblem = z.object({
  id: z.string().optional(),
  reason: z.string(),
  writerId: z.string().optional(),
  seq: z.number().int().optional(),
});

export const verifyResponse = z.object({
  ok: z.boolean(),
  checked: z.number().int().describe('records verified in the period'),
  chains: z.number().int().describe('writer chains those records belong to'),
  from: isoOut,
  to: isoOut,
  verifiedAt: isoOut,
  firstId: z.string().optional(),
  lastId: z.string().optional(),
  problems: z.array(verifyProblem).describe('the first broken link of each broken chain'),
});

// ---- GET /api/v1/audit/rollups/check --------------------------------------------------------------

export const rollupCheckQuery = z.object({ from: instant, to: instant }).strict();

export const rollupMismatch = z.object({
  table: z.enum(['audit_rollup_day', 'audit_rollup_hour']),
  key: z.string(),
  rollup: z.string(),
  trail: z.string(),
});

export const rollupCheckResponse = z.object({
  ok: z.boolean(),
  from: isoOut.describe('first whole UTC day checked'),
  to: isoOut,
  mismatches: z.array(rollupMismatch),
});

// ---- errors ---------------------------------------------------------------------------------------

export const auditQueryErrorResponse = z.object({
  error: z.object({
    code: z.enum(['INVALID_REQUEST', 'PERIOD_UNREADABLE', 'VERIFY_TOO_LARGE', 'VERIFY_BUSY']),
    message: z.string(),
    suggestions: z.array(z.string()).optional().describe('phrases to try instead (PERIOD_UNREADABLE)'),
  }),
});

/** Every Activity route with its schemas, for the OpenAPI document. */
export const ACTIVITY_ROUTES = [
  { method: 'get', path: '/api/v1/audit/principals', query: principalsQuery, response: principalsResponse },
  { method: 'get', path: '/api/v1/audit/period', query: periodQuery, response: periodResponse },
  {
    method: 'get',
    path: '/api/v1/audit/users/{subject}/timeline',
    query: timelineQuery,
    response: timelineResponse,
  },
  { method: 'post', path: '/api/v1/audit/verify', body: verifyBody, response: verifyResponse },
  {
    method: 'get',
    path: '/api/v1/audit/rollups/check',
    query: rollupCheckQuery,
    response: rollupCheckResponse,
  },
] as const;

export type PrincipalsResponse = z.infer<typeof principalsResponse>;
export type PeriodResponse = z.infer<typeof periodResponse>;
export type TimelineResponse = z.infer<typeof timelineResponse>;
export type VerifyResponse = z.infer<typeof verifyResponse>;
export type RollupCheckResponse = z.infer<typeof rollupCheckResponse>;
