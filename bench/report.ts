import type { PhaseResult } from './load';
import type { ProfileSummary } from './profile';

/** The paths one run measures. */
export type TargetKey = 'direct' | 'gateway-stdio' | 'gateway-http' | 'gateway-full' | 'pipeline-floor';

export const TARGET_LABELS: Record<TargetKey, string> = {
  direct: 'Direct: SDK Streamable HTTP server',
  'gateway-stdio': 'Gateway → stdio echo (`/mcp/servers/echo`)',
  'gateway-http': 'Gateway → HTTP echo (`/mcp/servers/echo-http`)',
  'gateway-full':
    'Full pipeline → stdio echo: bearer token + multi-rule policy + Redis limits + Postgres audit (`/mcp/servers/echo`)',
  'pipeline-floor':
    'Pipeline floor → stdio echo: bare `node:http` proxy, one Redis limit script + one durable intent INSERT, nothing else',
};

/** One measured phase with the CPU each server process spent on it. */
export interface MeasuredPhase extends PhaseResult {
  target: TargetKey;
  /** Gateway process CPU per call (gateway targets only). */
  gatewayCpuUsPerCall?: number;
  /** The direct echo server's CPU per call (direct target, Linux only). */
  serverCpuUsPerCall?: number;
  /** The bench process's own CPU per call (the SDK clients). */
  clientCpuUsPerCall: number;
}

/** Memory of a fresh gateway before and after opening idle sessions. */
export interface IdleSessions {
  sessions: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  heapBeforeBytes: number;
  heapAfterBytes: number;
}

/** A bare `node:http` JSON echo measured on the same machine in the same run. */
export interface Floor {
  calls: number;
  callsPerSecond: number;
  p50Ms: number;
  /** Server CPU per request (Linux only). */
  cpuUsPerCall?: number;
}

/** The limits each target is held to (issue 2, point 11). */
export const TARGETS = {
  gatewayCpuUsPerCall: 120,
  addedLatencyP50Ms: 0.5,
  rssPerIdleSessionBytes: 64 * 1024,
};

/** Everything one bench run found. */
export interface BenchResult {
  date: string;
  machine: {
    cpus: number;
    model: string;
    node: string;
    platform: string;
    memoryGiB: number;
    commit: string;
    /** 1-minute load average when the calls started and when they ended. */
    loadAverage: [number, number];
  };
  settings: {
    warmup: Record<number, number>;
    calls: Record<number, number>;
    maxMs: number;
    rounds: number;
    payload: string;
  };
  phases: MeasuredPhase[];
  floor: Floor;
  idle: IdleSessions;
  profiles?: GatewayProfile[];
  /** p50 of one durably committed single-row INSERT on the audit's Postgres (the intent's floor). */
  durableCommitP50Ms?: number;
  /** Why the full-pipeline path was not measured (no Postgres or Redis reachable). */
  fullPipelineSkipped?: string;
}

/** The gateway paths a profile can be taken on. */
export type ProfiledPath = Exclude<TargetKey, 'direct' | 'pipeline-floor'>;

/** Where the gateway spent its CPU on one path. */
export interface GatewayProfile extends ProfileSummary {
  target: ProfiledPath;
  clients: number;
  calls: number;
  intervalUs: number;
}

/** A verdict on one target. */
export interface Verdict {
  name: string;
  limit: string;
  measured: string;
  met: boolean;
}

function phase(result: BenchResult, target: TargetKey, clients: number): MeasuredPhase | undefined {
  return result.phases.find((p) => p.target === target && p.clients === clients);
}

const ms = (v: number) => `${v.toFixed(3)} ms`;
const us = (v: number | undefined) => (v === undefined ? 'n/a' : `${v.toFixed(1)} µs`);
const kib = (bytes: number) =>
  Math.abs(bytes) >= 10 * 1024 * 1024
    ? `${(bytes / 1024 / 1024).toFixed(1)} MiB`
    : `${(bytes / 1024).toFixed(1)} KiB`;

/** The gateway's added p50 latency over the direct baseline at a concurrency, in ms. */
export function addedP50(result: BenchResult, target: TargetKey, clients: number): number | undefined {
  const direct = phase(result, 'direct', clients);
  const via = phase(result, target, clients);
  return direct && via ? via.p50Ms - direct.p50Ms : undefined;
}

