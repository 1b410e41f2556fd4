import { z } from 'zod';
import { AUDIT_OUTCOMES, type AuditOutcome, type AuditRecord } from '../types';
import { AuditQueryError, AuditQueryErrorCode } from './audit-query-error';
import { checkTimeZone, parsePeriod, PeriodError, periodSuggestions, type Period } from './period';

/** What `GET /api/v1/audit/events` (and its exports) select. */
export interface EventFilter {
  subject?: string;
  from?: Date;
  to?: Date;
  server?: string;
  tool?: string;
  decision?: string;
  outcome?: AuditOutcome;
  kind?: AuditRecord['kind'];
  /** Rows strictly older than this (occurred_at, id), newest first. */
  after?: Cursor;
  limit: number;
}

/** The last row of a page: its time (Postgres text, microseconds kept) and id. */
export interface Cursor {
  at: string;
  id: string;
}

export const MAX_LIMIT = 1000;
export const DEFAULT_LIMIT = 100;

const instant = z
  .string()
  .refine((s) => !Number.isNaN(Date.parse(s)), 'an ISO 8601 time such as 2026-03-12T09:00:00Z')
  .transform((s) => new Date(s));

const text = z.string().min(1).max(500);

const eventQuery = z
  .object({
    user: text.optional(),
    from: instant.optional(),
    to: instant.optional(),
    server: text.optional(),
    tool: text.optional(),
    decision: text.optional(),
    outcome: z.enum(AUDIT_OUTCOMES).optional(),
    kind: z.enum(['intent', 'outcome', 'admin']).optional(),
    cursor: text.optional(),
    limit: z.coerce.number().int().min(1).max(MAX_LIMIT).default(DEFAULT_LIMIT),
  })
  .strict();

const summaryQuery = z
  .object({
    period: text.optional(),
    from: instant.optional(),
    to: instant.optional(),
    tz: text.default('UTC'),
    // Tests and "as of" questions fix the reference time of a phrase.
    now: instant.optional(),
  })
  .strict();

/** Validates a query or body with `schema`; 400 `INVALID_REQUEST` naming every problem. */
export function parse<T extends z.ZodType>(schema: T, query: unknown): z.infer<T> {
  const result = schema.safeParse(query ?? {});
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) =>
    i.code === 'unrecognized_keys'
      ? `unknown parameter ${i.keys.join(', ')}`
      : `${i.path.join('.') || 'query'}: ${i.message}`,
  );
  throw new AuditQueryError(AuditQueryErrorCode.INVALID_REQUEST, problems.join('; '));
}

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.at, cursor.id])).toString('base64url');
}

function decodeCursor(value: string): Cursor {
  try {
    const [at, id] = JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as unknown[];
    if (typeof at === 'string' && typeof id === 'string' && !Number.isNaN(Date.parse(at))) return { at, id };
  } catch {
    // answered below
  }
  throw new AuditQueryError(
    AuditQueryErrorCode.INVALID_REQUEST,
    'cursor: not a cursor this API gave out (send nextCursor from the previous page)',
  );
}

/** Reads the query string of the events API and its exports. */
export function eventFilter(query: unknown): EventFilter {
  const q = parse(eventQuery, query);
  if (q.from && q.to && q.to <= q.from) {
    throw new AuditQueryError(AuditQueryErrorCode.INVALID_REQUEST, 'to must be after from');
  }
  return {
    ...(q.user !== undefined ? { subject: q.user } : {}),
    ...(q.from ? { from: q.from } : {}),
    ...(q.to ? { to: q.to } : {}),
    ...(q.server !== undefined ? { server: q.server } : {}),
    ...(q.tool !== undefined ? { tool: q.tool } : {}),
    ...(q.decision !== undefined ? { decision: q.decision } : {}),
    ...(q.outcome ? { outcome: q.outcome } : {}),
    ...(q.kind ? { kind: q.kind } : {}),
    ...(q.cursor !== undefined ? { after: decodeCursor(q.cursor) } : {}),
    limit: q.limit,
  };
}

/** A period as asked: a phrase in `tz`, or explicit from/to (ISO strings or Dates). */
export interface PeriodAsked {
  period?: string | undefined;
  from?: string | Date | undefined;
  to?: string | Date | undefined;
  tz: string;
  now?: string | Date | undefined;
}

const asDate = (v: string | Date | undefined): Date | undefined =>
  v === undefined ? undefined : v instanceof Date ? v : new Date(v);

/**
 * Resolves a period the one way every audit route does: a phrase through {@link parsePeriod}, or
 * explicit from/to; default today. An unreadable phrase is 400 `PERIOD_UNREADABLE` with
 * suggestions; anything else wrong (time zone, both forms, to before from) 400 `INVALID_REQUEST`.
 */
export function resolvePeriod(q: PeriodAsked, clock: () => Date): Period {
  const now = asDate(q.now) ?? clock();
  const from = asDate(q.from);
  const to = asDate(q.to);
  try {
    const timeZone = checkTimeZone(q.tz);
    if (q.period !== undefined) {
      if (from || to) throw new PeriodError('send either period or from/to, not both');
      return parsePeriod(q.period, timeZone, now);
    }
    if (from && to) {
      if (to <= from) throw new PeriodError('to must be after from');
      return { from, to, timeZone };
    }
    if (from || to) throw new PeriodError('send both from and to (or a period)');
    return parsePeriod('today', timeZone, now);
  } catch (err) {
    if (err instanceof PeriodError && err.unreadable)
      throw new AuditQueryError(
        AuditQueryErrorCode.PERIOD_UNREADABLE,
        err.message,
        periodSuggestions(q.tz, now),
      );
    if (err instanceof PeriodError)
      throw new AuditQueryError(AuditQueryErrorCode.INVALID_REQUEST, err.message);
    throw err;
  }
}

/** Reads the summary's period: a phrase in `tz`, or explicit from/to; default today. */
export function summaryPeriod(query: unknown, clock: () => Date): Period {
  return resolvePeriod(parse(summaryQuery, query), clock);
}
