import type { Query } from '../store/verify';
import type { RollupCheckResponse } from './activity.schemas';

/**
 * The rollups the `audit_event_rollup` trigger keeps (migration CreateAuditRollups): per
 * principal × UTC day × writer chain × (server, tool) and (server, resource), and per principal ×
 * UTC hour × writer chain the chart's series. The raw trail is the source of truth; this file
 * says how a period splits into whole rollup units and raw edges, and checks the two agree.
 */

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/** A half-open interval. */
export interface Span {
  from: Date;
  to: Date;
}

/**
 * Splits [from, to) into whole units of `unitMs` (UTC-aligned) read from a rollup and at most two
 * raw edges. With no whole unit inside, everything is raw and `whole` is empty.
 */
export function splitPeriod(from: Date, to: Date, unitMs: number): { whole: Span; edges: [Span, Span] } {
  const start = Math.ceil(from.getTime() / unitMs) * unitMs;
  const end = Math.floor(to.getTime() / unitMs) * unitMs;
  if (start >= end) {
    return {
      whole: { from, to: from },
      edges: [
        { from, to },
        { from: to, to },
      ],
    };
  }
  return {
    whole: { from: new Date(start), to: new Date(end) },
    edges: [
      { from, to: new Date(start) },
      { from: new Date(end), to },
    ],
  };
}

export const splitByDay = (from: Date, to: Date) => splitPeriod(from, to, DAY_MS);
export const splitByHour = (from: Date, to: Date) => splitPeriod(from, to, HOUR_MS);

/** `YYYY-MM-DD` of a UTC midnight, for `date` parameters. */
export const utcDay = (d: Date): string => d.toISOString().slice(0, 10);

/** Calls of intent records per dimension, as the rollup and the summary define them. */
export const DIMENSION_ROWS = (source: string, where: string): string => `
  SELECT principal_subject AS subject, (occurred_at AT TIME ZONE 'UTC')::date AS day, 'tool' AS dim,
         coalesce(server, '') AS server, coalesce(tool, '') AS name, occurred_at,
         outcome IN ('denied', 'rate_limited', 'policy_error') AS refused
    FROM ${source} WHERE kind = 'intent' AND ${where}
  UNION ALL
  SELECT principal_subject, (occurred_at AT TIME ZONE 'UTC')::date, 'resource',
         coalesce(server, ''), resource, occurred_at, outcome IN ('denied', 'rate_limited', 'policy_error')
    FROM ${source} CROSS JOIN LATERAL unnest(touched) AS resource WHERE kind = 'intent' AND ${where}`;

const SERIES = ['allowed', 'denied', 'shadow_denied', 'rate_limited', 'bypassed', 'failed'] as const;

/** The longest span one check covers (it reads the raw trail of that span). */
export const MAX_CHECK_DAYS = 31;

/**
 * Recomputes the rollups of the whole UTC days in [from, to) from `audit_event` and lists every
 * key where they disagree (at most 100 per table): calls, refused, first and last per principal,
 * day, server and tool or resource; the six series per principal and hour.
 */
export async function checkRollups(query: Query, from: Date, to: Date): Promise<RollupCheckResponse> {
  const { whole } = splitByDay(from, to);
  const params = [whole.from.toISOString(), whole.to.toISOString()];
  const day = await query(
    `WITH trail AS (
       SELECT subject, day, dim, server, name, count(*)::bigint AS calls, count(*) FILTER (WHERE refused)::bigint AS refused,
              min(occurred_at) AS first_at, max(occurred_at) AS last_at
         FROM (${DIMENSION_ROWS('audit_event', 'occurred_at >= $1 AND occurred_at < $2')}) AS c
        GROUP BY subject, day, dim, server, name
     ), roll AS (
       SELECT subject, day, dim, server, name, sum(calls)::bigint AS calls, sum(refused)::bigint AS refused,
              min(first_at) AS first_at, max(last_at) AS last_at
         FROM audit_rollup_day WHERE day >= ($1::timestamptz AT TIME ZONE 'UTC')::date AND day < ($2::timestamptz AT TIME ZONE 'UTC')::date
        GROUP BY subject, day, dim, server, name
     )
     SELECT subject, to_char(day, 'YYYY-MM-DD') AS day, dim, server, name,
            roll.calls AS r_calls, roll.refused AS r_refused, roll.first_at AS r_first, roll.last_at AS r_last,
            trail.calls AS t_calls, trail.refused AS t_refused, trail.first_at AS t_first, trail.last_at AS t_last
       FROM trail FULL JOIN roll USING (subject, day, dim, server, name)
      WHERE trail.calls IS DISTINCT FROM roll.calls OR trail.refused IS DISTINCT FROM roll.refused
         OR trail.first_at IS DISTINCT FROM roll.first_at OR trail.last_at IS DISTINCT FROM roll.last_at
      ORDER BY 1, 2, 3, 4, 5 LIMIT 100`,
    params,
  );
  const sums = SERIES.map((s) => `sum(${s})::bigint AS ${s}`).join(', ');
  const counts = SERIES.map((s) => `count(*) FILTER (WHERE s = '${s}')::bigint AS ${s}`).join(', ');
  const hour = await query(
    `WITH trail AS (
       SELECT principal_subject AS subject, date_trunc('hour', occurred_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS hour, ${counts}
         FROM (SELECT *, audit_series(kind, outcome, decision, error_code) AS s FROM audit_event
                WHERE occurred_at >= $1 AND occurred_at < $2) AS e
        WHERE s IS NOT NULL GROUP BY 1, 2
     ), roll AS (
       SELECT subject, hour, ${sums} FROM audit_rollup_hour WHERE hour >= $1 AND hour < $2 GROUP BY 1, 2
     )
     SELECT subject, hour, ${SERIES.map((s) => `roll.${s} AS r_${s}, trail.${s} AS t_${s}`).join(', ')}
       FROM trail FULL JOIN roll USING (subject, hour)
      WHERE ${SERIES.map((s) => `trail.${s} IS DISTINCT FROM roll.${s}`).join(' OR ')}
      ORDER BY 1, 2 LIMIT 100`,
    params,
  );
  const at = (v: unknown) =>
    v instanceof Date ? v.toISOString() : typeof v === 'string' || typeof v === 'number' ? String(v) : '-';
  const mismatches: RollupCheckResponse['mismatches'] = [
    ...day.map((r) => ({
      table: 'audit_rollup_day' as const,
      key: `${String(r.subject)} ${String(r.day)} ${String(r.dim)} ${String(r.server)} ${String(r.name)}`,
      rollup: `calls ${at(r.r_calls)} refused ${at(r.r_refused)} first ${at(r.r_first)} last ${at(r.r_last)}`,
      trail: `calls ${at(r.t_calls)} refused ${at(r.t_refused)} first ${at(r.t_first)} last ${at(r.t_last)}`,
    })),
    ...hour.map((r) => ({
      table: 'audit_rollup_hour' as const,
      key: `${String(r.subject)} ${at(r.hour)}`,
      rollup: SERIES.map((s) => `${s} ${at(r[`r_${s}`])}`).join(' '),
      trail: SERIES.map((s) => `${s} ${at(r[`t_${s}`])}`).join(' '),
    })),
  ];
  return {
    ok: mismatches.length === 0,
    from: whole.from.toISOString(),
    to: whole.to.toISOString(),
    mismatches,
  };
}
