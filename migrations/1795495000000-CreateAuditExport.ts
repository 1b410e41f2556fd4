import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The audit export's outbox (issue 6, R21–R24). Hand written like `audit_event`, and without
 * entities (the export reads and writes them with plain SQL), so the schema check leaves them alone.
 *
 * - `audit_chain_head`: the newest `seq` of every writer chain, kept by a statement trigger on
 *   `audit_event` in the same transaction as the INSERT, so a committed record and the knowledge
 *   that it must be exported are committed together (R21), and the relay finds new records without
 *   scanning `audit_event`. `SECURITY DEFINER`: the app role needs no grant on this table.
 * - `audit_export_cursor`: per sink and writer chain, the records the relay has cut into batches
 *   (`planned_seq`) and the contiguous prefix every batch of which is delivered (`exported_seq`).
 * - `audit_export_batch`: one row per batch (the job); `pending`, `done` or `dead` (failed every
 *   attempt; retried after a cool-down). The tables, not Redis, say what is exported.
 * - `audit_export_sink`: last success and last error per sink, for health.
 * - `audit_export_checkpoint`: the signed checkpoints (R18), each chaining the previous signature.
 */
export class CreateAuditExport1795495000000 implements MigrationInterface {
  name = 'CreateAuditExport1795495000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE TABLE "audit_chain_head" (
      "writer_id" uuid PRIMARY KEY,
      "last_seq" bigint NOT NULL,
      "updated_at" timestamptz NOT NULL DEFAULT now()
    )`);
    await queryRunner.query(`CREATE FUNCTION audit_chain_head_track() RETURNS trigger
      LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
      BEGIN
        INSERT INTO audit_chain_head (writer_id, last_seq, updated_at)
          SELECT writer_id, max(seq), now() FROM new_rows GROUP BY writer_id
        ON CONFLICT (writer_id) DO UPDATE
          SET last_seq = GREATEST(audit_chain_head.last_seq, EXCLUDED.last_seq), updated_at = EXCLUDED.updated_at;
        RETURN NULL;
      END $$`);
    await queryRunner.query(
      `CREATE TRIGGER "audit_event_chain_head" AFTER INSERT ON "audit_event" REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION audit_chain_head_track()`,
    );
    // Records written before this migration: their chains are known from the table itself.
    await queryRunner.query(`INSERT INTO audit_chain_head (writer_id, last_seq)
      SELECT writer_id, max(seq) FROM audit_event GROUP BY writer_id`);

    await queryRunner.query(`CREATE TABLE "audit_export_cursor" (
      "sink" text NOT NULL,
      "writer_id" uuid NOT NULL,
      "planned_seq" bigint NOT NULL DEFAULT 0,
      "exported_seq" bigint NOT NULL DEFAULT 0,
      CONSTRAINT "PK_audit_export_cursor" PRIMARY KEY ("sink", "writer_id")
    )`);
    await queryRunner.query(`CREATE TABLE "audit_export_batch" (
      "sink" text NOT NULL,
      "writer_id" uuid NOT NULL,
      "first_seq" bigint NOT NULL,
      "last_seq" bigint NOT NULL,
      "job_id" text NOT NULL,
      "status" text NOT NULL DEFAULT 'pending',
      "attempts" integer NOT NULL DEFAULT 0,
      "object_key" text,
      "last_error" text,
      "created_at" timestamptz NOT NULL DEFAULT now(),
      "updated_at" timestamptz NOT NULL DEFAULT now(),
      "done_at" timestamptz,
      CONSTRAINT "PK_audit_export_batch" PRIMARY KEY ("sink", "writer_id", "first_seq"),
      CONSTRAINT "CHK_audit_export_batch_status" CHECK (status IN ('pending', 'done', 'dead')),
      CONSTRAINT "CHK_audit_export_batch_range" CHECK (first_seq >= 1 AND last_seq >= first_seq),
      CONSTRAINT "CHK_audit_export_batch_job" CHECK (position(':' in job_id) = 0)
    )`);
    await queryRunner.query(
      `CREATE INDEX "IDX_audit_export_batch_open" ON "audit_export_batch" ("sink", "status", "created_at") WHERE status <> 'done'`,
    );
    await queryRunner.query(`CREATE TABLE "audit_export_sink" (
      "sink" text PRIMARY KEY,
      "last_success_at" timestamptz,
      "last_error" text,
      "last_error_at" timestamptz
    )`);
    await queryRunner.query(`CREATE TABLE "audit_export_checkpoint" (
      "number" bigint PRIMARY KEY,
      "created_at" timestamptz NOT NULL,
      "body" text NOT NULL,
      "signature" text NOT NULL,
      "object_key" text NOT NULL,
      "status" text NOT NULL DEFAULT 'pending',
      CONSTRAINT "CHK_audit_export_checkpoint_status" CHECK (status IN ('pending', 'done'))
    )`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "audit_export_checkpoint"`);
    await queryRunner.query(`DROP TABLE "audit_export_sink"`);
    await queryRunner.query(`DROP TABLE "audit_export_batch"`);
    await queryRunner.query(`DROP TABLE "audit_export_cursor"`);
    await queryRunner.query(`DROP TRIGGER "audit_event_chain_head" ON "audit_event"`);
    await queryRunner.query(`DROP FUNCTION audit_chain_head_track()`);
    await queryRunner.query(`DROP TABLE "audit_chain_head"`);
  }
}
