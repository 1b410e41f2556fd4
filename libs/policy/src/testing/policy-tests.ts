import type { Principal } from '@gatehouse/auth';
import { CONSOLE_ROLES } from '@gatehouse/config';
import type { SqlInspection, SqlInspectOptions } from '@gatehouse/inspect';
import { isScalar, isMap } from 'yaml';
import { classify, unknownRelations } from '../engine/classify';
import { isPolicyTestFile } from '../language/parse';
import { YamlReader, type YamlNode } from '../language/yaml-reader';
import type { Action, CompiledPolicy, Decision, PolicyFile, PolicyProblem, SourcePosition } from '../types';

/** One case of a `*.test.yaml` file: a call and the decision the policy must reach. */
export interface PolicyTestCase {
  name: string;
  principal: {
    user: string;
    groups: string[];
    roles: string[];
    kind: Principal['kind'];
    email?: string;
    name?: string;
    clientId?: string;
  };
  server: string;
  /** Overrides the server's configured tags. */
  tags?: Record<string, string>;
  tool: string;
  args: Record<string, unknown>;
  /** When absent, the call is classified as the gateway would (attestations, SQL inspection). */
  action?: Action;
  /** ISO timestamp for `now`; defaults to the run's time. */
  now?: string;
  expect: Decision['outcome'];
  /** When given, the decision's matched rule ids must be exactly these (any order). */
  rules?: string[];
  source: SourcePosition;
}

export type PolicyTestParseResult =
  { ok: true; cases: PolicyTestCase[] } | { ok: false; problems: PolicyProblem[] };

/** What the tests know about each server (from the gateway config): tags and read/write classification. */
export interface PolicyTestServer {
  tags?: Record<string, string>;
  readOnlyTools?: readonly string[];
  sql?: { tools: readonly string[]; argument: string; searchPath: readonly string[] };
}

export interface PolicyTestOptions {
  /** The SQL inspector (`inspectSql`, after `initSqlInspector()`), for cases without `action` on SQL tools. */
  inspect?: (sql: string, options: SqlInspectOptions) => SqlInspection;
  now?: Date;
}

export interface PolicyTestResult {
  name: string;
  source: SourcePosition;
  passed: boolean;
  decision: Decision;
  /** Expected versus actual, one line each, when the case failed. */
  diff?: string;
}

const CASE_KEYS = [
  'name',
  'principal',
  'server',
  'tags',
  'tool',
  'args',
  'action',
  'now',
  'expect',
  'rules',
] as const;
const PRINCIPAL_KEYS = ['user', 'groups', 'roles', 'kind', 'email', 'name', 'clientId'] as const;

/**
 * Reads the policy test cases of a directory: only `*.test.yaml` files, each a list of cases.
 * Problems carry file, line and column like policy problems.
 */
export function parsePolicyTests(files: PolicyFile[]): PolicyTestParseResult {
  const cases: PolicyTestCase[] = [];
  const problems: PolicyProblem[] = [];
  const ordered = files.filter((f) => isPolicyTestFile(f.path)).sort((a, b) => (a.path < b.path ? -1 : 1));
  for (const file of ordered) {
    const r = YamlReader.open(file.path, file.text);
    if (r.problems.length === 0 && r.root !== null && r.root !== undefined) {
      for (const item of r.items(r.root, 'a test file') ?? []) {
        const c = readCase(r, item);
        if (c) cases.push(c);
      }
    }
    problems.push(...r.problems);
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, cases };
}

function readCase(r: YamlReader, node: YamlNode): PolicyTestCase | undefined {
  const before = r.problems.length;
  const e = r.entries(node, 'a test case', CASE_KEYS);
  if (!e) return undefined;
  const required = (key: (typeof CASE_KEYS)[number]) => {
    const pair = e.get(key);
    if (!pair) r.problem(node, `a test case needs "${key}"`);
    return pair?.value;
  };
  const nameNode = required('name');
  const name = nameNode === undefined ? undefined : r.string(nameNode, '"name"');
  const principalNode = required('principal');
  const principal = principalNode === undefined ? undefined : readPrincipal(r, principalNode);
  const serverNode = required('server');
  const server = serverNode === undefined ? undefined : r.string(serverNode, '"server"');
  const toolNode = required('tool');
  const tool = toolNode === undefined ? undefined : r.string(toolNode, '"tool"');
  const expectNode = required('expect');
  const expected = expectNode === undefined ? undefined : r.scalar(expectNode, '"expect"');
  if (expected !== undefined && !['allow', 'deny', 'shadow-deny'].includes(expected)) {
    r.problem(expectNode, `"expect" must be allow, deny or shadow-deny, not "${expected}"`);
  }
  const c: Partial<PolicyTestCase> = { args: {}, source: r.at(node) };
  const tags = e.get('tags');
  if (tags) {
    if (!isMap(tags.value)) r.problem(tags.value, '"tags" must be a mapping, e.g. { env: prod }');
    else
      c.tags = Object.fromEntries(
        tags.value.items.map((p) => [String(scalarOf(p.key)), String(scalarOf(p.value))]),
      );
  }
  const args = e.get('args');
  if (args) {
    const value: unknown = args.value?.toJSON();
    if (!isMap(args.value) || !value || typeof value !== 'object')
      r.problem(args.value, '"args" must be a mapping');
    else c.args = value as Record<string, unknown>;
  }
  const action = e.get('action');
  if (action) {
    const value = r.scalar(action.value, '"action"');
    if (value === 'read' || value === 'write') c.action = value;
    else
      r.problem(
        action.value,
        `"action" must be read or write (leave it out to classify the call), not "${value}"`,
      );
  }
  const now = e.get('now');
  if (now) {
    const value = r.string(now.value, '"now"');
    if (value !== undefined && Number.isNaN(Date.parse(value)))
      r.problem(now.value, '"now" must be an ISO timestamp');
    else if (value !== undefined) c.now = value;
  }
  const rules = e.get('rules');
  if (rules) {
    const list = r.stringList(rules.value, '"rules"');
    if (list) c.rules = list.map((v) => v.value);
  }
  if (r.problems.length > before || !name || !principal || !server || !tool || !expected) return undefined;
  return { ...c, name, principal, server, tool, expect: expected as Decision['outcome'] } as PolicyTestCase;
}

