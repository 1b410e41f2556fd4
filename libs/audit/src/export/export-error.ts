/** What went wrong in the audit export; each code names a different fix. */
export enum ExportErrorCode {
  /** Redis evicts keys under memory pressure: queued jobs could vanish silently. */
  REDIS_EVICTION = 'REDIS_EVICTION',
  /** A batch's records are not all in `audit_event` (deleted, or never committed). */
  BATCH_INCOMPLETE = 'BATCH_INCOMPLETE',
  /** An object already exists under the batch's key with other content. */
  OBJECT_CONFLICT = 'OBJECT_CONFLICT',
  /** The S3 server refused or failed a request. */
  S3_FAILED = 'S3_FAILED',
  /** The checkpoint signing key cannot be read or is not Ed25519. */
  SIGNING_KEY = 'SIGNING_KEY',
}

/** An error of the audit export, with a message that says what to do. */
export class ExportError extends Error {
  constructor(
    readonly code: ExportErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ExportError';
  }
}
