import { DataSource, MigrationExecutor, type DataSourceOptions } from 'typeorm';
import type { GatehouseConfig } from '@gatehouse/config';
import { DbError, DbErrorCode } from './db-error';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './embedded-postgres';
import { ENTITY_GLOB, MIGRATION_GLOB } from './paths';
import { safeUrl } from './url';

/** `embedded`: PGlite under dataDir; `postgres`: the server at `database.url`. */
export type DatabaseMode = 'embedded' | 'postgres';

/** An initialised TypeORM data source and whatever runs behind it. */
export interface Database {
  readonly dataSource: DataSource;
  readonly mode: DatabaseMode;
  /** Which database is in use, safe to log (passwords masked). */
  readonly description: string;
  /** The embedded server, when {@link mode} is `embedded`. */
  readonly embedded: EmbeddedPostgres | undefined;
  /** Resolves when the database answers `SELECT 1`; rejects with the driver's error otherwise. */
  ping(): Promise<void>;
  /** Applies pending migrations in one transaction under an advisory lock; returns their names. */
  migrate(): Promise<string[]>;
  /** Closes the pool, then the embedded server if any. Safe to call twice. */
  close(): Promise<void>;
}

/** Replaces parts of what the configuration decides; for the migration CLI and tests. */
export interface DataSourceOverrides {
  /** Connect to this URL instead of `database.url` or the embedded database. */
  url?: string;
  /** Entity classes or globs instead of every lib's `*.entity` files. */
  entities?: NonNullable<DataSourceOptions['entities']>;
  /** Migration classes or globs instead of `migrations/`. */
  migrations?: NonNullable<DataSourceOptions['migrations']>;
}

/**
 * Replicas starting together would otherwise apply the same migration twice; Postgres
 * serialises them on this session-level advisory lock ("gatehouse" in ASCII).
 */
const MIGRATION_LOCK = '113723746776949';

/**
 * Postgres down must fail calls closed within 2 s (R30), so a new connection may not wait
 * longer than that for a server that does not answer.
 */
const CONNECT_TIMEOUT_MS = 2000;

/**
 * Opens the database the configuration names: Postgres at `database.url` with a pool of
 * `database.poolSize`, or, without a URL, embedded PGlite under `<dataDir>/pgdata` reached
 * through its wire-protocol socket with exactly one pooled connection. Never synchronizes the
 * schema; call {@link Database.migrate}.
 */
export async function createDataSource(
  config: GatehouseConfig,
  overrides: DataSourceOverrides = {},
): Promise<Database> {
  const url = overrides.url ?? config.database.url;
  const dataDir = `${config.dataDir.replace(/\/+$/, '')}/pgdata`;
  const embedded = url === undefined ? await startEmbeddedPostgres(dataDir) : undefined;
  const target = embedded ? embedded.url : (url ?? '');
  // PGlite is a single session: a second connection would be refused, and if it were not,
  // its statements would land inside the first connection's open transaction.
  const poolSize = embedded ? 1 : config.database.poolSize;
  const dataSource = new DataSource({
    type: 'postgres',
    url: target,
    poolSize,
    connectTimeoutMS: CONNECT_TIMEOUT_MS,
    applicationName: 'gatehouse',
    // The single embedded connection stays open; closing it when idle would race the
    // server's one-client limit on reconnect.
    extra: embedded ? { idleTimeoutMillis: 0 } : {},
    entities: overrides.entities ?? [ENTITY_GLOB],
    migrations: overrides.migrations ?? [MIGRATION_GLOB],
    migrationsTableName: 'migrations',
    synchronize: false,
    migrationsRun: false,
    // Extensions are created by migrations, never implicitly; gen_random_uuid() is built in.
    installExtensions: false,
    uuidExtension: 'pgcrypto',
    logging: false,
  });
  const description = embedded
    ? `embedded PGlite at ${dataDir} (single connection)`
    : `Postgres at ${safeUrl(target)} (pool of ${poolSize})`;
  try {
    await dataSource.initialize();
  } catch (err) {
    await embedded?.stop().catch(() => undefined);
    throw new DbError(
      DbErrorCode.CONNECT_FAILED,
      `cannot open ${description}: ${err instanceof Error ? err.message : String(err)}. ` +
        (embedded
          ? 'Fix: remove the data folder if it is damaged, or set DATABASE_URL'
          : 'Fix: start Postgres or correct DATABASE_URL (unset it to use the embedded database)'),
      { cause: err },
    );
  }

  let closing: Promise<void> | undefined;
  return {
    dataSource,
    mode: embedded ? 'embedded' : 'postgres',
    description,
    embedded,
    ping: async () => {
      await dataSource.query('SELECT 1');
    },
    migrate: () => migrate(dataSource),
    close: () =>
      (closing ??= (async () => {
        try {
          if (dataSource.isInitialized) await dataSource.destroy();
        } finally {
          await embedded?.stop();
        }
      })()),
  };
}

async function migrate(dataSource: DataSource): Promise<string[]> {
  const runner = dataSource.createQueryRunner();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      const executor = new MigrationExecutor(dataSource, runner);
      // One transaction for the whole batch: a failure leaves the schema as it was.
      executor.transaction = 'all';
      const applied = await executor.executePendingMigrations();
      return applied.map((m) => m.name);
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  } catch (err) {
    throw new DbError(
      DbErrorCode.MIGRATION_FAILED,
      `migrations failed and were rolled back: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  } finally {
    await runner.release();
  }
}