function scalarOf(node: unknown): unknown {
  return isScalar(node) ? node.value : node;
}

function readPrincipal(r: YamlReader, node: YamlNode): PolicyTestCase['principal'] | undefined {
  const e = r.entries(node, '"principal"', PRINCIPAL_KEYS);
  if (!e) return undefined;
  const userPair = e.get('user');
  if (!userPair) r.problem(node, '"principal" needs "user" (the token subject)');
  const user = userPair ? r.string(userPair.value, '"principal.user"') : undefined;
  const list = (key: 'groups' | 'roles') => {
    const pair = e.get(key);
    return pair ? (r.stringList(pair.value, `"principal.${key}"`)?.map((v) => v.value) ?? []) : [];
  };
  const groups = list('groups');
  const roles = list('roles');
  for (const role of roles) {
    if (!(CONSOLE_ROLES as readonly string[]).includes(role)) {
      r.problem(e.get('roles')?.value, `unknown role "${role}"; roles are ${CONSOLE_ROLES.join(', ')}`);
    }
  }
  let kind: Principal['kind'] = 'user';
  const kindPair = e.get('kind');
  if (kindPair) {
    const value = r.scalar(kindPair.value, '"principal.kind"');
    if (value === 'user' || value === 'service' || value === 'anonymous') kind = value;
    else r.problem(kindPair.value, '"principal.kind" must be user, service or anonymous');
  }
  if (user === undefined) return undefined;
  const out: PolicyTestCase['principal'] = { user, groups, roles, kind };
  for (const key of ['email', 'name', 'clientId'] as const) {
    const pair = e.get(key);
    const value = pair ? r.string(pair.value, `"principal.${key}"`) : undefined;
    if (value !== undefined) out[key] = value;
  }
  return out;
}

const noInspector = (): SqlInspection => {
  throw new Error('no SQL inspector given to runPolicyTests; give the case an action');
};

/**
 * Runs cases against a compiled policy, offline. A case passes when the outcome (and, if listed,
 * the matched rule ids) is what it expects; a failure carries a readable expected/actual diff.
 */
export function runPolicyTests(
  policy: CompiledPolicy,
  cases: readonly PolicyTestCase[],
  servers: Readonly<Record<string, PolicyTestServer>>,
  options: PolicyTestOptions = {},
): PolicyTestResult[] {
  return cases.map((c) => {
    const server = servers[c.server] ?? {};
    const serverTags = c.tags ?? server.tags ?? {};
    const principal: Principal = {
      kind: c.principal.kind,
      issuer: 'policy-test',
      subject: c.principal.user,
      groups: c.principal.groups,
      roles: c.principal.roles as Principal['roles'],
      scopes: [],
      expiresAt: Infinity,
    };
    if (c.principal.email !== undefined) principal.email = c.principal.email;
    if (c.principal.name !== undefined) principal.name = c.principal.name;
    if (c.principal.clientId !== undefined) principal.clientId = c.principal.clientId;
    const classified = c.action
      ? // A case that states its action carries no SQL to inspect: as a live call without SQL, what it touches is unknown.
        {
          action: c.action,
          touched: [] as string[],
          relations: unknownRelations('the case states its action and carries no SQL to inspect'),
        }
      : classify({
          server: c.server,
          serverTags,
          tool: c.tool,
          args: c.args,
          readOnlyTools: server.readOnlyTools ?? [],
          ...(server.sql ? { sql: server.sql } : {}),
          attestations: policy.document.attestations,
          inspect: options.inspect ?? noInspector,
        });
    const decision = policy.decide({
      principal,
      server: c.server,
      serverTags,
      tool: c.tool,
      args: c.args,
      action: classified.action,
      touched: classified.touched,
      relations: classified.relations,
      now: c.now ? new Date(c.now) : (options.now ?? new Date()),
    });
    const outcomeOk = decision.outcome === c.expect;
    const rulesOk = !c.rules || sameSet(c.rules, decision.matchedRules);
    const result: PolicyTestResult = {
      name: c.name,
      source: c.source,
      passed: outcomeOk && rulesOk,
      decision,
    };
    if (!result.passed) {
      const lines = [
        `expected: ${c.expect}${c.rules ? ` by ${listRules(c.rules)}` : ''}`,
        `actual:   ${decision.outcome} by ${listRules(decision.matchedRules)} (${decision.action})`,
        `reason:   ${decision.reason}`,
      ];
      result.diff = lines.join('\n');
    }
    return result;
  });
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join('\u0000') === [...b].sort().join('\u0000');
}

function listRules(ids: readonly string[]): string {
  return ids.length === 0 ? 'no rule' : ids.join(', ');
}
