import { CONSOLE_ROLES } from '@gatehouse/config';
import { isMap, isScalar, isSeq, type Node, type Pair } from 'yaml';
import type {
  Action,
  EnforcementEntry,
  ParseResult,
  PolicyDocument,
  PolicyFile,
  PolicyProblem,
  PolicyRule,
  SourcePosition,
  ToolAttestation,
} from '../types';
import { checkCondition } from './cel';
import { compileGlob } from './glob';
import { YamlReader, type YamlNode } from './yaml-reader';

const FILE_KEYS = ['rules', 'enforcement', 'tools'] as const;
const RULE_KEYS = ['id', 'description', 'effect', 'subject', 'resource', 'action', 'conditions'] as const;
const SUBJECT_KEYS = ['user', 'users', 'group', 'groups', 'role', 'roles', 'any'] as const;
const RESOURCE_KEYS = ['server', 'tool', 'tags'] as const;
const CONDITION_KEYS = ['when', 'schemas', 'rate_limit_per_minute'] as const;
const ENFORCEMENT_KEYS = ['tags', 'action', 'mode'] as const;
const ATTESTATION_KEYS = ['server', 'tool', 'action'] as const;

/** Files named `*.test.yaml` (or `.test.yml`) hold policy test cases, not policy. */
export function isPolicyTestFile(path: string): boolean {
  return /\.test\.ya?ml$/i.test(path);
}

/**
 * Parses and checks every file of a policy version. Files are read in file-name order, rules in
 * file order; `*.test.yaml` files are skipped. Any problem (YAML syntax, unknown or mistyped key,
 * duplicate id, bad glob, CEL that does not compile or names unknown variables) is reported with
 * file, line and column, and the version gets no document: it can never compile or activate.
 */
export function parsePolicy(files: PolicyFile[]): ParseResult {
  const ordered = files
    .filter((f) => !isPolicyTestFile(f.path))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const document: PolicyDocument = { rules: [], enforcement: [], attestations: [] };
  const problems: PolicyProblem[] = [];
  const ids = new Map<string, SourcePosition>();
  for (const file of ordered) {
    const reader = YamlReader.open(file.path, file.text);
    if (reader.problems.length === 0) readFile(reader, document, ids);
    problems.push(...reader.problems);
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, document };
}

function readFile(r: YamlReader, doc: PolicyDocument, ids: Map<string, SourcePosition>): void {
  const root = r.root;
  // An empty file (or one holding only comments) is an empty part of the version.
  if (root === null || root === undefined || (isScalar(root) && root.value === null)) return;
  if (isSeq(root)) {
    readRules(r, root, doc, ids);
    return;
  }
  if (!isMap(root)) {
    r.problem(
      root,
      'a policy file must be a list of rules, or a mapping with "rules", "enforcement" and "tools"',
    );
    return;
  }
  const entries = r.entries(root, 'a policy file', FILE_KEYS);
  if (!entries) return;
  const rules = entries.get('rules');
  if (rules) readRules(r, rules.value, doc, ids);
  const enforcement = entries.get('enforcement');
  if (enforcement) {
    for (const item of r.items(enforcement.value, '"enforcement"') ?? []) {
      const entry = readEnforcement(r, item);
      if (entry) doc.enforcement.push(entry);
    }
  }
  const tools = entries.get('tools');
  if (tools) {
    for (const item of r.items(tools.value, '"tools"') ?? []) {
      const attestation = readAttestation(r, item);
      if (attestation) doc.attestations.push(attestation);
    }
  }
}

function readRules(
  r: YamlReader,
  node: YamlNode,
  doc: PolicyDocument,
  ids: Map<string, SourcePosition>,
): void {
  const items = r.items(node, '"rules"');
  if (!items) return;
  items.forEach((item, i) => {
    const rule = readRule(r, item, i + 1, ids);
    if (rule) doc.rules.push(rule);
  });
}

