import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const MAIN = resolve(__dirname, '../../dist/apps/gateway/src/main.js');

export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => ok(port));
    });
    srv.on('error', fail);
  });
}

export interface GatewayProcess {
  url: string;
  child: ChildProcess;
  output: string[];
  /** GATEHOUSE_DATA_DIR of the process (the embedded database, the development IdP's secrets). */
  dataDir: string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** A policy that lets every caller call every tool: for suites that test MCP rather than policy. */
export const ALLOW_ALL_POLICY_DIR = join(repositoryRoot(), 'e2e/fixtures/policies/allow-all');

/** The checkout's root, whether this runs from the sources (Jest) or from dist/ (bench, conformance). */
function repositoryRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

/** Limits far above what any transport suite sends: rate limiting has its own suites. */
const TRANSPORT_LIMITS =
  '  perUserPerMinute: 1000000\n  perToolPerMinute: 1000000\n  inFlightPerUser: 100000\n';

/**
 * Transport tests exercise MCP, not identity, policy or limits: unless the YAML has its own
 * `auth:`, `policy:` or `rateLimit:` section, the gateway runs with `auth.mode: none`, an
 * allow-all policy and limits no suite reaches. Each of those has its own suites (e2e/identity,
 * e2e/policy, e2e/rate-limit and others).
 */
export function transportDefaults(yaml: string): string {
  const auth = /^auth:/m.test(yaml) ? '' : 'auth:\n  mode: none\n';
  const policy = /^policy:/m.test(yaml) ? '' : `policy:\n  dir: ${JSON.stringify(ALLOW_ALL_POLICY_DIR)}\n`;
  const limits = /^rateLimit:/m.test(yaml) ? '' : `rateLimit:\n${TRANSPORT_LIMITS}`;
  return `${auth}${policy}${limits}${yaml}`;
}

/**
 * Runs the BUILT gateway (`npm run build` first; `npm test` does) as its own process, the way
 * production runs it, and resolves once /readyz answers 200.
 */
export async function spawnGateway(yaml: string, env: NodeJS.ProcessEnv = {}): Promise<GatewayProcess> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-gw-'));
  const file = join(dir, 'gatehouse.yaml');
  writeFileSync(file, transportDefaults(yaml));
  return startGatewayChild(file, port, dir, env);
}

/**
 * Starts the BUILT gateway with config `file` on `port` and `dataDir` as GATEHOUSE_DATA_DIR, and
 * resolves once /readyz answers 200 (30 s at most; an early exit fails with its output).
 */
export async function startGatewayChild(
  file: string,
  port: number,
  dataDir: string,
  env: NodeJS.ProcessEnv = {},
): Promise<GatewayProcess> {
  const child = spawn(process.execPath, [MAIN], {
    env: { ...process.env, ...env, GATEHOUSE_CONFIG: file, PORT: String(port), GATEHOUSE_DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`gateway exited early:\n${output.join('')}`);
    const ready = await fetch(`${url}/readyz`)
      .then((r) => r.status === 200)
      .catch(() => false);
    if (ready) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`gateway not ready in time:\n${output.join('')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    child,
    output,
    dataDir,
    stop: (signal = 'SIGTERM') =>
      new Promise((ok) => {
        if (child.exitCode !== null) return ok(child.exitCode);
        child.once('exit', (code) => ok(code));
        child.kill(signal);
      }),
  };
}
