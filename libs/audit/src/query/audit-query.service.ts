import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { z } from 'zod';
import type { auditEventSchema, eventPageSchema } from '../api-schemas';
import { encodeCursor, type EventFilter } from './filters';
import type { Period } from './period';
import { DIMENSION_ROWS, splitByDay, utcDay } from './rollups';

/** One audit row as the API answers it (field names as in `AuditRecord`, chain fields added). */
export type AuditEventView = z.infer<typeof auditEventSchema>;

/** A page of events, newest first; `nextCursor` is null on the last page. */
export type EventPage = z.infer<typeof eventPageSchema>;

/** One line of the activity summary. */
export interface SummaryEntry {
  calls: number;
  /** Calls the gateway refused (denied, rate limited, policy error). */
  refused: number;
  first: string;
  last: string;
}

export interface ActivitySummary {
  subject: string;
  /** The exact interval used: [from, to). */
  period: { from: string; to: string; timeZone: string; phrase: string | null };
  calls: number;
  servers: Array<SummaryEntry & { server: string }>;
  tools: Array<SummaryEntry & { server: string; tool: string }>;
  resources: Array<SummaryEntry & { server: string; resource: string }>;
}

// Times leave Postgres as UTC text with microseconds, so a cursor names a row exactly.
const AT = `to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

const COLUMNS = `id::text AS id, kind, call_id, ${AT} AS at, outcome, principal_subject,
  principal_name, principal_email, principal_groups, certificate_subject, client_name, client_version,
  client_bridge_version, client_ip, session, server, tool, method, action, arguments, decision,
  matched_rules, policy_version, bypass_id, rate_limit, touched, error_code, error_message,
  gateway_us, upstream_us, response_bytes, trace_id, admin_action, admin_target, writer_id::text AS writer_id,
  seq::text AS seq, encode(hash, 'hex') AS hash`;

const REFUSED = `outcome IN ('denied', 'rate_limited', 'policy_error')`;

const FIRST_LAST = `${AT.replace('occurred_at', 'first_at')} AS first, ${AT.replace('occurred_at', 'last_at')} AS last`;

interface SummaryRow {
  dim: string;
  server: string | null;
  name: string | null;
  calls: number;
  refused: number;
  first: string;
  last: string;
}

type Row = Record<string, unknown>;

const str = (v: unknown): string | null =>
  v === null || v === undefined ? null : typeof v === 'string' ? v : JSON.stringify(v);
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);

/**
 * A row of `audit_event` in the API's JSON shape: as this service selects it (`COLUMNS`: `at` as
 * UTC text with microseconds, `hash` as hex) or as `pg` returns the raw columns (the export's SIEM
 * batches: `occurred_at` a Date, `hash` a Buffer).
 */
export function eventView(r: Row): AuditEventView {
  const occurredAt =
    typeof r.at === 'string'
      ? r.at
      : r.occurred_at instanceof Date
        ? r.occurred_at.toISOString()
        : str(r.occurred_at);
  return {
    id: String(r.id),
    kind: String(r.kind),
    callId: String(r.call_id),
    occurredAt: occurredAt ?? '',
    outcome: String(r.outcome),
    principal: {
      subject: String(r.principal_subject),
      name: str(r.principal_name),
      email: str(r.principal_email),
      groups: list(r.principal_groups),
      certificateSubject: str(r.certificate_subject),
    },
    client: {
      name: str(r.client_name),
      version: str(r.client_version),
      bridgeVersion: str(r.client_bridge_version),
      ip: str(r.client_ip),
    },
    session: str(r.session),
    server: str(r.server),
    tool: str(r.tool),
    method: String(r.method),
    action: str(r.action),
    arguments: r.arguments ?? null,
    decision: str(r.decision),
    matchedRules: list(r.matched_rules),
    policyVersion: num(r.policy_version),
    bypassId: str(r.bypass_id),
    rateLimit: r.rate_limit ?? null,
    touched: list(r.touched),
    errorCode: num(r.error_code),
    errorMessage: str(r.error_message),
    gatewayUs: num(r.gateway_us),
    upstreamUs: num(r.upstream_us),
    responseBytes: num(r.response_bytes),
    traceId: str(r.trace_id),
    adminAction: str(r.admin_action),
    adminTarget: str(r.admin_target),
    writerId: str(r.writer_id),
    seq: str(r.seq),
    hash: Buffer.isBuffer(r.hash) ? r.hash.toString('hex') : str(r.hash),
  };
}

/** The WHERE clause of a filter and its parameters. */
function where(filter: EventFilter): { sql: string; params: unknown[] } {
  const params: unknown[] = [];
  const terms: string[] = [];
  const add = (column: string, value: unknown, op = '=') => {
    params.push(value);
    terms.push(`${column} ${op} $${params.length}`);
  };
  if (filter.subject !== undefined) add('principal_subject', filter.subject);
  if (filter.from) add('occurred_at', filter.from, '>=');
  if (filter.to) add('occurred_at', filter.to, '<');
  if (filter.server !== undefined) add('server', filter.server);
  if (filter.tool !== undefined) add('tool', filter.tool);
  if (filter.decision !== undefined) add('decision', filter.decision);
  if (filter.outcome !== undefined) add('outcome', filter.outcome);
  if (filter.kind !== undefined) add('kind', filter.kind);
  if (filter.after) {
    params.push(filter.after.at, filter.after.id);
    terms.push(`(occurred_at, id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
  }
  return { sql: terms.length > 0 ? `WHERE ${terms.join(' AND ')}` : '', params };
}

