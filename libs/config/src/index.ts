export { configSchema, upstreamSchema, SERVER_NAME, CONSOLE_ROLES } from './schema';
export type { GatehouseConfig, UpstreamConfig, StdioUpstreamConfig, HttpUpstreamConfig } from './schema';
export { loadConfig, parseConfigText, redactedConfig, ConfigError, authMode } from './load';
export type { LoadedConfig, ConfigProblem } from './load';
export { ConfigModule, GATEHOUSE_CONFIG, LOADED_CONFIG } from './config.module';
export { closest } from './suggest';
