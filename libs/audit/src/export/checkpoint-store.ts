import type { KeyObject } from 'node:crypto';
import { checkpointObject, signCheckpoint, type CheckpointBody, type SignedCheckpoint } from './checkpoint';
import { checkpointKey } from './keys';
import type { Query } from './outbox';

/** A checkpoint row: its object text, where it goes, whether it is in S3 yet. */
export interface CheckpointRow {
  number: number;
  objectKey: string;
  text: string;
  status: 'pending' | 'done';
}

/**
 * The signed checkpoints (R18), kept in Postgres first and mirrored to S3 by a job. The relay
 * leader makes one every `intervalSeconds`: the head (last exported seq and hash) of every chain
 * exported to S3 so far, signed with Ed25519 together with the previous checkpoint's signature.
 * Signing at creation and storing the text makes the job a plain idempotent PUT.
 */
export class CheckpointStore {
  constructor(
    private readonly query: Query,
    private readonly prefix: string,
  ) {}

  /** Makes the next checkpoint when the last is older than `intervalSeconds` and there is something to cover. */
  async makeDue(key: KeyObject, intervalSeconds: number, sink = 's3'): Promise<SignedCheckpoint | undefined> {
    const [last] = await this.query(
      `SELECT number, signature, created_at > now() - make_interval(secs => $1) AS recent
         FROM audit_export_checkpoint ORDER BY number DESC LIMIT 1`,
      [intervalSeconds],
    );
    if (last?.recent === true) return undefined;
    // One at a time: a checkpoint is made only once the previous one is in S3, so the bucket never
    // shows a later checkpoint while an earlier one is still being retried (a gap for verifiers).
    const [waiting] = await this.query(
      `SELECT 1 FROM audit_export_checkpoint WHERE status = 'pending' LIMIT 1`,
    );
    if (waiting) return undefined;
    const heads = await this.query(
      `SELECT c.writer_id, c.exported_seq, e.hash FROM audit_export_cursor c
         JOIN LATERAL (SELECT hash FROM audit_event WHERE writer_id = c.writer_id AND seq = c.exported_seq LIMIT 1) e ON true
        WHERE c.sink = $1 AND c.exported_seq > 0 ORDER BY c.writer_id`,
      [sink],
    );
    if (heads.length === 0) return undefined;
    const number = last ? Number(last.number) + 1 : 1;
    const body: CheckpointBody = {
      version: 'gatehouse-checkpoint-v1',
      number,
      createdAt: new Date().toISOString(),
      previousSignature: last ? String(last.signature) : null,
      heads: heads.map((h) => ({
        writerId: String(h.writer_id),
        seq: Number(h.exported_seq),
        hash: (h.hash as Buffer).toString('hex'),
      })),
    };
    const signed = signCheckpoint(body, key);
    await this.query(
      `INSERT INTO audit_export_checkpoint (number, created_at, body, signature, object_key)
       VALUES ($1, $2, $3, $4, $5)`,
      [
        number,
        body.createdAt,
        checkpointObject(signed),
        signed.signature,
        checkpointKey(this.prefix, number),
      ],
    );
    return signed;
  }

  /** Checkpoints not yet in S3, oldest first. */
  async pending(): Promise<CheckpointRow[]> {
    const rows = await this.query(
      `SELECT number, object_key, body, status FROM audit_export_checkpoint WHERE status = 'pending' ORDER BY number`,
    );
    return rows.map(toRow);
  }

  async get(number: number): Promise<CheckpointRow | undefined> {
    const [row] = await this.query(
      `SELECT number, object_key, body, status FROM audit_export_checkpoint WHERE number = $1`,
      [number],
    );
    return row ? toRow(row) : undefined;
  }

  async done(number: number): Promise<void> {
    await this.query(`UPDATE audit_export_checkpoint SET status = 'done' WHERE number = $1`, [number]);
  }
}

function toRow(r: Record<string, unknown>): CheckpointRow {
  return {
    number: Number(r.number),
    objectKey: String(r.object_key),
    text: String(r.body),
    status: r.status as CheckpointRow['status'],
  };
}
