/**
 * The fidelity proof: runs the official MCP conformance server scenarios against the fixture
 * server directly, then against the same fixture fronted by a gateway at
 * `/mcp/servers/conformance`, and compares the two results scenario by scenario.
 *
 * `npm run conformance` (after `npm run build`) prints both counts and every difference, and
 * exits 1 when the gateway passes a different set of scenarios or checks than the upstream alone.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { ALLOW_ALL_POLICY_DIR } from '../transport/processes';
import { parseConfigText } from '@gatehouse/config';
import { startGateway } from '../../apps/gateway/src/bootstrap';
import { startFixtureHttp } from './fixture-server';

/** The suite version the counts in docs/conformance.md were taken with; bump both together. */
export const CONFORMANCE_PACKAGE = '@modelcontextprotocol/conformance@0.1.16';
/** Name of the upstream the gateway fronts in the comparison. */
export const UPSTREAM_NAME = 'conformance';

/** One check as the suite writes it to `checks.json`. */
export interface ConformanceCheck {
  id: string;
  name: string;
  description: string;
  status: 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO' | 'SKIPPED';
  errorMessage?: string;
  details?: unknown;
}

/** The outcome of one scenario against one target. */
export interface ScenarioResult {
  scenario: string;
  /** No check failed (the suite's own notion of a passing scenario). */
  passed: boolean;
  successes: number;
  failures: number;
  warnings: number;
  checks: ConformanceCheck[];
}

/** The outcome of the whole suite against one target URL. */
export interface SuiteResult {
  label: string;
  url: string;
  scenarios: ScenarioResult[];
  passedScenarios: number;
  passedChecks: number;
  failedChecks: number;
  /** The suite's console output, kept for diagnosis when something differs. */
  output: string;
}

/** A scenario whose result is not the same through the gateway as against the upstream. */
export interface ScenarioDifference {
  scenario: string;
  direct?: ScenarioResult;
  gateway?: ScenarioResult;
  /** Check ids whose status differs, as `id: DIRECT -> GATEWAY`. */
  changedChecks: string[];
  /**
   * A check passed on one side and not on the other, or the verdict changed. Differences that
   * only move warnings (for example the gateway answering JSON where the upstream streamed) are
   * reported but do not change the counts.
   */
  scoring: boolean;
}

/** Direct versus gateway, with everything needed to explain a difference. */
export interface Comparison {
  direct: SuiteResult;
  gateway: SuiteResult;
  differences: ScenarioDifference[];
  /** Same passing scenarios, the same number of passing checks, and no check that passes on one side only. */
  equal: boolean;
  /** Gateway log lines captured during the gateway run (warn and above). */
  gatewayLog: string[];
  /** The `protocol` setting the gateway used towards the fixture. */
  upstreamProtocol: string;
  /** How the gateway reached the fixture. */
  upstreamTransport: 'http' | 'stdio';
}

/** Options for {@link compareDirectAndGateway}. */
export interface CompareOptions {
  /** Suite to run: `all` (default, includes the two pending scenarios) or `active`. */
  suite?: 'all' | 'active';
  /** Only these scenarios (default: the whole suite). */
  scenarios?: string[];
  /** Time allowed for one suite run, including a first-time download of the suite (default 10 minutes). */
  timeoutMs?: number;
  /** Progress lines (default: none). */
  onProgress?: (line: string) => void;
  /** The gateway's `protocol` setting for the upstream hop (default: the config default, `auto`). */
  upstreamProtocol?: 'auto' | 'legacy' | '2026-07-28';
  /**
   * How the gateway reaches the fixture: `http` (default) or `stdio`, where the gateway spawns
   * the compiled fixture with `--stdio` (so it needs `npm run build` first).
   */
  upstreamTransport?: 'http' | 'stdio';
}

