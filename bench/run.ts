/**
 * `npm run bench`: tools/call against the same echo tool directly (the SDK's own Streamable HTTP
 * server) and through the gateway (`/mcp/servers/echo`, a stdio upstream; `/mcp/servers/echo-http`,
 * the HTTP server as upstream), at 1 and 20 concurrent clients, then the memory of 1,000 idle
 * sessions, and writes `bench/reports/<YYYY-MM-DD>.md`.
 *
 * Flags: `--quick` (a tenth of the calls, for trying the harness), `--profile` / `--no-profile`
 * (a CPU profile of the gateway is taken when a target is missed, or always / never),
 * `--out <file>` (another report path), `--commit <label>` (what the report says was measured, for
 * runs from an exported tree that has no git metadata).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/client';
import {
  closeClients,
  connectClients,
  drive,
  driveRaw,
  openIdleSessions,
  summarise,
  type PhaseLimits,
  type Samples,
} from './load';
import {
  durableCommitP50Ms,
  fullPipelineUnavailable,
  startFullPipeline,
  type FullPipeline,
} from './full-pipeline';
import { gatewayYaml } from './gateway-yaml';
import {
  procCpuUs,
  startEchoHttp,
  startFloor,
  startGatewayProcess,
  startPipelineFloor,
  type Child,
} from './processes';
import { summariseProfile } from './profile';
import { printWarningsOnce } from './warnings';
import {
  renderReport,
  verdicts,
  type BenchResult,
  type Floor,
  type GatewayProfile,
  type ProfiledPath,
  type IdleSessions,
  type MeasuredPhase,
  type TargetKey,
} from './report';

/** The repository the bench runs from (npm runs scripts at the package root). */
const ROOT = process.cwd();
const CONCURRENCY = [1, 20];
const IDLE_SESSIONS = 1000;
const PROFILE_INTERVAL_US = 100;
/** Each phase is split into this many rounds, taken in turn by the targets. */
const ROUNDS = 5;

function commit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'apps', 'libs'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    return dirty.trim() ? `${sha} (apps/libs modified)` : sha;
  } catch {
    return 'unknown';
  }
}

function flag(args: string[], name: string): string | undefined {
  const index = args.indexOf(name);
  return index >= 0 ? args[index + 1] : undefined;
}

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

/** One path under test. */
interface Target {
  key: TargetKey;
  url: string;
  /** Headers every client sends (the full pipeline's bearer token). */
  headers?: Record<string, string>;
  /** CPU µs the serving process has used so far (gateway or direct server). */
  cpuOf: () => Promise<number | undefined>;
  /** Measured at this concurrency only. */
  onlyAt?: number;
}

/**
 * Measures every target at one concurrency. The calls are split into rounds and the targets
 * take turns within each round (in a rotating order), so a change in the machine's load during
 * the run lands on all targets alike instead of on whichever ran last.
 */
async function measureAll(
  targets: Target[],
  clients: number,
  warmup: number,
  limits: PhaseLimits,
): Promise<MeasuredPhase[]> {
  const connected = new Map<TargetKey, Client[]>();
  try {
    for (const t of targets) connected.set(t.key, await connectClients(t.url, clients, t.headers));
    for (const t of targets)
      await drive(connected.get(t.key) as Client[], { calls: warmup, maxMs: limits.maxMs });
    const acc = new Map(targets.map((t) => [t.key, { rounds: [] as Samples[], serverUs: 0, clientUs: 0 }]));
    const round = { calls: Math.ceil(limits.calls / ROUNDS), maxMs: limits.maxMs / ROUNDS };
    for (let r = 0; r < ROUNDS; r++) {
      for (let i = 0; i < targets.length; i++) {
        const t = targets[(r + i) % targets.length] as Target;
        const a = acc.get(t.key) as { rounds: Samples[]; serverUs: number | undefined; clientUs: number };
        const before = await t.cpuOf();
        const clientBefore = process.cpuUsage();
        a.rounds.push(await drive(connected.get(t.key) as Client[], round));
        const client = process.cpuUsage(clientBefore);
        const after = await t.cpuOf();
        a.clientUs += client.user + client.system;
        a.serverUs =
          before !== undefined && after !== undefined && a.serverUs !== undefined
            ? a.serverUs + after - before
            : undefined;
      }
    }
    return targets.map((t) => {
      const a = acc.get(t.key) as { rounds: Samples[]; serverUs: number | undefined; clientUs: number };
      const phase = summarise(clients, a.rounds);
      const cpu = a.serverUs === undefined ? undefined : a.serverUs / phase.calls;
      log(
        `${t.key} x${clients}: ${phase.calls} calls, ${phase.callsPerSecond.toFixed(0)}/s, p50 ${phase.p50Ms.toFixed(3)} ms, p99 ${phase.p99Ms.toFixed(3)} ms, server cpu ${cpu?.toFixed(1) ?? 'n/a'} µs/call`,
      );
      return {
        ...phase,
        target: t.key,
        clientCpuUsPerCall: a.clientUs / phase.calls,
        ...(t.key === 'direct' ? { serverCpuUsPerCall: cpu } : { gatewayCpuUsPerCall: cpu }),
      };
    });
  } finally {
    for (const c of connected.values()) await closeClients(c);
  }
}

