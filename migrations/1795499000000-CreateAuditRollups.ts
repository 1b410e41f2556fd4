import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Rollups of the audit trail (issue 15 point 5), kept by a statement-level trigger on
 * `audit_event` in the same transaction as the INSERT that wrote the records. The raw trail stays
 * the source of truth: `audit_rollup_check` (libs/audit/src/query/rollups.ts) recomputes them from
 * it. Written by hand: no entities (the query service reads them with SQL of its own).
 *
 * - `audit_rollup_day`: per principal × UTC day × writer chain × dimension (`tool`: server and
 *   tool; `resource`: server and one touched resource) the calls (intent records), the refused
 *   ones and the first and last time. The writer chain is in the key so that no two concurrent
 *   INSERTs ever update the same row (a chain is written by one lane, one INSERT at a time): no
 *   lock waits between lanes or replicas, no deadlocks.
 * - `audit_rollup_hour`: per principal × UTC hour × writer chain the calls per series of the
 *   Activity chart, as `audit_series(kind, outcome, decision, error_code)` names them.
 * - `audit_principal`: every principal seen in the trail, its last name, email and kind, its
 *   calls and when it was last seen, for the console's person picker. One row per principal, so
 *   INSERTs that carry the same principal take turns on its row; rows are upserted in subject
 *   order, so they cannot deadlock.
 *
 * Existing rows are rolled up here, once.
 */
export class CreateAuditRollups1795499000000 implements MigrationInterface {
  name = 'CreateAuditRollups1795499000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE TABLE "audit_rollup_day" (
      "subject" text NOT NULL,
      "day" date NOT NULL,
      "writer_id" uuid NOT NULL,
      "dim" text NOT NULL,
      "server" text NOT NULL,
      "name" text NOT NULL,
      "calls" bigint NOT NULL,
      "refused" bigint NOT NULL,
      "first_at" timestamptz NOT NULL,
      "last_at" timestamptz NOT NULL,
      CONSTRAINT "CHK_audit_rollup_day_dim" CHECK (dim IN ('tool', 'resource')),
      CONSTRAINT "PK_audit_rollup_day" PRIMARY KEY ("subject", "day", "dim", "server", "name", "writer_id")
    )`);
    await queryRunner.query(`CREATE TABLE "audit_rollup_hour" (
      "subject" text NOT NULL,
      "hour" timestamptz NOT NULL,
      "writer_id" uuid NOT NULL,
      "allowed" bigint NOT NULL,
      "denied" bigint NOT NULL,
      "shadow_denied" bigint NOT NULL,
      "rate_limited" bigint NOT NULL,
      "bypassed" bigint NOT NULL,
      "failed" bigint NOT NULL,
      CONSTRAINT "PK_audit_rollup_hour" PRIMARY KEY ("subject", "hour", "writer_id")
    )`);
    await queryRunner.query(`CREATE TABLE "audit_principal" (
      "subject" text NOT NULL,
      "name" text,
      "email" text,
      "kind" text NOT NULL,
      "calls" bigint NOT NULL,
      "first_seen_at" timestamptz NOT NULL,
      "last_seen_at" timestamptz NOT NULL,
      CONSTRAINT "PK_audit_principal" PRIMARY KEY ("subject")
    )`);
    // The picker walks principals most recent first and stops at `limit` matches.
    await queryRunner.query(
      `CREATE INDEX "IDX_audit_principal_seen" ON "audit_principal" ("last_seen_at" DESC, "subject")`,
    );

    // One definition of the chart's series, used by the trigger, the raw edges and the check.
    await queryRunner.query(`CREATE FUNCTION audit_series(kind text, outcome text, decision text, error_code integer)
      RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT CASE
          WHEN kind = 'intent' THEN CASE outcome
            WHEN 'allowed' THEN 'allowed'
            WHEN 'denied' THEN 'denied'
            WHEN 'shadow_denied' THEN 'shadow_denied'
            WHEN 'rate_limited' THEN 'rate_limited'
            WHEN 'bypassed' THEN 'bypassed'
            WHEN 'policy_error' THEN 'failed'
            -- Ingested calls (shadow, fallback) ran on a direct server whatever the gateway decided.
            ELSE CASE WHEN decision IN ('deny', 'shadow-deny') THEN 'shadow_denied' ELSE 'allowed' END
          END
          WHEN kind = 'outcome' AND outcome IN ('error', 'aborted') THEN 'failed'
          WHEN kind = 'outcome' AND outcome IN ('shadow', 'fallback') AND error_code IS NOT NULL THEN 'failed'
          ELSE NULL
        END
      $$`);

    await queryRunner.query(`CREATE FUNCTION audit_rollup_apply() RETURNS trigger
      LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
      BEGIN