/** Judges the run against {@link TARGETS}; the limits apply to the stdio path the issue names. */
export function verdicts(result: BenchResult): Verdict[] {
  const out: Verdict[] = [];
  for (const clients of [1, 20]) {
    const cpu = phase(result, 'gateway-stdio', clients)?.gatewayCpuUsPerCall;
    out.push({
      name: `Gateway CPU per forwarded call, ${clients} client${clients > 1 ? 's' : ''}`,
      limit: `≤ ${TARGETS.gatewayCpuUsPerCall} µs`,
      measured: us(cpu),
      met: cpu !== undefined && cpu <= TARGETS.gatewayCpuUsPerCall,
    });
  }
  const added = addedP50(result, 'gateway-stdio', 1);
  out.push({
    name: 'Added latency at p50, 1 client',
    limit: `≤ ${TARGETS.addedLatencyP50Ms} ms`,
    measured: added === undefined ? 'n/a' : ms(added),
    met: added !== undefined && added <= TARGETS.addedLatencyP50Ms,
  });
  const full = addedP50(result, 'gateway-full', 1);
  const floor = addedP50(result, 'pipeline-floor', 1);
  out.push({
    name: 'Full pipeline (auth + policy + limits + audit) added latency at p50, 1 client',
    limit: `≤ ${TARGETS.addedLatencyP50Ms} ms`,
    measured:
      full === undefined
        ? `not measured${result.fullPipelineSkipped ? `: ${result.fullPipelineSkipped}` : ''}`
        : `${ms(full)}${floor === undefined ? '' : ` (pipeline floor here: ${ms(floor)})`}`,
    met: full !== undefined && full <= TARGETS.addedLatencyP50Ms,
  });
  const perSession = (result.idle.rssAfterBytes - result.idle.rssBeforeBytes) / result.idle.sessions;
  out.push({
    name: `RSS per idle session (${result.idle.sessions} sessions)`,
    limit: `≤ ${kib(TARGETS.rssPerIdleSessionBytes)}`,
    measured: kib(perSession),
    met: perSession <= TARGETS.rssPerIdleSessionBytes,
  });
  return out;
}

