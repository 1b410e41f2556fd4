/** Why the direct (legacy) side of `gatehouse bridge --shadow/--fallback` could not be used. */
export enum DirectErrorCode {
  /** The legacy host config file could not be read. */
  CONFIG_UNREADABLE = 'CONFIG_UNREADABLE',
  /** The legacy host config is not JSON or not one of the known shapes; the message names file, server and field. */
  CONFIG_INVALID = 'CONFIG_INVALID',
  /** `--server` names a server the file does not have, or the file has none. */
  SERVER_NOT_FOUND = 'SERVER_NOT_FOUND',
  /** The file has several servers and no `--server` picks one. */
  SERVER_AMBIGUOUS = 'SERVER_AMBIGUOUS',
  /** The server's name is not a valid gateway upstream name and no `--as` gives one. */
  UPSTREAM_NAME_INVALID = 'UPSTREAM_NAME_INVALID',
  /** The spool reached its size cap: fallback calls are refused rather than run unrecorded. */
  SPOOL_FULL = 'SPOOL_FULL',
  /** The spool could not be written (disk full, permissions): the call's record would be lost. */
  SPOOL_WRITE_FAILED = 'SPOOL_WRITE_FAILED',
  /** Another process holds the spool lock for longer than the wait allows. */
  SPOOL_LOCKED = 'SPOOL_LOCKED',
  /** The spool directory or file is readable by other users. */
  SPOOL_INSECURE = 'SPOOL_INSECURE',
  /** The direct server could not be started or connected to, or failed mid-call. */
  DIRECT_FAILED = 'DIRECT_FAILED',
  /** In fallback, a request names a tool, resource or prompt of another gateway upstream than the direct one. */
  NOT_ON_DIRECT = 'NOT_ON_DIRECT',
}

/** A failure of the direct path; the message says what to change. */
export class DirectError extends Error {
  constructor(
    readonly code: DirectErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'DirectError';
  }
}

function assertUnreachable(value: never): never {
  throw new Error(`unhandled direct error code: ${String(value)}`);
}

/**
 * JSON-RPC error code for each direct-path failure the host may see, next to the bridge's
 * own (-32010..-32019) in the implementation-defined server-error range.
 */
export function directJsonRpcCode(code: DirectErrorCode): number {
  switch (code) {
    case DirectErrorCode.SPOOL_FULL:
      return -32050;
    case DirectErrorCode.SPOOL_WRITE_FAILED:
    case DirectErrorCode.SPOOL_LOCKED:
    case DirectErrorCode.SPOOL_INSECURE:
      return -32051;
    case DirectErrorCode.DIRECT_FAILED:
      return -32052;
    case DirectErrorCode.NOT_ON_DIRECT:
      return -32053;
    case DirectErrorCode.CONFIG_UNREADABLE:
    case DirectErrorCode.CONFIG_INVALID:
    case DirectErrorCode.SERVER_NOT_FOUND:
    case DirectErrorCode.SERVER_AMBIGUOUS:
    case DirectErrorCode.UPSTREAM_NAME_INVALID:
      return -32054;
    default:
      return assertUnreachable(code);
  }
}

/** The `error` member of the JSON-RPC response for a host request the direct path could not serve. */
export function directJsonRpcError(error: DirectError): {
  code: number;
  message: string;
  data: { reason: string };
} {
  return {
    code: directJsonRpcCode(error.code),
    message: `Gatehouse bridge: ${error.message}`,
    data: { reason: error.code },
  };
}
