import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * A loopback port where nothing listens, and where nothing will start listening while the test
 * runs. A port from `listen(0)` is not enough: the kernel hands the same ephemeral port to the
 * next server any other test file starts, so "connection refused" turns into that server's 404.
 * Every test server here binds port 0, so a port below the ephemeral range stays closed.
 */
export async function closedPort(): Promise<number> {
  const low = ephemeralLow();
  const floor = Math.min(20_000, low - 1_000);
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const port = floor + Math.floor(Math.random() * (low - floor));
    if (await bindable(port)) return port;
  }
  throw new Error(`no closed port below ${low} after 50 tries`);
}

function ephemeralLow(): number {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    const value = Number(low);
    return Number.isInteger(value) && value > 2_000 ? value : 32_768;
  } catch {
    return 32_768;
  }
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