const SCENARIO_DIR = /^server-(.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/;

function summarize(scenario: string, checks: ConformanceCheck[]): ScenarioResult {
  const count = (status: ConformanceCheck['status']) => checks.filter((c) => c.status === status).length;
  const failures = count('FAILURE');
  return {
    scenario,
    passed: failures === 0,
    successes: count('SUCCESS'),
    failures,
    warnings: count('WARNING'),
    checks,
  };
}

function runProcess(
  command: string,
  args: string[],
  timeoutMs: number,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    // Its own process group, so a timeout can end npx and the suite process it starts together.
    // The suite's bin starts with `#!/usr/bin/env node`: putting this process's own runtime first
    // on the PATH runs it on the pinned Node (docs/decisions/0008), not on the machine's.
    const env = { ...process.env, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}` };
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      reject(
        new Error(
          `${command} ${args.join(' ')} did not finish within ${timeoutMs} ms\n${output.slice(-4000)}`,
        ),
      );
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/**
 * Runs the conformance suite's server scenarios against `url` and reads every scenario's
 * `checks.json`. The suite's exit code is ignored: failing scenarios are data here, and only a
 * run that produced no results at all is an error.
 */
export async function runSuite(
  label: string,
  url: string,
  options: CompareOptions = {},
): Promise<SuiteResult> {
  const outDir = await mkdtemp(join(tmpdir(), `gatehouse-conformance-${label}-`));
  try {
    const scenarioArgs = options.scenarios ?? [undefined];
    let output = '';
    for (const scenario of scenarioArgs) {
      const args = [
        '-y',
        '-p',
        CONFORMANCE_PACKAGE,
        'conformance',
        'server',
        '--url',
        url,
        '-o',
        outDir,
        ...(scenario ? ['--scenario', scenario] : ['--suite', options.suite ?? 'all']),
      ];
      const run = await runProcess('npx', args, options.timeoutMs ?? 600_000);
      output += run.output;
    }
    const scenarios: ScenarioResult[] = [];
    for (const entry of (await readdir(outDir)).sort()) {
      const name = SCENARIO_DIR.exec(entry)?.[1];
      if (!name) continue;
      const checks = JSON.parse(
        await readFile(join(outDir, entry, 'checks.json'), 'utf8'),
      ) as ConformanceCheck[];
      scenarios.push(summarize(name, checks));
    }
    if (scenarios.length === 0) {
      throw new Error(`the conformance suite produced no results for ${url}:\n${output.slice(-4000)}`);
    }
    return {
      label,
      url,
      scenarios,
      passedScenarios: scenarios.filter((s) => s.passed).length,
      passedChecks: scenarios.reduce((sum, s) => sum + s.successes, 0),
      failedChecks: scenarios.reduce((sum, s) => sum + s.failures, 0),
      output,
    };
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}

function checkStatuses(result: ScenarioResult | undefined): Map<string, string> {
  const statuses = new Map<string, string>();
  for (const check of result?.checks ?? []) {
    if (check.status === 'INFO') continue;
    let key = check.id;
    for (let n = 2; statuses.has(key); n++) key = `${check.id}#${n}`;
    statuses.set(key, check.status);
  }
  return statuses;
}

/** Lists the scenarios whose verdict or scored checks differ between the two runs. */
export function diffSuites(direct: SuiteResult, gateway: SuiteResult): ScenarioDifference[] {
  const names = [...new Set([...direct.scenarios, ...gateway.scenarios].map((s) => s.scenario))];
  const differences: ScenarioDifference[] = [];
  for (const scenario of names) {
    const a = direct.scenarios.find((s) => s.scenario === scenario);
    const b = gateway.scenarios.find((s) => s.scenario === scenario);
    const before = checkStatuses(a);
    const after = checkStatuses(b);
    const changed = [...new Set([...before.keys(), ...after.keys()])].filter(
      (id) => before.get(id) !== after.get(id),
    );
    const scoring =
      a?.passed !== b?.passed ||
      changed.some((id) => [before.get(id), after.get(id)].some((s) => s === 'SUCCESS' || s === 'FAILURE'));
    const changedChecks = changed.map(
      (id) => `${id}: ${before.get(id) ?? 'absent'} -> ${after.get(id) ?? 'absent'}`,
    );
    if (scoring || changedChecks.length > 0)
      differences.push({ scenario, direct: a, gateway: b, changedChecks, scoring });
  }
  return differences;
}

