/** Why a bypass request was refused. */
export enum BypassErrorCode {
  /** The request's shape is wrong: a missing or weak reason, a duration over the maximum, a bad glob. */
  INVALID_REQUEST = 'INVALID_REQUEST',
  GRANT_NOT_FOUND = 'GRANT_NOT_FOUND',
  /** The step does not apply to the grant's status (approving an active grant, revoking an expired one). */
  INVALID_TRANSITION = 'INVALID_TRANSITION',
  /** Four eyes: whoever opened a grant may not approve it. */
  SELF_APPROVAL = 'SELF_APPROVAL',
  /** Four eyes: whoever opened a grant may not sign off its review. */
  SELF_REVIEW = 'SELF_REVIEW',
  /** A grant cannot be changed, widened or extended; open a new one. */
  GRANT_IMMUTABLE = 'GRANT_IMMUTABLE',
  /** Something unexpected; the log line with the same `errorId` says what. */
  INTERNAL = 'INTERNAL',
}

/** A bypass refusal, answered as `{ error: { code, message, problems?, errorId? } }`. */
export class BypassError extends Error {
  override readonly name = 'BypassError';

  constructor(
    readonly code: BypassErrorCode,
    message: string,
    /** For `INVALID_REQUEST`: each field's problem. */
    readonly problems?: string[],
    /** For `INTERNAL`: the id of the log line that has the cause. */
    readonly errorId?: string,
  ) {
    super(message);
  }
}

/** The HTTP status of each code; a code without one does not compile. */
export function bypassErrorStatus(code: BypassErrorCode): 400 | 403 | 404 | 405 | 409 | 500 {
  switch (code) {
    case BypassErrorCode.INVALID_REQUEST:
      return 400;
    case BypassErrorCode.SELF_APPROVAL:
    case BypassErrorCode.SELF_REVIEW:
      return 403;
    case BypassErrorCode.GRANT_NOT_FOUND:
      return 404;
    case BypassErrorCode.GRANT_IMMUTABLE:
      return 405;
    case BypassErrorCode.INVALID_TRANSITION:
      return 409;
    case BypassErrorCode.INTERNAL:
      return 500;
    default: {
      const unhandled: never = code;
      throw new Error(`unmapped bypass error ${String(unhandled)}`);
    }
  }
}