${rollupStatements('new_rows').join(';\n')};
        RETURN NULL;
      END $$`);

    // Existing records, once, through the same statements.
    for (const statement of rollupStatements('audit_event')) await queryRunner.query(statement);

    await queryRunner.query(
      `CREATE TRIGGER "audit_event_rollup" AFTER INSERT ON "audit_event" REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION audit_rollup_apply()`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER "audit_event_rollup" ON "audit_event"`);
    await queryRunner.query(`DROP FUNCTION audit_rollup_apply()`);
    await queryRunner.query(`DROP FUNCTION audit_series(text, text, text, integer)`);
    await queryRunner.query(`DROP TABLE "audit_principal"`);
    await queryRunner.query(`DROP TABLE "audit_rollup_hour"`);
    await queryRunner.query(`DROP TABLE "audit_rollup_day"`);
  }
}

/** The rollup upserts for the records in `source` (the trigger's transition table, or the whole trail). */
function rollupStatements(source: string): string[] {
  return [
    `        INSERT INTO audit_rollup_day AS r (subject, day, writer_id, dim, server, name, calls, refused, first_at, last_at)
        SELECT subject, day, writer_id, dim, server, name, count(*), count(*) FILTER (WHERE refused), min(occurred_at), max(occurred_at)
          FROM (
            SELECT principal_subject AS subject, (occurred_at AT TIME ZONE 'UTC')::date AS day, writer_id,
                   'tool' AS dim, coalesce(server, '') AS server, coalesce(tool, '') AS name, occurred_at,
                   outcome IN ('denied', 'rate_limited', 'policy_error') AS refused
              FROM ${source} WHERE kind = 'intent'
            UNION ALL
            SELECT principal_subject, (occurred_at AT TIME ZONE 'UTC')::date, writer_id,
                   'resource', coalesce(server, ''), resource, occurred_at,
                   outcome IN ('denied', 'rate_limited', 'policy_error')
              FROM ${source} CROSS JOIN LATERAL unnest(touched) AS resource WHERE kind = 'intent'
          ) AS c
         GROUP BY subject, day, writer_id, dim, server, name
         ORDER BY subject, day, dim, server, name, writer_id
        ON CONFLICT (subject, day, dim, server, name, writer_id) DO UPDATE SET
          calls = r.calls + excluded.calls,
          refused = r.refused + excluded.refused,
          first_at = least(r.first_at, excluded.first_at),
          last_at = greatest(r.last_at, excluded.last_at)`,
    `
        INSERT INTO audit_rollup_hour AS r (subject, hour, writer_id, allowed, denied, shadow_denied, rate_limited, bypassed, failed)
        SELECT principal_subject, date_trunc('hour', occurred_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', writer_id,
               count(*) FILTER (WHERE s = 'allowed'), count(*) FILTER (WHERE s = 'denied'),
               count(*) FILTER (WHERE s = 'shadow_denied'), count(*) FILTER (WHERE s = 'rate_limited'),
               count(*) FILTER (WHERE s = 'bypassed'), count(*) FILTER (WHERE s = 'failed')
          FROM (SELECT *, audit_series(kind, outcome, decision, error_code) AS s FROM ${source}) AS n
         WHERE s IS NOT NULL
         GROUP BY 1, 2, 3
         ORDER BY 1, 2, 3
        ON CONFLICT (subject, hour, writer_id) DO UPDATE SET
          allowed = r.allowed + excluded.allowed,
          denied = r.denied + excluded.denied,
          shadow_denied = r.shadow_denied + excluded.shadow_denied,
          rate_limited = r.rate_limited + excluded.rate_limited,
          bypassed = r.bypassed + excluded.bypassed,
          failed = r.failed + excluded.failed`,
    `
        INSERT INTO audit_principal AS p (subject, name, email, kind, calls, first_seen_at, last_seen_at)
        SELECT principal_subject,
               (array_agg(principal_name ORDER BY occurred_at DESC) FILTER (WHERE principal_name IS NOT NULL))[1],
               (array_agg(principal_email ORDER BY occurred_at DESC) FILTER (WHERE principal_email IS NOT NULL))[1],
               (array_agg(principal_kind ORDER BY occurred_at DESC))[1],
               count(*) FILTER (WHERE kind = 'intent'), min(occurred_at), max(occurred_at)
          FROM ${source}
         GROUP BY principal_subject
         ORDER BY principal_subject
        ON CONFLICT (subject) DO UPDATE SET
          name = CASE WHEN excluded.last_seen_at >= p.last_seen_at THEN coalesce(excluded.name, p.name) ELSE coalesce(p.name, excluded.name) END,
          email = CASE WHEN excluded.last_seen_at >= p.last_seen_at THEN coalesce(excluded.email, p.email) ELSE coalesce(p.email, excluded.email) END,
          kind = CASE WHEN excluded.last_seen_at >= p.last_seen_at THEN excluded.kind ELSE p.kind END,
          calls = p.calls + excluded.calls,
          first_seen_at = least(p.first_seen_at, excluded.first_seen_at),
          last_seen_at = greatest(p.last_seen_at, excluded.last_seen_at)`,
  ];
}