/**
 * Reads the audit trail (`audit_event`): filtered events newest first with keyset pagination on
 * (occurred_at, id), whole exports page by page, and a user's activity summary. Read-only: the
 * trail is written by the audit writer alone.
 */
@Injectable()
export class AuditQueryService {
  constructor(private readonly dataSource: DataSource) {}

  /** One page of events, newest first. */
  async events(filter: EventFilter): Promise<EventPage> {
    const { sql, params } = where(filter);
    params.push(filter.limit + 1);
    const rows = await this.dataSource.query<Row[]>(
      `SELECT ${COLUMNS} FROM audit_event ${sql} ORDER BY occurred_at DESC, id DESC LIMIT $${params.length}`,
      params,
    );
    const more = rows.length > filter.limit;
    const events = rows.slice(0, filter.limit).map(eventView);
    const last = events.at(-1);
    return {
      events,
      nextCursor: more && last ? encodeCursor({ at: last.occurredAt, id: last.id }) : null,
    };
  }

  /**
   * Every event the filter selects, newest first, fetched a page at a time so an export of
   * millions of rows never sits in memory (`limit` is the page size here, not a cap).
   */
  async *stream(filter: EventFilter): AsyncGenerator<AuditEventView> {
    let page: EventFilter = { ...filter, limit: 1000 };
    for (;;) {
      const { events, nextCursor } = await this.events(page);
      yield* events;
      if (!nextCursor) return;
      const last = events.at(-1) as AuditEventView;
      page = { ...page, after: { at: last.occurredAt, id: last.id } };
    }
  }

  /**
   * What `subject` touched in `period`: servers, tools (per server) and resources (per server)
   * from the calls' intent records (one per call, written before forwarding, so a call that
   * crashed mid-way still counts), with call counts, refused counts and first/last time.
   *
   * The whole UTC days inside the period come from `audit_rollup_day` (kept by a trigger as
   * records are written), only the partial days at its edges from `audit_event`: the cost depends
   * on the number of days and distinct servers, tools and resources, not on the number of calls.
   * {@link summaryFromTrail} answers the same from the raw trail alone.
   */
  async summary(subject: string, period: Period): Promise<ActivitySummary> {
    const { whole, edges } = splitByDay(period.from, period.to);
    // A few thousand rollup rows and the edges' raw rows: a parallel plan (which the planner picks
    // for the many partitions) costs more in worker start-up than it saves, ~5x on a busy host.
    const rows = await this.dataSource.transaction(async (tx) => {
      await tx.query('SET LOCAL max_parallel_workers_per_gather = 0');
      return tx.query<SummaryRow[]>(
        `WITH parts AS (
         SELECT dim, server, name, count(*)::bigint AS calls, count(*) FILTER (WHERE refused)::bigint AS refused,
                min(occurred_at) AS first_at, max(occurred_at) AS last_at
           FROM (${DIMENSION_ROWS(
             'audit_event',
             `principal_subject = $1 AND ((occurred_at >= $2 AND occurred_at < $3) OR (occurred_at >= $4 AND occurred_at < $5))`,
           )}) AS c
          GROUP BY dim, server, name
         UNION ALL
         SELECT dim, server, name, calls, refused, first_at, last_at
           FROM audit_rollup_day WHERE subject = $1 AND day >= $6::date AND day < $7::date
       ), merged AS (
         SELECT dim, server, name, sum(calls)::int AS calls, sum(refused)::int AS refused,
                min(first_at) AS first_at, max(last_at) AS last_at
           FROM parts GROUP BY dim, server, name
       )
       SELECT dim, server, name, calls, refused, ${FIRST_LAST} FROM merged
       UNION ALL
       SELECT 'server', server, NULL, sum(calls)::int, sum(refused)::int,
              ${FIRST_LAST.replace('first_at', 'min(first_at)').replace('last_at', 'max(last_at)')}
         FROM merged WHERE dim = 'tool' GROUP BY server`,
        [
          subject,
          edges[0].from,
          edges[0].to,
          edges[1].from,
          edges[1].to,
          utcDay(whole.from),
          utcDay(whole.to),
        ],
      );
    });
    return summaryOf(subject, period, rows);
  }