function upstreamLines(transport: 'http' | 'stdio', url: string): string[] {
  if (transport === 'http') return ['    transport: http', `    url: ${JSON.stringify(url)}`];
  // Compiled, this file sits beside the compiled fixture; run from source (jest), it finds it under dist/.
  const script = __filename.endsWith('.ts')
    ? join(__dirname, '..', '..', 'dist', 'e2e', 'conformance', 'fixture-server.js')
    : join(__dirname, 'fixture-server.js');
  if (!existsSync(script)) {
    throw new Error(`the stdio comparison runs the compiled fixture ${script}; run \`npm run build\` first`);
  }
  return [
    '    transport: stdio',
    `    command: ${JSON.stringify(process.execPath)}`,
    `    args: [${JSON.stringify(script)}, "--stdio"]`,
  ];
}

/** The environment keys `parseConfigText` lets override the file; the comparison pins those itself. */
const PINNED_ENV = ['PORT', 'HOST', 'PUBLIC_URL', 'LOG_LEVEL', 'GATEHOUSE_DATA_DIR'];

/**
 * Starts the fixture, runs the suite against it directly, starts an in-process gateway fronting
 * it as upstream `conformance` over HTTP, runs the suite through `/mcp/servers/conformance`, and
 * compares. Everything it started is stopped before it returns.
 */
