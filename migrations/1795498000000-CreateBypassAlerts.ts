import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Hand written (the table has no entity: the alerter in libs/bypass/src/alerts reads and writes
 * it with SQL of its own, `ON CONFLICT` and `FOR UPDATE SKIP LOCKED`). One row per break-glass
 * alert and target (`pager`, `siem-<name>`) under the alert's deterministic id, so replicas and
 * restarts never create an alert twice; a row is done once its target acknowledged it.
 */
export class CreateBypassAlerts1795498000000 implements MigrationInterface {
  name = 'CreateBypassAlerts1795498000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "bypass_alert" ("id" text NOT NULL, "target" text NOT NULL, "grant_id" uuid NOT NULL, "kind" text NOT NULL, "occurred_at" TIMESTAMP WITH TIME ZONE NOT NULL, "alert" jsonb NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "delivered_at" TIMESTAMP WITH TIME ZONE, "attempts" integer NOT NULL DEFAULT 0, "next_attempt_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "last_error" text, CONSTRAINT "PK_bypass_alert" PRIMARY KEY ("id", "target"), CONSTRAINT "FK_bypass_alert_grant" FOREIGN KEY ("grant_id") REFERENCES "bypass_grant"("id") ON DELETE RESTRICT ON UPDATE NO ACTION)`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_bypass_alert_due" ON "bypass_alert" ("target", "next_attempt_at") WHERE delivered_at IS NULL`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."IDX_bypass_alert_due"`);
    await queryRunner.query(`DROP TABLE "bypass_alert"`);
  }
}
