import type { BatchRef } from './keys';
import type { S3Archive } from './sinks/s3-archive';

/**
 * One export destination as the processors see it: delivers a batch's records (rows as `pg`
 * returns them, in `seq` order) and resolves only once the destination holds them. Must be
 * idempotent: a batch may be delivered again after a crash or a lost acknowledgement.
 */
export interface BatchDelivery {
  /** The sink name in the outbox tables and queue names: `s3`, `siem-<name>`. */
  readonly sink: string;
  /** Delivers the batch; returns where it went (an object key) or null. */
  deliver(ref: BatchRef, rows: Array<Record<string, unknown>>): Promise<string | null>;
  close(): Promise<void>;
}

/** The S3 archive as a batch destination (objects and manifests, written once per key). */
export class S3Delivery implements BatchDelivery {
  readonly sink = 's3';

  constructor(readonly archive: S3Archive) {}

  async deliver(ref: BatchRef, rows: Array<Record<string, unknown>>): Promise<string> {
    const manifest = await this.archive.writeBatch(ref, rows);
    return manifest.object.key;
  }

  async close(): Promise<void> {
    this.archive.close();
    return Promise.resolve();
  }
}