function readRule(
  r: YamlReader,
  node: YamlNode,
  n: number,
  ids: Map<string, SourcePosition>,
): PolicyRule | undefined {
  const before = r.problems.length;
  const what = `rule ${n}`;
  const e = r.entries(node, what, RULE_KEYS);
  if (!e) return undefined;
  const source = r.at(node);

  let id = `${r.file}#${n}`;
  const idPair = e.get('id');
  if (idPair) {
    const given = r.string(idPair.value, '"id"');
    if (given !== undefined) id = given;
  }
  const seen = ids.get(id);
  if (seen) {
    r.problem(
      idPair?.value ?? node,
      `duplicate rule id "${id}" (first used at ${seen.file}:${seen.line}:${seen.column})`,
    );
  } else {
    ids.set(id, r.at(idPair?.value ?? node));
  }

  let description: string | undefined;
  const descPair = e.get('description');
  if (descPair) description = r.string(descPair.value, '"description"');

  let effect: PolicyRule['effect'] = 'allow';
  const effectPair = e.get('effect');
  if (effectPair) {
    const value = oneOf(r, effectPair.value, '"effect"', ['allow', 'deny']);
    if (value) effect = value;
  }

  const subjectPair = e.get('subject');
  const subject = subjectPair
    ? readSubject(r, subjectPair.value)
    : missing(r, node, what, 'subject', 'subject: { group: data-platform }');
  const resourcePair = e.get('resource');
  const resource = resourcePair
    ? readResource(r, resourcePair.value)
    : missing(r, node, what, 'resource', 'resource: { server: postgres-prod }');
  const actionPair = e.get('action');
  // No default action: a forgotten `action:` must not silently grant writes.
  const actions = actionPair
    ? readActions(r, actionPair.value)
    : missing(r, node, what, 'action', "action: read (or write, or '*')");
  const conditionsPair = e.get('conditions');
  const conditions = conditionsPair ? readConditions(r, conditionsPair.value) : {};

  if (r.problems.length > before || !subject || !resource || !actions || !conditions) return undefined;
  const rule: PolicyRule = { id, effect, subject, resource, actions, conditions, source };
  if (description !== undefined) rule.description = description;
  return rule;
}

function missing(r: YamlReader, node: YamlNode, what: string, key: string, example: string): undefined {
  r.problem(node, `${what} has no "${key}"; add one, e.g. ${example}`);
  return undefined;
}

function oneOf<T extends string>(
  r: YamlReader,
  node: YamlNode,
  what: string,
  allowed: readonly T[],
): T | undefined {
  const value = r.scalar(node, what);
  if (value === undefined) return undefined;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  r.problem(node, `${what} must be ${allowed.map((a) => `"${a}"`).join(' or ')}, not "${value}"`);
  return undefined;
}

function readSubject(r: YamlReader, node: YamlNode): PolicyRule['subject'] | undefined {
  const e = r.entries(node, '"subject"', SUBJECT_KEYS);
  if (!e) return undefined;
  const out: PolicyRule['subject'] = { any: false, users: [], groups: [], roles: [] };
  let ok = true;
  const list = (keys: [string, string], into: string[]) => {
    for (const key of keys) {
      const pair = e.get(key);
      if (!pair) continue;
      const values = r.stringList(pair.value, `"subject.${key}"`);
      if (!values) ok = false;
      else into.push(...values.map((v) => v.value));
      if (key === 'role' || key === 'roles') {
        for (const v of values ?? []) {
          if (!(CONSOLE_ROLES as readonly string[]).includes(v.value)) {
            r.problem(
              v.node,
              `unknown role "${v.value}"; roles are ${CONSOLE_ROLES.map((c) => `"${c}"`).join(', ')}`,
            );
            ok = false;
          }
        }
      }
    }
  };
  list(['user', 'users'], out.users);
  list(['group', 'groups'], out.groups);
  list(['role', 'roles'], out.roles);
  const anyPair = e.get('any');
  if (anyPair) {
    if (isScalar(anyPair.value) && anyPair.value.value === true) out.any = true;
    else {
      r.problem(
        anyPair.value,
        '"subject.any" can only be true (leave it out to name users, groups or roles)',
      );
      ok = false;
    }
  }
  if (e.size === 0) {
    r.problem(node, '"subject" names nobody; give user(s), group(s), role(s) or any: true');
    return undefined;
  }
  return ok ? out : undefined;
}

function readResource(r: YamlReader, node: YamlNode): PolicyRule['resource'] | undefined {
  const e = r.entries(node, '"resource"', RESOURCE_KEYS);
  if (!e) return undefined;
  const out: PolicyRule['resource'] = { servers: [], tools: [], tags: {} };
  let ok = true;
  for (const [key, into] of [
    ['server', out.servers],
    ['tool', out.tools],
  ] as const) {
    const pair = e.get(key);
    if (!pair) continue;
    const values = r.stringList(pair.value, `"resource.${key}"`);
    if (!values) {
      ok = false;
      continue;
    }
    for (const v of values) {
      const glob = compileGlob(v.value);
      if (!glob.ok) {
        r.problem(v.node, `"resource.${key}" pattern "${v.value}" ${glob.message}`);
        ok = false;
      }
      into.push(v.value);
    }
  }
  const tagsPair = e.get('tags');
  if (tagsPair) {
    const tags = readTags(r, tagsPair.value, '"resource.tags"');
    if (tags) Object.assign(out.tags, tags);
    else ok = false;
  }
  if (e.size === 0) {
    r.problem(node, '"resource" matches nothing; give server, tool or tags');
    return undefined;
  }
  return ok ? out : undefined;
}

