/** Why a SIEM sink could not deliver a batch. */
export enum SiemSinkErrorCode {
  /** The sink's options are wrong (bad URL, missing secret); fix the configuration, retrying will not help. */
  INVALID_OPTIONS = 'INVALID_OPTIONS',
  /** The receiver could not be reached (refused, reset, DNS, connect timeout). */
  UNREACHABLE = 'UNREACHABLE',
  /** TLS failed: the receiver's certificate is not trusted by the configured CA, or it refused ours. */
  TLS = 'TLS',
  /** The receiver stopped taking data within the write or request timeout. */
  TIMEOUT = 'TIMEOUT',
  /** The connection broke while or right after the batch was written. */
  CONNECTION_LOST = 'CONNECTION_LOST',
  /** The receiver answered with an error status. */
  REJECTED = 'REJECTED',
}

/**
 * A sink's delivery failure. `retryable` tells the relay whether re-sending the same batch later
 * can succeed (receiver down, busy, timed out) or whether it needs a person (a revoked token, a
 * malformed request, a bad configuration): those should go to the dead-letter state at once.
 */
export class SiemSinkError extends Error {
  constructor(
    readonly code: SiemSinkErrorCode,
    readonly sink: string,
    message: string,
    readonly retryable: boolean,
    /** The HTTP status for `REJECTED`. */
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(`SIEM sink '${sink}': ${message}`, options);
    this.name = 'SiemSinkError';
  }
}
