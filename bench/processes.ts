import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { GatewayCommand, GatewayReply, GatewaySample } from './gateway-process';

const STARTUP_MS = 30_000;

/** A child process the bench started, with the one way it is ended. */
export interface Child {
  pid: number;
  stop(): Promise<void>;
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

/**
 * CPU time (user + system, µs) the kernel has charged to a process so far, from
 * /proc/<pid>/stat; undefined where there is no /proc.
 */
export function procCpuUs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1e6) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** USER_HZ: 100 on every mainstream Linux build; Node offers no sysconf to ask. */
const CLOCK_TICKS = 100;

/** Starts `script` (a sibling in dist/bench) and resolves with the first line it prints. */
async function startPrinting(script: string, args: string[] = []): Promise<Child & { line: string }> {
  const child = spawn(process.execPath, [join(__dirname, script), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start`)), STARTUP_MS);
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', (first) => {
      clearTimeout(timer);
      resolve(first.trim());
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  return {
    pid: child.pid as number,
    line,
    stop: async () => {
      child.kill('SIGTERM');
      await exited(child);
    },
  };
}

/** Starts the direct-baseline echo server and resolves once it prints its URL. */
export async function startEchoHttp(): Promise<Child & { url: string }> {
  const child = await startPrinting('echo-http-server.js');
  return { ...child, url: child.line };
}

/** Starts the bare `node:http` floor server and resolves with its port. */
export async function startFloor(): Promise<Child & { port: number }> {
  const child = await startPrinting('floor-server.js');
  return { ...child, port: Number(child.line) };
}

/**
 * Starts the pipeline floor (`pipeline-floor-server.ts`) on a migrated audit database and Redis,
 * and resolves once it prints its MCP URL.
 */
export async function startPipelineFloor(
  databaseUrl: string,
  redisUrl: string,
  keyPrefix: string,
): Promise<Child & { url: string }> {
  const child = await startPrinting('pipeline-floor-server.js', [databaseUrl, redisUrl, keyPrefix]);
  return { ...child, url: child.line };
}

/** A gateway in its own process, driven over IPC. */
export interface GatewayChild extends Child {
  url: string;
  /** CPU and memory as the gateway process sees itself; `gc` collects garbage first. */
  sample(gc: boolean): Promise<GatewaySample>;
  /** Starts sampling the gateway's CPU every `intervalUs`. */
  startProfile(intervalUs: number): Promise<void>;
  /** Stops sampling and writes the `.cpuprofile` to `file`. */
  stopProfile(file: string): Promise<void>;
}

/**
 * Forks `gateway-process.js`, starts a gateway in it from the configuration `yaml` returns for a
 * fresh temporary data directory (removed again on stop), and resolves with its URL.
 */
export async function startGatewayProcess(yaml: (dataDir: string) => string): Promise<GatewayChild> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-gateway-'));
  const child = fork(join(__dirname, 'gateway-process.js'), [], {
    execArgv: ['--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = <T extends GatewayReply['type']>(type: T, command: GatewayCommand) =>
    new Promise<Extract<GatewayReply, { type: T }>>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the gateway process did not answer ${command.type}`)),
        STARTUP_MS,
      );
      const onExit = (code: number | null) => {
        clearTimeout(timer);
        reject(new Error(`the gateway process exited with ${code}`));
      };
      child.once('exit', onExit);
      child.once('message', (message: GatewayReply) => {
        clearTimeout(timer);
        child.off('exit', onExit);
        if (message.type === 'error') reject(new Error(`the gateway did not start: ${message.message}`));
        else if (message.type !== type)
          reject(new Error(`expected ${type} from the gateway, got ${message.type}`));
        else resolve(message as Extract<GatewayReply, { type: T }>);
      });
      child.send(command);
    });
  let ready: { url: string };
  try {
    ready = await next('ready', { type: 'start', yaml: yaml(dataDir) });
  } catch (error) {
    child.kill('SIGKILL');
    await exited(child);
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  return {
    pid: child.pid as number,
    url: ready.url,
    sample: (gc) => next('sample', { type: 'sample', gc }),
    startProfile: async (intervalUs) => {
      await next('profiled', { type: 'profile-start', intervalUs });
    },
    stopProfile: async (file) => {
      await next('profiled', { type: 'profile-stop', file });
    },
    stop: async () => {
      if (child.exitCode === null) child.send({ type: 'stop' } satisfies GatewayCommand);
      const timer = setTimeout(() => child.kill('SIGKILL'), STARTUP_MS);
      await exited(child);
      clearTimeout(timer);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