function readTags(r: YamlReader, node: YamlNode, what: string): Record<string, string> | undefined {
  if (!isMap(node)) {
    r.problem(node, `${what} must be a mapping of tag names to values, e.g. { env: prod }`);
    return undefined;
  }
  const out: Record<string, string> = {};
  let ok = true;
  for (const pair of node.items as Pair<Node, YamlNode>[]) {
    const key = r.scalar(pair.key, `a tag name in ${what}`);
    if (pair.value === null || pair.value === undefined) {
      r.problem(pair.key, `tag "${key ?? '?'}" in ${what} has no value`);
      ok = false;
      continue;
    }
    const value = r.scalar(pair.value, `the value of tag "${key ?? '?'}" in ${what}`);
    if (key === undefined || value === undefined) {
      ok = false;
      continue;
    }
    out[key] = value;
  }
  return ok ? out : undefined;
}

function readActions(r: YamlReader, node: YamlNode): Action[] | undefined {
  const values = r.stringList(node, '"action"');
  if (!values) return undefined;
  const out = new Set<Action>();
  for (const v of values) {
    if (v.value === '*') {
      out.add('read');
      out.add('write');
    } else if (v.value === 'read' || v.value === 'write') {
      out.add(v.value);
    } else {
      r.problem(v.node, `"action" must be read, write or '*' (quoted), not "${v.value}"`);
      return undefined;
    }
  }
  return (['read', 'write'] as const).filter((a) => out.has(a));
}

function readConditions(r: YamlReader, node: YamlNode): PolicyRule['conditions'] | undefined {
  const e = r.entries(node, '"conditions"', CONDITION_KEYS);
  if (!e) return undefined;
  const out: PolicyRule['conditions'] = {};
  let ok = true;
  const when = e.get('when');
  if (when) {
    const expression = r.string(when.value, '"conditions.when"');
    if (expression === undefined) ok = false;
    else {
      const problem = checkCondition(expression);
      if (problem) {
        r.problem(when.value, `"conditions.when" does not compile: ${problem}`);
        ok = false;
      } else out.when = expression;
    }
  }
  const schemas = e.get('schemas');
  if (schemas) {
    const values = isSeq(schemas.value) ? r.stringList(schemas.value, '"conditions.schemas"') : undefined;
    if (!isSeq(schemas.value))
      r.problem(schemas.value, '"conditions.schemas" must be a list, e.g. [public, analytics]');
    if (values) out.schemas = values.map((v) => v.value);
    else ok = false;
  }
  const rate = e.get('rate_limit_per_minute');
  if (rate) {
    const v = isScalar(rate.value) ? rate.value.value : undefined;
    if (typeof v === 'number' && Number.isSafeInteger(v) && v > 0) out.rateLimitPerMinute = v;
    else {
      r.problem(rate.value, '"conditions.rate_limit_per_minute" must be a whole number greater than 0');
      ok = false;
    }
  }
  return ok ? out : undefined;
}

function readEnforcement(r: YamlReader, node: YamlNode): EnforcementEntry | undefined {
  const before = r.problems.length;
  const e = r.entries(node, 'an "enforcement" entry', ENFORCEMENT_KEYS);
  if (!e) return undefined;
  const tagsPair = e.get('tags');
  const tags = tagsPair ? readTags(r, tagsPair.value, '"enforcement.tags"') : {};
  const actionPair = e.get('action');
  const action = actionPair
    ? oneOf(r, actionPair.value, '"enforcement.action"', ['read', 'write', '*'])
    : '*';
  const modePair = e.get('mode');
  const mode = modePair
    ? oneOf(r, modePair.value, '"enforcement.mode"', ['shadow', 'enforce'])
    : missing(r, node, 'the "enforcement" entry', 'mode', 'mode: shadow');
  if (r.problems.length > before || !tags || !action || !mode) return undefined;
  return { tags, action, mode, source: r.at(node) };
}

function readAttestation(r: YamlReader, node: YamlNode): ToolAttestation | undefined {
  const before = r.problems.length;
  const e = r.entries(node, 'a "tools" entry', ATTESTATION_KEYS);
  if (!e) return undefined;
  const serverPair = e.get('server');
  const server = serverPair
    ? r.string(serverPair.value, '"tools.server"')
    : missing(r, node, 'the "tools" entry', 'server', 'server: github');
  const toolPair = e.get('tool');
  const tool = toolPair
    ? r.string(toolPair.value, '"tools.tool"')
    : missing(r, node, 'the "tools" entry', 'tool', 'tool: "get_*"');
  if (toolPair && tool !== undefined) {
    const glob = compileGlob(tool);
    if (!glob.ok) r.problem(toolPair.value, `"tools.tool" pattern "${tool}" ${glob.message}`);
  }
  const actionPair = e.get('action');
  const action = actionPair
    ? oneOf(r, actionPair.value, '"tools.action"', ['read'])
    : missing(r, node, 'the "tools" entry', 'action', 'action: read');
  if (r.problems.length > before || !server || !tool || !action) return undefined;
  return { server, tool, action, source: r.at(node) };
}