/** The report as Markdown, the form committed under bench/reports/. */
export function renderReport(result: BenchResult): string {
  const { machine, settings, idle } = result;
  const lines: string[] = [];
  const push = (...l: string[]) => lines.push(...l);

  push(`# Gatehouse bench — ${result.date}`, '');
  push(
    `Machine: ${machine.cpus} CPUs (${machine.model}), ${machine.memoryGiB.toFixed(1)} GiB, ${machine.platform}, Node ${machine.node}. Commit \`${machine.commit}\`. ` +
      `1-minute load average ${machine.loadAverage[0].toFixed(2)} when the calls started, ${machine.loadAverage[1].toFixed(2)} when they ended.`,
    '',
    'Every process (bench clients, gateway, echo servers, and anything else running) shares these CPUs, so the figures at 20 clients are bounded by the machine as much as by the gateway, and a load average above the CPU count means other work competed with the run.',
    '',
    `Load: tools/call \`echo\` with \`${settings.payload}\` from real \`@modelcontextprotocol/client\` v2 clients over Streamable HTTP (2025-era sessions), one call in flight per client. ` +
      `Per phase: ${Object.entries(settings.calls)
        .map(
          ([c, n]) =>
            `${n} calls at ${c} client${c === '1' ? '' : 's'} after ${settings.warmup[Number(c)]} warm-up calls`,
        )
        .join(', ')}; a phase stops at ${settings.maxMs / 1000} s if it has not finished. ` +
      `Each phase is split into ${settings.rounds} rounds and the paths take turns round by round, so changes in machine load hit all of them alike.`,
    '',
  );

  push(
    `Machine floor: a bare \`node:http\` server that parses the same tools/call and answers the echo result (no MCP, no framework) costs ${us(result.floor.cpuUsPerCall)} of CPU per request here, ` +
      `at ${result.floor.callsPerSecond.toFixed(0)} calls/s and ${ms(result.floor.p50Ms)} p50 from one plain \`node:http\` client (${result.floor.calls} calls). ` +
      'Any HTTP server in Node pays about this much per request on this machine before it does MCP work.',
    '',
  );

  push('## Targets', '', '| Target | Limit | Measured | |', '|---|---|---|---|');
  for (const v of verdicts(result))
    push(`| ${v.name} | ${v.limit} | ${v.measured} | ${v.met ? 'met' : '**not met**'} |`);
  push('');

  push(
    '## Calls',
    '',
    '| Path | Clients | Calls | Errors | Calls/s | p50 | p99 | Added p50 vs direct | Gateway CPU / call | Server CPU / call | Client CPU / call |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const p of result.phases) {
    const added = p.target === 'direct' ? undefined : addedP50(result, p.target, p.clients);
    push(
      `| ${TARGET_LABELS[p.target]} | ${p.clients} | ${p.calls}${p.timedOut ? ' (time limit)' : ''} | ${p.errors} | ${p.callsPerSecond.toFixed(0)} | ${ms(p.p50Ms)} | ${ms(p.p99Ms)} | ${added === undefined ? '—' : ms(added)} | ${p.target === 'direct' ? '—' : us(p.gatewayCpuUsPerCall)} | ${p.target === 'direct' ? us(p.serverCpuUsPerCall) : '—'} | ${us(p.clientCpuUsPerCall)} |`,
    );
  }
  push(
    '',
    '"Gateway CPU / call" is user + system CPU of the gateway process (every thread, GC included; not its upstream children) over the measured phase, divided by the calls. ' +
      '"Server CPU / call" is the same for the direct echo server process (from /proc, 10 ms resolution), for scale. ' +
      '"Client CPU / call" is the bench process itself (the SDK clients), the same work on every path. ' +
      'On the pipeline floor\'s row, "Gateway CPU / call" is the floor proxy\'s own process (from /proc, 10 ms resolution).',
    '',
  );

  if (result.phases.some((p) => p.target === 'gateway-full')) {
    push(
      '### The full pipeline',
      '',
      'The full-pipeline path is a second gateway process in the production shape, every stage doing its real work on every call: ' +
        'the bearer token (RS256, from an IdP key set on loopback) is validated (cached per token after the first call, as in production), ' +
        "a policy of four rules with globs, a deny rule and a CEL condition on the arguments decides, the rate limits (per user, per tool, the rule's limit and in-flight) are counted in Redis, " +
        "and the audit intent is committed to Postgres before the upstream is called (the outcome record is committed after the answer is written, off the call's path). " +
        'The other gateway paths run the same stages with no identity, one allow-all rule, in-process limits and the ' +
        (process.env.DATABASE_URL ? 'same external Postgres' : 'embedded PGlite') +
        ' for the audit.',
      '',
    );
    if (result.durableCommitP50Ms !== undefined)
      push(
        `The durable intent costs at least one Postgres commit: a single-row INSERT committed from a plain \`pg\` client on the same server takes ${ms(result.durableCommitP50Ms)} at p50 here, a floor no gateway that writes its audit record before forwarding can go below.`,
        '',
      );
    const floor = addedP50(result, 'pipeline-floor', 1);
    const full = addedP50(result, 'gateway-full', 1);
    if (floor !== undefined && full !== undefined)
      push(
        'The pipeline floor (`bench/pipeline-floor-server.ts`) is the least a gateway on this stack that keeps the rules can add on this machine, measured in the same rounds: ' +
          "a bare `node:http` proxy that does only the serial work before forwarding that R26, R15 and the intent's rate-limit state require, with the gateway's own parts " +
          '(its limit script in the same Redis, its record encoding and hash chain, its INSERT committed on a plain prepared connection to the same database), then the same stdio echo. ' +
          'It has no identity, policy, session, outcome record, framework or validation, all of which only add. ' +
          `At one client it adds ${ms(floor)} at p50; the full pipeline adds ${ms(full)}, ${ms(full - floor)} above the floor. ` +
          (floor > TARGETS.addedLatencyP50Ms
            ? `The ${TARGETS.addedLatencyP50Ms} ms target is below this floor: on this machine the rules' own round trips (the limits in Redis, then the durable intent in Postgres) cost more than the target before any other gateway work, so no gateway on this stack that keeps them can meet it here.`
            : `The floor is within the ${TARGETS.addedLatencyP50Ms} ms target, so the gap is the gateway's own.`),
        '',
      );
  }

  push(
    '## Idle sessions',
    '',
    `A fresh gateway process; ${idle.sessions} sessions opened on \`/mcp/servers/echo\` with initialize and notifications/initialized only, garbage collected before each reading. "Before" is the whole gateway process${process.env.DATABASE_URL ? ' (database: external Postgres via DATABASE_URL)' : ', including its embedded database (PGlite runs in a worker thread of the same process)'}.`,
    '',
    '| | Before | After | Per session |',
    '|---|---|---|---|',
    `| RSS | ${kib(idle.rssBeforeBytes)} | ${kib(idle.rssAfterBytes)} | ${kib((idle.rssAfterBytes - idle.rssBeforeBytes) / idle.sessions)} |`,
    `| V8 heap used | ${kib(idle.heapBeforeBytes)} | ${kib(idle.heapAfterBytes)} | ${kib((idle.heapAfterBytes - idle.heapBeforeBytes) / idle.sessions)} |`,
    '',
  );

  for (const p of result.profiles ?? []) {
    push(
      `## Gateway CPU profile: ${TARGET_LABELS[p.target]}`,
      '',
      `A separate gateway process, sampled every ${p.intervalUs} µs over ${p.calls} calls at ${p.clients} clients (warm-up excluded); ${p.busyMs.toFixed(0)} ms busy. ` +
        'Sampling slows the process, so read the shares, not the absolute times. Self time, top functions:',
      '',
      '| # | Function | Where | Self | Share | Mostly reached via |',
      '|---|---|---|---|---|---|',
      ...p.top.map(
        (h, i) =>
          `| ${i + 1} | \`${h.functionName}\` | ${h.location ? `\`${h.location}\`` : '—'} | ${h.selfMs.toFixed(1)} ms | ${h.percent.toFixed(1)}% | ${h.via ? `\`${h.via}\`` : '—'} |`,
      ),
      '',
      'Self time by owner:',
      '',
      '| Owner | Self | Share |',
      '|---|---|---|',
      ...p.byOwner.map((o) => `| ${o.owner} | ${o.selfMs.toFixed(1)} ms | ${o.percent.toFixed(1)}% |`),
      '',
    );
  }
  return lines.join('\n');
}