export async function compareDirectAndGateway(options: CompareOptions = {}): Promise<Comparison> {
  const progress = options.onProgress ?? (() => undefined);
  const fixture = await startFixtureHttp();
  const dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-conformance-data-'));
  try {
    progress(`fixture listening at ${fixture.url}; running the suite directly`);
    const direct = await runSuite('direct', fixture.url, options);

    const yaml = [
      'server:',
      '  port: 0',
      '  host: 127.0.0.1',
      'log:',
      '  level: warn',
      // The suite compares MCP behaviour with and without the gateway; identity is tested elsewhere.
      'auth:',
      '  mode: none',
      'policy:',
      `  dir: ${JSON.stringify(ALLOW_ALL_POLICY_DIR)}`,
      'rateLimit:',
      '  perUserPerMinute: 1000000',
      '  perToolPerMinute: 1000000',
      '  inFlightPerUser: 100000',
      `dataDir: ${JSON.stringify(dataDir)}`,
      'redis:',
      `  keyPrefix: ${JSON.stringify(`gh-conformance-${process.pid}-${Date.now()}:`)}`,
      'upstreams:',
      `  ${UPSTREAM_NAME}:`,
      ...upstreamLines(options.upstreamTransport ?? 'http', fixture.url),
      ...(options.upstreamProtocol ? [`    protocol: ${JSON.stringify(options.upstreamProtocol)}`] : []),
      '',
    ].join('\n');
    const env = { ...process.env };
    for (const key of PINNED_ENV) delete env[key];
    const gatewayLog: string[] = [];
    const gateway = await startGateway(parseConfigText(yaml, env), {
      logDestination: { write: (line: string) => void gatewayLog.push(line.trimEnd()) },
    });
    try {
      const url = `${gateway.url}/mcp/servers/${UPSTREAM_NAME}`;
      progress(`gateway listening at ${gateway.url}; running the suite through ${url}`);
      const through = await runSuite('gateway', url, options);
      const differences = diffSuites(direct, through);
      const directPassing = direct.scenarios.filter((s) => s.passed).map((s) => s.scenario);
      const gatewayPassing = through.scenarios.filter((s) => s.passed).map((s) => s.scenario);
      const equal =
        direct.passedChecks === through.passedChecks &&
        directPassing.length === gatewayPassing.length &&
        directPassing.every((s) => gatewayPassing.includes(s)) &&
        !differences.some((d) => d.scoring);
      const upstreamProtocol = options.upstreamProtocol ?? 'auto';
      const upstreamTransport = options.upstreamTransport ?? 'http';
      return {
        direct,
        gateway: through,
        differences,
        equal,
        gatewayLog,
        upstreamProtocol,
        upstreamTransport,
      };
    } finally {
      await gateway.close();
    }
  } finally {
    await fixture.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

function clip(value: unknown, max = 1500): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
  return text.length > max ? `${text.slice(0, max)}... (${text.length - max} more characters)` : text;
}

function describeFailures(result: ScenarioResult | undefined): string[] {
  if (!result) return ['    (scenario did not run)'];
  return result.checks
    .filter((c) => c.status === 'FAILURE' || c.status === 'WARNING')
    .flatMap((c) => [
      `    [${c.status}] ${c.id}: ${c.errorMessage ?? c.description}`,
      ...(c.details === undefined
        ? []
        : clip(c.details)
            .split('\n')
            .map((l) => `      ${l}`)),
    ]);
}

/** Renders a comparison as the report `npm run conformance` prints. */
export function formatComparison(comparison: Comparison): string {
  const { direct, gateway, differences } = comparison;
  const total = direct.scenarios.length;
  const lines = [
    '',
    'MCP conformance, server scenarios',
    `  direct   ${direct.url}`,
    `           ${direct.passedScenarios}/${total} scenarios passed, ${direct.passedChecks} checks passed, ${direct.failedChecks} failed`,
    `  gateway  ${gateway.url}`,
    `           upstream over ${comparison.upstreamTransport}, hop protocol ${comparison.upstreamProtocol}`,
    `           ${gateway.passedScenarios}/${gateway.scenarios.length} scenarios passed, ${gateway.passedChecks} checks passed, ${gateway.failedChecks} failed`,
    '',
    '  scenario                                   direct   gateway',
  ];
  for (const scenario of direct.scenarios) {
    const other = gateway.scenarios.find((s) => s.scenario === scenario.scenario);
    const verdict = (s: ScenarioResult | undefined) =>
      s === undefined ? 'absent' : s.passed ? 'pass' : 'FAIL';
    const difference = differences.find((d) => d.scenario === scenario.scenario);
    const mark = difference ? (difference.scoring ? '  <-- differs' : '  (warnings differ)') : '';
    lines.push(`  ${scenario.scenario.padEnd(42)} ${verdict(scenario).padEnd(8)} ${verdict(other)}${mark}`);
  }
  if (differences.length === 0) {
    lines.push('', '  No differences: the gateway passes exactly what the upstream passes.');
  } else {
    const scoring = differences.filter((d) => d.scoring).length;
    lines.push(
      '',
      `  ${differences.length} scenario(s) differ, ${scoring} in what passes, ${differences.length - scoring} in warnings only:`,
    );
    for (const difference of differences) {
      lines.push('', `  ${difference.scenario}${difference.scoring ? '' : ' (warnings only)'}`);
      for (const change of difference.changedChecks) lines.push(`    ${change}`);
      lines.push('   direct:', ...describeFailures(difference.direct));
      lines.push('   through the gateway:', ...describeFailures(difference.gateway));
    }
    if (comparison.gatewayLog.length > 0) {
      lines.push(
        '',
        '  gateway log (warn and above):',
        ...comparison.gatewayLog.slice(-40).map((l) => `    ${clip(l, 600)}`),
      );
    }
  }
  lines.push('', comparison.equal ? 'RESULT: counts are equal' : 'RESULT: counts differ', '');
  return lines.join('\n');
}

function parseArgs(args: string[]): CompareOptions {
  const options: CompareOptions = { onProgress: (line) => process.stderr.write(`${line}\n`) };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    const value = args[i + 1];
    switch (arg) {
      case '--upstream-protocol':
        if (value !== 'auto' && value !== 'legacy' && value !== '2026-07-28') {
          throw new Error('--upstream-protocol takes auto, legacy or 2026-07-28');
        }
        options.upstreamProtocol = value;
        i++;
        break;
      case '--upstream-transport':
        if (value !== 'http' && value !== 'stdio')
          throw new Error('--upstream-transport takes http or stdio');
        options.upstreamTransport = value;
        i++;
        break;
      case '--scenario':
        if (!value) throw new Error('--scenario takes a scenario name');
        options.scenarios = [...(options.scenarios ?? []), value];
        i++;
        break;
      case '--suite':
        if (value !== 'all' && value !== 'active') throw new Error('--suite takes all or active');
        options.suite = value;
        i++;
        break;
      default:
        throw new Error(
          `unknown argument ${arg}; use --upstream-protocol, --upstream-transport, --scenario or --suite`,
        );
    }
  }
  return options;
}

async function main(): Promise<void> {
  const comparison = await compareDirectAndGateway(parseArgs(process.argv.slice(2)));
  process.stdout.write(formatComparison(comparison));
  process.exitCode = comparison.equal ? 0 : 1;
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  });
}
