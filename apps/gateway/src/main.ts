import { ConfigError, loadConfig } from '@gatehouse/config';
import { startGateway } from './bootstrap';
import { withDemoUpstreams } from './embedded';

async function main(): Promise<void> {
  let loaded;
  try {
    loaded = withDemoUpstreams(loadConfig());
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78);
    }
    throw err;
  }
  const gateway = await startGateway(loaded);
  const { config } = loaded;
  gateway.logger.info(
    {
      url: gateway.url,
      config: loaded.file ?? 'none found: embedded defaults with demo upstreams',
      mcp: `${gateway.url}/mcp`,
      passthrough: Object.keys(config.upstreams).map((name) => `${gateway.url}/mcp/servers/${name}`),
      health: [`${gateway.url}/healthz`, `${gateway.url}/readyz`, `${gateway.url}/metrics`],
    },
    'gatehouse gateway listening',
  );
}

main().catch((err: unknown) => {
  process.stderr.write(
    `gatehouse failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