/** What a bare `node:http` server costs per request on this machine, for scale. */
async function measureFloor(warmup: number, calls: number): Promise<Floor> {
  const floor = await startFloor();
  try {
    await driveRaw(floor.port, warmup);
    const before = procCpuUs(floor.pid);
    const phase = summarise(1, [await driveRaw(floor.port, calls)]);
    const after = procCpuUs(floor.pid);
    const cpu = before !== undefined && after !== undefined ? (after - before) / phase.calls : undefined;
    log(
      `floor: ${phase.callsPerSecond.toFixed(0)}/s, p50 ${phase.p50Ms.toFixed(3)} ms, server cpu ${cpu?.toFixed(1) ?? 'n/a'} µs/call`,
    );
    return {
      calls: phase.calls,
      callsPerSecond: phase.callsPerSecond,
      p50Ms: phase.p50Ms,
      cpuUsPerCall: cpu,
    };
  } finally {
    await floor.stop();
  }
}

async function idleSessions(): Promise<IdleSessions> {
  const gateway = await startGatewayProcess((dir) => gatewayYaml(dir));
  try {
    const url = `${gateway.url}/mcp/servers/echo`;
    // The first sessions pay for lazy initialisation and JIT; they are not what is measured.
    await openIdleSessions(url, 50, 10);
    const before = await gateway.sample(true);
    await openIdleSessions(url, IDLE_SESSIONS, 10);
    const after = await gateway.sample(true);
    return {
      sessions: IDLE_SESSIONS,
      rssBeforeBytes: before.rssBytes,
      rssAfterBytes: after.rssBytes,
      heapBeforeBytes: before.heapUsedBytes,
      heapAfterBytes: after.heapUsedBytes,
    };
  } finally {
    await gateway.stop();
  }
}

/**
 * Profiles a separate gateway process over one measured phase on one of its paths (warm-up
 * excluded); profiling slows the process, so these calls are not part of the figures.
 */
async function profileGateway(
  target: ProfiledPath,
  clients: number,
  warmup: number,
  limits: PhaseLimits,
): Promise<GatewayProfile> {
  const echo = target === 'gateway-http' ? await startEchoHttp() : undefined;
  try {
    const gateway = await startGatewayProcess((dir) => gatewayYaml(dir, echo?.url));
    try {
      const path = target === 'gateway-http' ? 'echo-http' : 'echo';
      const connected = await connectClients(`${gateway.url}/mcp/servers/${path}`, clients);
      try {
        await drive(connected, { calls: warmup, maxMs: limits.maxMs });
        await gateway.startProfile(PROFILE_INTERVAL_US);
        const phase = await drive(connected, limits);
        // Kept outside the repo (it is megabytes); open it in Chrome DevTools or speedscope.
        const file = join(tmpdir(), `gatehouse-bench-${process.pid}-${target}.cpuprofile`);
        await gateway.stopProfile(file);
        log(`profile of ${target} written to ${file}`);
        return {
          ...summariseProfile(file),
          target,
          clients,
          calls: phase.latencies.length,
          intervalUs: PROFILE_INTERVAL_US,
        };
      } finally {
        await closeClients(connected);
      }
    } finally {
      await gateway.stop();
    }
  } finally {
    await echo?.stop();
  }
}

