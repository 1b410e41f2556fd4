import { ConfigError, loadConfig } from '@gatehouse/config';
import { startupBanner } from './banner';
import { startGateway } from './bootstrap';
import { withDemoUpstreams } from './embedded';

/** Configuration problems, found while loading or while opening what it names (TLS files), exit 78. */
async function configured<T>(step: () => T | Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78);
    }
    throw err;
  }
}

async function main(): Promise<void> {
  const loaded = await configured(() => withDemoUpstreams(loadConfig()));
  const gateway = await configured(() => startGateway(loaded));
  const { config } = loaded;
  // A person at a terminal gets a banner; collected output (a pipe, a container log) the JSON line.
  if (process.stdout.isTTY) {
    process.stdout.write(startupBanner({ url: gateway.url, loaded }));
    return;
  }
  gateway.logger.info(
    {
      url: gateway.url,
      config: loaded.file ?? 'none found: embedded defaults with demo upstreams',
      console: `${gateway.url}/console`,
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
