import { ConfigError, loadConfig } from '@gatehouse/config';
import { startGateway } from './bootstrap';

async function main(): Promise<void> {
  let loaded;
  try {
    loaded = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78);
    }
    throw err;
  }
  const gateway = await startGateway(loaded);
  gateway.logger.info({ url: gateway.url }, 'gatehouse gateway listening');
}

main().catch((err: unknown) => {
  process.stderr.write(
    `gatehouse failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
