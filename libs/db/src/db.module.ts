import {
  Global,
  Inject,
  Module,
  type DynamicModule,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { DataSource } from 'typeorm';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '@gatehouse/config';
import { LOGGER, Readiness, type Logger } from '@gatehouse/observability';
import { createDataSource, type Database } from './data-source';
import {
  DATABASE,
  DEFAULT_HEARTBEAT_MS,
  REPLICA_HEARTBEAT_MS,
  ReplicaRegistry,
} from './replica-registry.service';

/** Options of {@link DbModule.forRoot}. */
export interface DbModuleOptions {
  /** Replica heartbeat interval; default 15 s. */
  heartbeatMs?: number;
}

/**
 * Opens the database once per process, applies pending migrations (always on the embedded
 * database, on Postgres when `database.migrate` is true), reports readiness as `database`,
 * and closes everything on shutdown. Global: inject `DataSource` (or {@link DATABASE}) anywhere.
 */
@Global()
@Module({})
export class DbModule implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    private readonly readiness: Readiness,
  ) {}

  static forRoot(options: DbModuleOptions = {}): DynamicModule {
    return {
      module: DbModule,
      global: true,
      providers: [
        {
          provide: DATABASE,
          inject: [GATEHOUSE_CONFIG, LOGGER],
          useFactory: (config: GatehouseConfig, logger: Logger) => open(config, logger),
        },
        { provide: DataSource, inject: [DATABASE], useFactory: (db: Database) => db.dataSource },
        { provide: REPLICA_HEARTBEAT_MS, useValue: options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS },
        ReplicaRegistry,
      ],
      exports: [DATABASE, DataSource, ReplicaRegistry],
    };
  }

  onModuleInit(): void {
    this.readiness.register('database', () => this.db.ping());
  }

  /** Runs after every provider's own shutdown hook (the replica registry's last write included). */
  async onApplicationShutdown(): Promise<void> {
    await this.db.close();
  }
}

async function open(config: GatehouseConfig, logger: Logger): Promise<Database> {
  const db = await createDataSource(config);
  logger.info({ database: db.description, mode: db.mode }, `database: ${db.description}`);
  if (db.mode === 'embedded' || config.database.migrate) {
    try {
      const applied = await db.migrate();
      logger.info(
        { applied },
        applied.length
          ? `database: applied ${applied.length} migration(s)`
          : 'database: schema is up to date',
      );
    } catch (err) {
      await db.close();
      throw err;
    }
  } else {
    logger.info('database: migrations not run at start (database.migrate is false)');
  }
  return db;
}
