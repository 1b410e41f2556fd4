import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { ExportError, ExportErrorCode } from '@gatehouse/audit';
import { ConfigError, loadConfig } from '@gatehouse/config';
import { createLogger, Metrics, nestLogger } from '@gatehouse/observability';
import { WorkerModule } from './worker.module';

/** Exit status for configuration problems (sysexits EX_CONFIG), like the gateway. */
const EX_CONFIG = 78;

/**
 * `npm run worker`: the audit export without HTTP. SIGTERM stops the relay, lets each sink's
 * current job finish, then closes Redis and the database. A Redis that may evict jobs, or a bad
 * configuration, exits 78 with the reason.
 */
async function main(): Promise<void> {
  let loaded;
  try {
    loaded = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(EX_CONFIG);
    }
    throw err;
  }
  const logger = createLogger(loaded.config.log.level);
  if (!loaded.config.export.enabled || !loaded.config.redis.url) {
    process.stderr.write(
      'gatehouse worker: nothing to run; set export.enabled: true and redis.url in gatehouse.yaml (see docs/export.md)\n',
    );
    process.exit(EX_CONFIG);
  }
  try {
    const app = await NestFactory.createApplicationContext(
      WorkerModule.forRoot(loaded, logger, new Metrics()),
      { logger: nestLogger(logger), abortOnError: false },
    );
    app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
    logger.info({ config: loaded.file ?? 'none' }, 'gatehouse worker running the audit export');
  } catch (err) {
    if (
      err instanceof ExportError &&
      (err.code === ExportErrorCode.REDIS_EVICTION || err.code === ExportErrorCode.SIGNING_KEY)
    ) {
      process.stderr.write(`gatehouse worker: ${err.message}\n`);
      process.exit(EX_CONFIG);
    }
    throw err;
  }
}

main().catch((err: unknown) => {
  process.stderr.write(
    `gatehouse worker failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