async function main(args: string[]): Promise<void> {
  printWarningsOnce('bench');
  const quick = args.includes('--quick');
  const scale = quick ? 0.1 : 1;
  const warmup: Record<number, number> = { 1: 200 * scale, 20: 1000 * scale };
  const calls: Record<number, number> = { 1: 2000 * scale, 20: 10000 * scale };
  const maxMs = 60_000;
  const date = new Date().toISOString().slice(0, 10);
  const out = flag(args, '--out') ?? join(ROOT, 'bench', 'reports', `${date}.md`);

  const loadBefore = loadavg()[0] as number;
  const children: Child[] = [];
  const phases: MeasuredPhase[] = [];
  const floor = await measureFloor(500 * scale, 5000 * scale);
  const fullPipelineSkipped = await fullPipelineUnavailable();
  let full: FullPipeline | undefined;
  /** Stopped before the full pipeline drops the database it writes to. */
  let floorChild: Child | undefined;
  let commitFloorMs: number | undefined;
  try {
    const echo = await startEchoHttp();
    children.push(echo);
    const gateway = await startGatewayProcess((dir) => gatewayYaml(dir, echo.url));
    children.push(gateway);
    log(`direct ${echo.url}, gateway ${gateway.url}`);

    const gatewayCpu = async () => {
      const s = await gateway.sample(false);
      return s.userUs + s.systemUs;
    };
    const targets: Target[] = [
      { key: 'direct', url: echo.url, cpuOf: async () => procCpuUs(echo.pid) },
      { key: 'gateway-stdio', url: `${gateway.url}/mcp/servers/echo`, cpuOf: gatewayCpu },
      { key: 'gateway-http', url: `${gateway.url}/mcp/servers/echo-http`, cpuOf: gatewayCpu },
    ];
    if (fullPipelineSkipped === undefined) {
      commitFloorMs = await durableCommitP50Ms();
      log(`durable commit floor (one-row INSERT, Postgres): p50 ${commitFloorMs.toFixed(3)} ms`);
      full = await startFullPipeline();
      const fullGateway = full.gateway;
      targets.push({
        key: 'gateway-full',
        url: `${fullGateway.url}/mcp/servers/echo`,
        headers: { authorization: full.authorization },
        cpuOf: async () => {
          const s = await fullGateway.sample(false);
          return s.userUs + s.systemUs;
        },
      });
      // Measured in the same rounds, on the same database and Redis, against the same upstream.
      const pipelineFloor = await startPipelineFloor(
        full.databaseUrl,
        full.redisUrl,
        `${full.keyPrefix}floor:`,
      );
      floorChild = pipelineFloor;
      targets.push({
        key: 'pipeline-floor',
        url: pipelineFloor.url,
        cpuOf: async () => procCpuUs(pipelineFloor.pid),
        // One connection, one commit per call: a floor for one client, not a server for twenty.
        onlyAt: 1,
      });
    } else {
      log(`full pipeline not measured: ${fullPipelineSkipped}`);
    }
    for (const clients of CONCURRENCY) {
      phases.push(
        ...(await measureAll(
          targets.filter((t) => t.onlyAt === undefined || t.onlyAt === clients),
          clients,
          warmup[clients] as number,
          {
            calls: calls[clients] as number,
            maxMs,
          },
        )),
      );
    }
  } finally {
    await floorChild?.stop();
    await full?.stop();
    for (const child of children.reverse()) await child.stop();
  }

  log(`opening ${IDLE_SESSIONS} idle sessions on a fresh gateway`);
  const idle = await idleSessions();

  const cpu = cpus()[0];
  const result: BenchResult = {
    date,
    machine: {
      cpus: availableParallelism(),
      model: cpu?.model.trim() ?? 'unknown',
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      memoryGiB: totalmem() / 1024 ** 3,
      commit: flag(args, '--commit') ?? commit(),
      loadAverage: [loadBefore, loadavg()[0] as number],
    },
    settings: { warmup, calls, maxMs, rounds: ROUNDS, payload: '{"text":"hello from the gatehouse bench"}' },
    phases,
    floor,
    idle,
    ...(commitFloorMs !== undefined ? { durableCommitP50Ms: commitFloorMs } : {}),
    ...(fullPipelineSkipped !== undefined ? { fullPipelineSkipped } : {}),
  };

  const missed = verdicts(result).some((v) => !v.met);
  if (!args.includes('--no-profile') && (missed || args.includes('--profile'))) {
    log(missed ? 'a target was missed: profiling the gateway' : 'profiling the gateway');
    result.profiles = [];
    for (const target of ['gateway-stdio', 'gateway-http'] as const) {
      result.profiles.push(
        await profileGateway(target, 20, warmup[20] as number, { calls: calls[20] as number, maxMs }),
      );
    }
  }

  mkdirSync(join(out, '..'), { recursive: true });
  writeFileSync(out, renderReport(result));
  // The raw figures beside the report, for comparing runs without parsing Markdown.
  writeFileSync(out.replace(/\.md$/, '') + '.json', `${JSON.stringify(result, null, 2)}\n`);
  for (const v of verdicts(result))
    log(`${v.met ? 'met    ' : 'NOT MET'} ${v.name}: ${v.measured} (${v.limit})`);
  log(`report written to ${out}`);
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
