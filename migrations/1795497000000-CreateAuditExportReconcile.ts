import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The reconciler's state (R22), hand written and without entities like the rest of the export.
 *
 * - `audit_export_cursor.acked_seq`: per sink and writer chain, the acknowledged high-water mark as
 *   the last reconciliation found it: every record up to it is held by the sink (S3: its manifest
 *   and object are listed in the bucket; a SIEM: the receiver acknowledged its batch).
 * - `audit_export_reconcile`: one row per sink with the last pass: the period compared, records in
 *   Postgres and held by the sink (the counts that must match), missing records and the oldest of
 *   them, whether that is a gap older than `export.reconcile.gapAlertSeconds`, and why a pass
 *   could not compare. The health API and the metrics read it, so any replica answers.
 */
export class CreateAuditExportReconcile1795497000000 implements MigrationInterface {
  name = 'CreateAuditExportReconcile1795497000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "audit_export_cursor" ADD "acked_seq" bigint NOT NULL DEFAULT 0, ADD "acked_at" timestamptz`,
    );
    await queryRunner.query(`CREATE TABLE "audit_export_reconcile" (
      "sink" text PRIMARY KEY,
      "checked_at" timestamptz NOT NULL,
      "source" text NOT NULL,
      "period_from" timestamptz NOT NULL,
      "period_to" timestamptz NOT NULL,
      "postgres_records" bigint NOT NULL,
      "held_records" bigint NOT NULL,
      "missing_records" bigint NOT NULL,
      "oldest_missing_at" timestamptz,
      "reshipped" integer NOT NULL DEFAULT 0,
      "gap_alert" boolean NOT NULL DEFAULT false,
      "gap_since" timestamptz,
      "error" text,
      CONSTRAINT "CHK_audit_export_reconcile_source" CHECK (source IN ('bucket', 'acknowledgements'))
    )`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "audit_export_reconcile"`);
    await queryRunner.query(
      `ALTER TABLE "audit_export_cursor" DROP COLUMN "acked_at", DROP COLUMN "acked_seq"`,
    );
  }
}
