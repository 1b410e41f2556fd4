import type { PolicyProblem } from '../types';

/** Why a policy lifecycle request was refused. */
export enum PolicyErrorCode {
  /** The request's shape is wrong (missing field, bad version number, bad path). */
  INVALID_REQUEST = 'INVALID_REQUEST',
  /** The files have problems (each with file, line and column); nothing was stored. */
  POLICY_INVALID = 'POLICY_INVALID',
  VERSION_NOT_FOUND = 'VERSION_NOT_FOUND',
  /** The step does not apply to the version's status (e.g. approving a draft). */
  INVALID_TRANSITION = 'INVALID_TRANSITION',
  /** Four eyes: the author may not approve their own version. */
  APPROVAL_BY_AUTHOR = 'APPROVAL_BY_AUTHOR',
  /** Four eyes: whoever proposed a version may not approve it either. */
  APPROVAL_BY_PROPOSER = 'APPROVAL_BY_PROPOSER',
  /** Approving needs the `policy-approver` or `admin` role. */
  APPROVER_ROLE_REQUIRED = 'APPROVER_ROLE_REQUIRED',
  /**
   * Four eyes on rollback: a superseded version goes back only by someone who neither wrote,
   * proposed nor approved it, and only if a second person approved it (never an imported version).
   */
  ROLLBACK_NEEDS_SECOND_PERSON = 'ROLLBACK_NEEDS_SECOND_PERSON',
  /** Another activation changed the active version at the same moment; retry after a look. */
  CONCURRENT_ACTIVATION = 'CONCURRENT_ACTIVATION',
  /** Something unexpected; the log line with the same `errorId` says what. */
  INTERNAL = 'INTERNAL',
}

/** A lifecycle refusal, answered as `{ error: { code, message, problems?, errorId? } }`. */
export class PolicyError extends Error {
  override readonly name = 'PolicyError';

  constructor(
    readonly code: PolicyErrorCode,
    message: string,
    /** For `POLICY_INVALID`: every problem found. */
    readonly problems?: PolicyProblem[],
    /** For `INTERNAL`: the id of the log line that has the cause. */
    readonly errorId?: string,
  ) {
    super(message);
  }
}

/** The HTTP status of each code; a code without one does not compile. */
export function policyErrorStatus(code: PolicyErrorCode): 400 | 403 | 404 | 409 | 422 | 500 {
  switch (code) {
    case PolicyErrorCode.INVALID_REQUEST:
      return 400;
    case PolicyErrorCode.APPROVAL_BY_AUTHOR:
    case PolicyErrorCode.APPROVAL_BY_PROPOSER:
    case PolicyErrorCode.APPROVER_ROLE_REQUIRED:
    case PolicyErrorCode.ROLLBACK_NEEDS_SECOND_PERSON:
      return 403;
    case PolicyErrorCode.VERSION_NOT_FOUND:
      return 404;
    case PolicyErrorCode.INVALID_TRANSITION:
    case PolicyErrorCode.CONCURRENT_ACTIVATION:
      return 409;
    case PolicyErrorCode.POLICY_INVALID:
      return 422;
    case PolicyErrorCode.INTERNAL:
      return 500;
    default: {
      const unhandled: never = code;
      throw new Error(`unmapped policy error ${String(unhandled)}`);
    }
  }
}

/** `file:line:column: message`, one per line: how problems read in logs and start-up errors. */
export function formatProblems(problems: readonly PolicyProblem[]): string {
  return problems.map((p) => `${p.file}:${p.line}:${p.column}: ${p.message}`).join('\n');
}
