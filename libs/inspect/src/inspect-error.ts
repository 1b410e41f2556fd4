/** Why an inspector could not run. */
export enum InspectErrorCode {
  /** `inspectSql` was called before `await initSqlInspector()` finished loading the parser. */
  SQL_INSPECTOR_NOT_READY = 'INSPECT_SQL_NOT_READY',
}

/** The error of `@gatehouse/inspect`; its message says what to do about it. */
export class InspectError extends Error {
  constructor(
    readonly code: InspectErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'InspectError';
  }
}
