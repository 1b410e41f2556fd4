import { join } from 'node:path';

import { upstreamSchema } from '@gatehouse/config';
import { initSqlInspector, inspectSql } from '@gatehouse/inspect';
import {
  compilePolicy,
  parsePolicy,
  parsePolicyTests,
  runPolicyTests,
  type PolicyProblem,
  type PolicyTestCase,
  type PolicyTestResult,
  type PolicyTestServer,
} from '@gatehouse/policy';

import { serversFromConfig, type ServerFacts } from './config-servers';
import { PolicyCliError } from './errors';
import type { Io } from './io';
import { problemLine, readPolicyDir } from './policy-dir';
import { count } from './push';

export interface PolicyTestRunOptions {
  dir: string;
  /** The gateway's configuration file, for each upstream's tags, readOnlyTools and sql. */
  config?: string;
}

/** Exit status of `policy test`: every case passed, some failed, or the files could not be used. */
export const TEST_EXIT = { passed: 0, failed: 1, invalid: 2 } as const;

/** A server the configuration does not name is classified with the gateway's defaults for an upstream. */
const DEFAULTS: ServerFacts = (() => {
  const { tags, readOnlyTools, sql } = upstreamSchema.parse({ transport: 'stdio', command: 'unused' });
  return { tags, readOnlyTools, sql };
})();

/**
 * `gatehouse policy test <dir>`: parses the policy and its `*.test.yaml` cases, runs every case
 * offline with the engine the gateway uses, and prints problems (stderr) and results (stdout).
 * Resolves with the exit status.
 */
export async function runPolicyTestDir(options: PolicyTestRunOptions, io: Io): Promise<number> {
  let servers: Record<string, ServerFacts> | undefined;
  let local;
  try {
    servers = options.config !== undefined ? serversFromConfig(options.config) : undefined;
    local = await readPolicyDir(options.dir);
  } catch (error) {
    if (!(error instanceof PolicyCliError)) throw error;
    io.err(`gatehouse policy test: ${error.message}\n`);
    return TEST_EXIT.invalid;
  }
  const policy = parsePolicy(local.policy);
  const tests = parsePolicyTests(local.tests);
  const problems: PolicyProblem[] = [
    ...(policy.ok ? [] : policy.problems),
    ...(tests.ok ? [] : tests.problems),
  ];
  if (local.policy.length === 0) {
    problems.push({
      file: '.',
      line: 1,
      column: 1,
      message: 'no policy file (*.yaml or *.yml other than *.test.yaml)',
    });
  }
  if (!policy.ok || !tests.ok || problems.length > 0) {
    for (const problem of problems) io.err(`${problemLine(options.dir, problem)}\n`);
    io.err(
      `gatehouse policy test: ${count(problems.length, 'problem')} in ${options.dir}; no case was run\n`,
    );
    return TEST_EXIT.invalid;
  }
  const cases = tests.cases;
  if (cases.length === 0) {
    io.err(`gatehouse policy test: the policy parses, but ${options.dir} has no test case (*.test.yaml)\n`);
    return TEST_EXIT.passed;
  }
  for (const unknown of unknownServers(cases, servers)) {
    io.err(
      `warning: ${unknown} is not an upstream in ${options.config}; its cases are classified with the defaults\n`,
    );
  }
  // Loaded only when some case needs SQL classified: the parser is WASM and takes a moment.
  if (needsSql(cases, servers)) await initSqlInspector();
  const compiled = compilePolicy(policy.document, 0);
  const results = runPolicyTests(compiled, cases, withDefaults(cases, servers), { inspect: inspectSql });
  for (const result of results) io.out(resultLines(options.dir, result));
  const failed = results.filter((r) => !r.passed).length;
  io.out(
    `\n${failed === 0 ? 'ok' : 'FAILED'}: ${count(results.length - failed, 'case')} passed, ${failed} failed\n`,
  );
  return failed === 0 ? TEST_EXIT.passed : TEST_EXIT.failed;
}

/** `pass  <name>  (allow by rule-id)` or `FAIL  <name>  <file:line:col>` with the expected/actual lines. */
function resultLines(dir: string, r: PolicyTestResult): string {
  const by = r.decision.matchedRules.length > 0 ? r.decision.matchedRules.join(', ') : 'no rule';
  if (r.passed) return `pass  ${r.name}  (${r.decision.outcome} by ${by})\n`;
  const where = `${join(dir, r.source.file)}:${r.source.line}:${r.source.column}`;
  const detail = (r.diff ?? `actual: ${r.decision.outcome} by ${by}\nreason: ${r.decision.reason}`)
    .split('\n')
    .map((line) => `      ${line}\n`)
    .join('');
  return `FAIL  ${r.name}  ${where}\n${detail}`;
}

/** The servers the cases name, each with the configuration's facts or the defaults. */
function withDefaults(
  cases: readonly PolicyTestCase[],
  servers: Record<string, ServerFacts> | undefined,
): Record<string, PolicyTestServer> {
  return Object.fromEntries(cases.map((c) => [c.server, servers?.[c.server] ?? DEFAULTS]));
}

function unknownServers(
  cases: readonly PolicyTestCase[],
  servers: Record<string, ServerFacts> | undefined,
): string[] {
  if (servers === undefined) return [];
  return [...new Set(cases.map((c) => c.server))].filter((name) => !(name in servers)).sort();
}

/** Whether some case without an action calls a SQL tool of a `kind: postgres` server. */
function needsSql(
  cases: readonly PolicyTestCase[],
  servers: Record<string, ServerFacts> | undefined,
): boolean {
  return cases.some((c) => {
    const facts = servers?.[c.server] ?? DEFAULTS;
    return c.action === undefined && (c.tags ?? facts.tags).kind === 'postgres';
  });
}
