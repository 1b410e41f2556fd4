import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { verifyChains, type Query } from '../store/verify';
import type {
  PrincipalsResponse,
  RollupCheckResponse,
  TimelineResponse,
  VerifyResponse,
} from './activity.schemas';
import { TIMELINE_SERIES } from './activity.schemas';
import { AuditQueryError, AuditQueryErrorCode } from './audit-query-error';
import type { Period } from './period';
import { checkRollups, MAX_CHECK_DAYS, splitByHour, type Span } from './rollups';

/** Bucket sizes the timeline picks from: the smallest that gives at most 96 buckets. */
const STEPS = [
  60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 345600, 604800, 1209600, 2592000,
];
export const MAX_BUCKETS = 96;

/** What one `POST /api/v1/audit/verify` may check: a span and a number of records. */
export const MAX_VERIFY_DAYS = 31;
export const MAX_VERIFY_RECORDS = 250_000;

const DAY_MS = 86_400_000;

/** The bucket size for a span: the smallest step giving at most 96 buckets. */
export function bucketSecondsFor(spanMs: number): number {
  const span = spanMs / 1000;
  return (
    STEPS.find((s) => Math.ceil(span / s) <= MAX_BUCKETS) ?? Math.ceil(span / MAX_BUCKETS / 86400) * 86400
  );
}

/** `LIKE` pattern matching `text` anywhere, its wildcards taken literally. */
const contains = (text: string) => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/**
 * The server side of the console's Activity screen: the person picker, the chart of calls over a
 * period, the integrity check of a period, and the rollups' self-check. Read-only.
 */
@Injectable()
export class ActivityService {
  private verifying = false;

  constructor(private readonly dataSource: DataSource) {}

  private readonly query: Query = (sql, params) => this.dataSource.query(sql, params);

  /**
   * Principals seen in the trail, most recently seen first, whose subject, name or email contains
   * `q` (case-insensitive). Reads `audit_principal` (one row per principal, kept by the rollup
   * trigger) down its last-seen index and stops at `limit` matches.
   */
  async principals(q: string, limit: number): Promise<PrincipalsResponse> {
    const rows = await this.dataSource.query<
      Array<{
        subject: string;
        name: string | null;
        email: string | null;
        kind: string;
        calls: string;
        last_seen_at: Date;
      }>
    >(
      `SELECT subject, name, email, kind, calls::text AS calls, last_seen_at FROM audit_principal
        WHERE $1 = '' OR subject ILIKE $2 OR name ILIKE $2 OR email ILIKE $2
        ORDER BY last_seen_at DESC, subject LIMIT $3`,
      [q, contains(q), limit],
    );
    return {
      principals: rows.map((r) => ({
        subject: r.subject,
        ...(r.name !== null ? { name: r.name } : {}),
        ...(r.email !== null ? { email: r.email } : {}),
        kind: r.kind,
        calls: Number(r.calls),
        lastSeenAt: r.last_seen_at.toISOString(),
      })),
    };
  }

  /**
   * Calls of `subject` over `period` per bucket and series (see `audit_series` in the migration
   * and `timelineBucket` in activity.schemas.ts). Whole UTC hours come from `audit_rollup_hour`
   * when the buckets are whole hours starting on an hour (every zone whose offset is whole hours);
   * the rest, and every period otherwise, from `audit_event`.
   */
  async timeline(subject: string, period: Period): Promise<TimelineResponse> {
    const spanMs = period.to.getTime() - period.from.getTime();
    const bucketSeconds = bucketSecondsFor(spanMs);
    const count = Math.ceil(spanMs / 1000 / bucketSeconds);
    const aligned = period.from.getTime() % 3_600_000 === 0 && bucketSeconds % 3600 === 0;
    const split = aligned ? splitByHour(period.from, period.to) : undefined;
    const whole = split?.whole ?? { from: period.from, to: period.from };
    const raw: [Span, Span] = split
      ? split.edges
      : [
          { from: period.from, to: period.to },
          { from: period.to, to: period.to },
        ];
    const bucket = (column: string) => `floor(extract(epoch FROM ${column} - $2::timestamptz) / $3)::int`;
    const sums = TIMELINE_SERIES.map((s) => `sum(${s})::bigint AS ${s}`).join(', ');
    const counts = TIMELINE_SERIES.map((s) => `count(*) FILTER (WHERE s = '${s}')::bigint AS ${s}`).join(
      ', ',
    );
    const rows = await this.dataSource.query<Array<Record<string, string | number>>>(
      `SELECT ${bucket('hour')} AS i, ${sums}
         FROM audit_rollup_hour WHERE subject = $1 AND hour >= $4 AND hour < $5 GROUP BY 1
       UNION ALL
       SELECT ${bucket('occurred_at')} AS i, ${counts}
         FROM (SELECT occurred_at, audit_series(kind, outcome, decision, error_code) AS s FROM audit_event
                WHERE principal_subject = $1
                  AND ((occurred_at >= $6 AND occurred_at < $7) OR (occurred_at >= $8 AND occurred_at < $9))) AS e
        WHERE s IS NOT NULL GROUP BY 1`,
      [
        subject,
        period.from,
        bucketSeconds,
        whole.from,
        whole.to,
        raw[0].from,
        raw[0].to,
        raw[1].from,
        raw[1].to,
      ],
    );
    const buckets = Array.from({ length: count }, (_, i) => ({
      start: new Date(period.from.getTime() + i * bucketSeconds * 1000).toISOString(),
      allowed: 0,
      denied: 0,
      shadow_denied: 0,
      rate_limited: 0,
      bypassed: 0,
      failed: 0,
    }));
    for (const r of rows) {
      const b = buckets[Number(r.i)];
      if (!b) continue;
      for (const s of TIMELINE_SERIES) b[s] += Number(r[s]);
    }
    return {
      subject,
      from: period.from.toISOString(),
      to: period.to.toISOString(),
      tz: period.timeZone,
      phrase: period.phrase ?? null,
      bucketSeconds,
      buckets,
    };
  }

