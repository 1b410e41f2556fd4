/** One batch of one writer chain for one sink: the unit of a job, an S3 object and a manifest. */
export interface BatchRef {
  sink: string;
  writerId: string;
  firstSeq: number;
  lastSeq: number;
}

/**
 * The BullMQ job id of a batch: deterministic, so the relay adding it again (after a restart, a
 * Redis flush, or simply on its next tick) never makes a second job while the first exists, and
 * free of `:`, which BullMQ reserves in its keys (R24).
 */
export function batchJobId(batch: BatchRef): string {
  return `${batch.sink}-${batch.writerId}-${batch.firstSeq}-${batch.lastSeq}`;
}

/** The job id of checkpoint `number`. */
export function checkpointJobId(number: number): string {
  return `checkpoint-${number}`;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** `yyyy/mm/dd/hh` of `at` in UTC. */
export function hourPath(at: Date): string {
  return `${at.getUTCFullYear()}/${pad(at.getUTCMonth() + 1)}/${pad(at.getUTCDate())}/${pad(at.getUTCHours())}`;
}

/**
 * Where a batch's records go: `audit/yyyy/mm/dd/hh/<writer>-<first>-<last>.jsonl.gz`, the hour of
 * its first record. Deterministic from the batch, so a retry finds the object it may already have
 * written instead of making a second one. The writer is in the name because sequence numbers are
 * per writer chain.
 */
export function batchObjectKey(prefix: string, batch: BatchRef, firstOccurredAt: Date): string {
  return `${prefix}audit/${hourPath(firstOccurredAt)}/${batch.writerId}-${batch.firstSeq}-${batch.lastSeq}.jsonl.gz`;
}

/** The manifest beside a batch object: `manifests/…/<writer>-<first>-<last>.json`. */
export function manifestKey(prefix: string, batch: BatchRef, firstOccurredAt: Date): string {
  return `${prefix}manifests/${hourPath(firstOccurredAt)}/${batch.writerId}-${batch.firstSeq}-${batch.lastSeq}.json`;
}

/** Checkpoint objects sort by number: `checkpoints/000000000042.json`. */
export function checkpointKey(prefix: string, number: number): string {
  return `${prefix}checkpoints/${String(number).padStart(12, '0')}.json`;
}
