export { configSchema, upstreamSchema, SERVER_NAME } from './schema';
export type { GatehouseConfig, UpstreamConfig, StdioUpstreamConfig, HttpUpstreamConfig } from './schema';
export { loadConfig, parseConfigText, redactedConfig, ConfigError } from './load';
export type { LoadedConfig, ConfigProblem } from './load';
export { ConfigModule, GATEHOUSE_CONFIG, LOADED_CONFIG } from './config.module';
