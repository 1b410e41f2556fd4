import type { Query } from './outbox';
import type { S3Archive } from './sinks/s3-archive';

/** What one reconciliation pass found. */
export interface ReconcileReport {
  /** Batches checked (done within the window). */
  checked: number;
  /** Batches whose object or manifest is not in the bucket; each was put back to pending. */
  missing: Array<{ job: string; key: string }>;
}

/**
 * Compares the batches the outbox says are in S3 (done within the last `sinceSeconds`) with the
 * bucket itself (R22): a HEAD of each object and manifest. A batch whose object is gone (a wrong
 * bucket policy, a lifecycle rule, a bucket swapped under the export) goes back to `pending` and
 * its chain's cursor back before it, so the relay ships it again; the caller alerts.
 */
export async function reconcileS3(
  archive: S3Archive,
  query: Query,
  sinceSeconds: number,
): Promise<ReconcileReport> {
  const rows = await query(
    `SELECT writer_id, first_seq, job_id, object_key FROM audit_export_batch
      WHERE sink = 's3' AND status = 'done' AND object_key IS NOT NULL
        AND done_at > now() - make_interval(secs => $1)
      ORDER BY done_at`,
    [sinceSeconds],
  );
  const report: ReconcileReport = { checked: rows.length, missing: [] };
  for (const row of rows) {
    const key = String(row.object_key);
    const manifest = key.replace(/(^|\/)audit\//, '$1manifests/').replace(/\.jsonl\.gz$/, '.json');
    const gone =
      (await archive.head(key)) === undefined
        ? key
        : (await archive.head(manifest)) === undefined
          ? manifest
          : null;
    if (!gone) continue;
    report.missing.push({ job: String(row.job_id), key: gone });
    await query(
      `WITH b AS (
         UPDATE audit_export_batch SET status = 'pending', done_at = NULL, updated_at = now(),
                last_error = 'reconciler: ' || $3 || ' is not in the bucket'
          WHERE sink = 's3' AND writer_id = $1 AND first_seq = $2 RETURNING 1)
       UPDATE audit_export_cursor SET exported_seq = LEAST(exported_seq, $2 - 1)
        WHERE sink = 's3' AND writer_id = $1`,
      [row.writer_id, row.first_seq, gone],
    );
  }
  return report;
}