  /** The summary from the raw trail alone (the source of truth; the bench's "before"). */
  async summaryFromTrail(subject: string, period: Period): Promise<ActivitySummary> {
    const rows = await this.dataSource.query<SummaryRow[]>(
      `WITH calls AS MATERIALIZED (
         SELECT server, tool, touched, occurred_at, ${REFUSED} AS refused
           FROM audit_event
          WHERE principal_subject = $1 AND occurred_at >= $2 AND occurred_at < $3 AND kind = 'intent'
       )
       SELECT 'server' AS dim, server, NULL AS name, count(*)::int AS calls, count(*) FILTER (WHERE refused)::int AS refused,
              ${AT.replace(/occurred_at/g, 'min(occurred_at)')} AS first, ${AT.replace(/occurred_at/g, 'max(occurred_at)')} AS last
         FROM calls GROUP BY server
       UNION ALL
       SELECT 'tool', server, tool, count(*)::int, count(*) FILTER (WHERE refused)::int,
              ${AT.replace(/occurred_at/g, 'min(occurred_at)')}, ${AT.replace(/occurred_at/g, 'max(occurred_at)')}
         FROM calls GROUP BY server, tool
       UNION ALL
       SELECT 'resource', server, resource, count(*)::int, count(*) FILTER (WHERE refused)::int,
              ${AT.replace(/occurred_at/g, 'min(occurred_at)')}, ${AT.replace(/occurred_at/g, 'max(occurred_at)')}
         FROM calls CROSS JOIN LATERAL unnest(touched) AS resource GROUP BY server, resource`,
      [subject, period.from, period.to],
    );
    return summaryOf(subject, period, rows);
  }
}

/** The summary's JSON from its rows (dimension, server, name, counts, first and last). */
function summaryOf(subject: string, period: Period, rows: SummaryRow[]): ActivitySummary {
  const entry = (r: (typeof rows)[number]): SummaryEntry => ({
    calls: r.calls,
    refused: r.refused,
    first: r.first,
    last: r.last,
  });
  const byCalls = <T extends SummaryEntry>(a: T, b: T) => b.calls - a.calls || (b.last < a.last ? -1 : 1);
  const servers = rows
    .filter((r) => r.dim === 'server')
    .map((r) => ({ server: r.server ?? '', ...entry(r) }));
  return {
    subject,
    period: {
      from: period.from.toISOString(),
      to: period.to.toISOString(),
      timeZone: period.timeZone,
      phrase: period.phrase ?? null,
    },
    calls: servers.reduce((n, s) => n + s.calls, 0),
    servers: servers.sort(byCalls),
    tools: rows
      .filter((r) => r.dim === 'tool')
      .map((r) => ({ server: r.server ?? '', tool: r.name ?? '', ...entry(r) }))
      .sort(byCalls),
    resources: rows
      .filter((r) => r.dim === 'resource')
      .map((r) => ({ server: r.server ?? '', resource: r.name ?? '', ...entry(r) }))
      .sort(byCalls),
  };
}
