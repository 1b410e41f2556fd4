export { createDataSource } from './data-source';
export type { Database, DatabaseMode, DataSourceOverrides } from './data-source';
export { DbModule } from './db.module';
export type { DbModuleOptions } from './db.module';
export { DbError, DbErrorCode } from './db-error';
export { startEmbeddedPostgres } from './embedded-postgres';
export type { EmbeddedPostgres } from './embedded-postgres';
export { GatewayReplica } from './gateway-replica.entity';
export { ReplicaRegistry, DATABASE, DEFAULT_HEARTBEAT_MS } from './replica-registry.service';