  /**
   * Verifies the hash chains of the records in `period` with `verifyChains`, the verifier of
   * `gatehouse audit verify`: each chain entering the period is checked from the record before it.
   * Bounded: at most {@link MAX_VERIFY_DAYS} days and {@link MAX_VERIFY_RECORDS} records (413
   * `VERIFY_TOO_LARGE`, use the CLI beyond), one verification at a time per replica (429
   * `VERIFY_BUSY`).
   */
  async verify(period: Period, now: () => Date): Promise<VerifyResponse> {
    if (period.to.getTime() - period.from.getTime() > MAX_VERIFY_DAYS * DAY_MS) {
      throw new AuditQueryError(
        AuditQueryErrorCode.VERIFY_TOO_LARGE,
        `a verification covers at most ${MAX_VERIFY_DAYS} days; split the period, or run gatehouse audit verify --from --to`,
      );
    }
    if (this.verifying) {
      throw new AuditQueryError(
        AuditQueryErrorCode.VERIFY_BUSY,
        'a verification is already running on this gateway; retry when it is done',
      );
    }
    this.verifying = true;
    try {
      const range = [period.from, period.to];
      const [{ n }] = await this.dataSource.query<[{ n: number }]>(
        `SELECT count(*)::int AS n FROM (SELECT 1 FROM audit_event WHERE occurred_at >= $1 AND occurred_at < $2 LIMIT ${MAX_VERIFY_RECORDS + 1}) AS r`,
        range,
      );
      if (n > MAX_VERIFY_RECORDS) {
        throw new AuditQueryError(
          AuditQueryErrorCode.VERIFY_TOO_LARGE,
          `the period holds more than ${MAX_VERIFY_RECORDS.toLocaleString('en')} records, more than one request verifies; choose a shorter period, or run gatehouse audit verify --from --to`,
        );
      }
      const report = await verifyChains(this.query, { from: period.from, to: period.to });
      const end = async (order: 'ASC' | 'DESC') =>
        (
          await this.dataSource.query<Array<{ id: string }>>(
            `SELECT id::text AS id FROM audit_event WHERE occurred_at >= $1 AND occurred_at < $2
              ORDER BY occurred_at ${order}, id ${order} LIMIT 1`,
            range,
          )
        )[0]?.id;
      const [firstId, lastId] = [await end('ASC'), await end('DESC')];
      return {
        ok: report.ok,
        checked: report.records,
        chains: report.chains,
        from: period.from.toISOString(),
        to: period.to.toISOString(),
        verifiedAt: now().toISOString(),
        ...(firstId ? { firstId } : {}),
        ...(lastId ? { lastId } : {}),
        problems: report.broken.map((b) => ({
          id: b.id,
          reason: b.problem,
          writerId: b.writerId,
          seq: b.seq,
        })),
      };
    } finally {
      this.verifying = false;
    }
  }

  /** Whether the rollups of the whole UTC days in [from, to) agree with the raw trail. */
  async checkRollups(from: Date, to: Date): Promise<RollupCheckResponse> {
    if (to <= from) throw new AuditQueryError(AuditQueryErrorCode.INVALID_REQUEST, 'to must be after from');
    if (to.getTime() - from.getTime() > MAX_CHECK_DAYS * DAY_MS) {
      throw new AuditQueryError(
        AuditQueryErrorCode.INVALID_REQUEST,
        `a rollup check covers at most ${MAX_CHECK_DAYS} days; split the period`,
      );
    }
    return checkRollups(this.query, from, to);
  }
}
