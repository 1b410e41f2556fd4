import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The audit trail (issue 5, R16, R17). Written by hand: TypeORM entities cannot express
 * partitioning or triggers, and `audit_event` has no entity (the writer inserts raw SQL), so the
 * schema check leaves it alone.
 *
 * - `audit_event` is range-partitioned by month on `occurred_at`; `audit_ensure_partition(ts)`
 *   creates the month of `ts` (the writer calls it at start and for every month it has not seen).
 *   There is no DEFAULT partition: a row for a month nobody created fails loudly instead of
 *   landing in a partition that would later block creating that month.
 * - Row triggers reject UPDATE and DELETE, statement triggers reject TRUNCATE on the parent and on
 *   every partition (a TRUNCATE of a partition does not fire the parent's trigger), for every role.
 */
export class CreateAuditEvent1795484293252 implements MigrationInterface {
  name = 'CreateAuditEvent1795484293252';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE TABLE "audit_event" (
      "id" uuid NOT NULL,
      "kind" text NOT NULL,
      "call_id" text NOT NULL,
      "occurred_at" timestamptz NOT NULL,
      "outcome" text NOT NULL,
      "principal_subject" text NOT NULL,
      "principal_issuer" text NOT NULL,
      "principal_kind" text NOT NULL,
      "principal_name" text,
      "principal_email" text,
      "principal_groups" text[] NOT NULL,
      "certificate_subject" text,
      "client_name" text,
      "client_version" text,
      "client_bridge_version" text,
      "client_ip" text,
      "session" text,
      "server" text,
      "tool" text,
      "method" text NOT NULL,
      "action" text,
      "arguments" jsonb,
      "decision" text,
      "matched_rules" text[] NOT NULL,
      "policy_version" integer,
      "bypass_id" text,
      "rate_limit" jsonb,
      "touched" text[] NOT NULL,
      "error_code" integer,
      "error_message" text,
      "gateway_us" bigint,
      "upstream_us" bigint,
      "response_bytes" bigint,
      "trace_id" text,
      "admin_action" text,
      "admin_target" text,
      "writer_id" uuid NOT NULL,
      "seq" bigint NOT NULL,
      "prev_hash" bytea NOT NULL,
      "hash" bytea NOT NULL,
      CONSTRAINT "CHK_audit_event_kind" CHECK (kind IN ('intent', 'outcome', 'admin')),
      CONSTRAINT "CHK_audit_event_seq" CHECK (seq >= 1),
      CONSTRAINT "PK_audit_event" PRIMARY KEY ("occurred_at", "id")
    ) PARTITION BY RANGE ("occurred_at")`);
    await queryRunner.query(
      `CREATE INDEX "IDX_audit_event_principal" ON "audit_event" ("principal_subject", "occurred_at")`,
    );
    await queryRunner.query(`CREATE INDEX "IDX_audit_event_time" ON "audit_event" ("occurred_at", "id")`);
    await queryRunner.query(
      `CREATE INDEX "IDX_audit_event_tool" ON "audit_event" ("server", "tool", "occurred_at")`,
    );
    // The verifier walks each writer's chain in order.
    await queryRunner.query(`CREATE INDEX "IDX_audit_event_chain" ON "audit_event" ("writer_id", "seq")`);

    await queryRunner.query(`CREATE FUNCTION audit_event_reject() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'audit_event is append-only: % is not allowed', TG_OP
          USING ERRCODE = 'insufficient_privilege';
      END $$`);
    await queryRunner.query(
      `CREATE TRIGGER "audit_event_no_update_delete" BEFORE UPDATE OR DELETE ON "audit_event" FOR EACH ROW EXECUTE FUNCTION audit_event_reject()`,
    );
    await queryRunner.query(
      `CREATE TRIGGER "audit_event_no_truncate" BEFORE TRUNCATE ON "audit_event" FOR EACH STATEMENT EXECUTE FUNCTION audit_event_reject()`,
    );

    // SECURITY DEFINER: the app role (INSERT and SELECT only) may create a month, nothing else.
    await queryRunner.query(`CREATE FUNCTION audit_ensure_partition(at timestamptz) RETURNS text
      LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
      DECLARE
        start_at timestamptz := date_trunc('month', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
        part text := 'audit_event_y' || to_char(start_at AT TIME ZONE 'UTC', 'YYYY"m"MM');
      BEGIN
        IF to_regclass(part) IS NOT NULL THEN
          RETURN part;
        END IF;
        -- Replicas reaching a new month together create it once.
        PERFORM pg_advisory_xact_lock(hashtext('gatehouse.audit_event.partitions'));
        -- pg_class, not to_regclass: an advisory lock does not refresh the catalog cache, a query does.
        IF EXISTS (SELECT 1 FROM pg_class WHERE relname = part AND relnamespace = 'public'::regnamespace) THEN
          RETURN part;
        END IF;
        EXECUTE format('CREATE TABLE %I PARTITION OF audit_event FOR VALUES FROM (%L) TO (%L)',
          part, start_at, start_at + interval '1 month');
        EXECUTE format('CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON %I '
          'FOR EACH STATEMENT EXECUTE FUNCTION audit_event_reject()', part);
        RETURN part;
      END $$`);
    await queryRunner.query(`SELECT audit_ensure_partition(now())`);
    await queryRunner.query(`SELECT audit_ensure_partition(now() + interval '1 month')`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "audit_event"`);
    await queryRunner.query(`DROP FUNCTION audit_ensure_partition(timestamptz)`);
    await queryRunner.query(`DROP FUNCTION audit_event_reject()`);
  }
}
