/** Why the database layer refused to go on. */
export enum DbErrorCode {
  /** The configured Postgres server did not accept a connection at start. */
  CONNECT_FAILED = 'DB_CONNECT_FAILED',
  /** The embedded database could not be opened (data folder locked, unreadable, or corrupt). */
  EMBEDDED_FAILED = 'DB_EMBEDDED_FAILED',
  /** A migration failed; the transaction holding all pending migrations was rolled back. */
  MIGRATION_FAILED = 'DB_MIGRATION_FAILED',
  /** The database lacks what the code needs: migrations were not applied to it. */
  SCHEMA_OUT_OF_DATE = 'DB_SCHEMA_OUT_OF_DATE',
  /** The entities describe a schema the migrations do not create. */
  SCHEMA_DRIFT = 'DB_SCHEMA_DRIFT',
}

/** The error of `@gatehouse/db`; its message says what to do about it. */
export class DbError extends Error {
  constructor(
    readonly code: DbErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DbError';
  }
}
