import type { PolicyProblem } from '@gatehouse/policy';

/** Why a `gatehouse policy` command could not do its job. */
export enum PolicyCliErrorCode {
  /** The policy directory (or a file in it) cannot be read. */
  DIRECTORY_UNREADABLE = 'DIRECTORY_UNREADABLE',
  /** `--config` names a file the gateway's loader refuses. */
  CONFIG_INVALID = 'CONFIG_INVALID',
  /** The policy or test files have problems (locally, or as the gateway's 422 says). */
  POLICY_INVALID = 'POLICY_INVALID',
  /** No token, or one the gateway refused (401). */
  UNAUTHENTICATED = 'UNAUTHENTICATED',
  /** The caller lacks the console role the step needs, or four eyes refused it (403). */
  FORBIDDEN = 'FORBIDDEN',
  /** A version named on the command line does not exist, or there is no active version. */
  NOT_FOUND = 'NOT_FOUND',
  /** The gateway refused the step in the version's state (409) or the request (400). */
  REFUSED = 'REFUSED',
  /** The gateway did not answer, or answered with something that is not its API. */
  GATEWAY_UNREACHABLE = 'GATEWAY_UNREACHABLE',
}

/** A failure with a message written for the person at the terminal (or the CI log). */
export class PolicyCliError extends Error {
  override readonly name = 'PolicyCliError';

  constructor(
    readonly code: PolicyCliErrorCode,
    message: string,
    /** For `POLICY_INVALID`: each problem, to print as `file:line:column: message`. */
    readonly problems: readonly PolicyProblem[] = [],
  ) {
    super(message);
  }
}

/**
 * Exit status of `push` for each failure: 2 when the files are at fault (fix them and push again),
 * 1 when the gateway or the caller's rights are. `diff` exits 2 on any failure, as diff(1) does.
 */
export function pushExitCode(code: PolicyCliErrorCode): 1 | 2 {
  switch (code) {
    case PolicyCliErrorCode.DIRECTORY_UNREADABLE:
    case PolicyCliErrorCode.CONFIG_INVALID:
    case PolicyCliErrorCode.POLICY_INVALID:
      return 2;
    case PolicyCliErrorCode.UNAUTHENTICATED:
    case PolicyCliErrorCode.FORBIDDEN:
    case PolicyCliErrorCode.NOT_FOUND:
    case PolicyCliErrorCode.REFUSED:
    case PolicyCliErrorCode.GATEWAY_UNREACHABLE:
      return 1;
    default:
      return assertUnreachable(code);
  }
}

export function assertUnreachable(value: never): never {
  throw new Error(`unhandled case: ${JSON.stringify(value)}`);
}
