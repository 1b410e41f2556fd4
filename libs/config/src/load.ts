import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { configSchema, type GatehouseConfig } from './schema';

/** One problem in the configuration, pinned to the key and (when it came from the file) its line. */
export interface ConfigProblem {
  key: string;
  line?: number;
  column?: number;
  message: string;
  fix: string;
}

export class ConfigError extends Error {
  constructor(
    readonly file: string | undefined,
    readonly problems: ConfigProblem[],
  ) {
    super(
      `Invalid Gatehouse configuration${file ? ` in ${file}` : ''}:\n` +
        problems
          .map(
            (p) =>
              `  - ${p.key}${p.line ? ` (line ${p.line}, column ${p.column ?? 1})` : ''}: ${p.message}. Fix: ${p.fix}`,
          )
          .join('\n'),
    );
    this.name = 'ConfigError';
  }
}

export interface LoadedConfig {
  config: GatehouseConfig;
  /** The file read, or undefined when no file exists and built-in defaults apply. */
  file: string | undefined;
  /** Dotted key paths whose values came from `${ENV}` references; they are never logged. */
  secretKeys: ReadonlySet<string>;
}

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Environment variables that override a file key, so containers can be configured without a file. */
const ENV_OVERRIDES: ReadonlyArray<[string, string[], (v: string) => unknown]> = [
  ['PORT', ['server', 'port'], (v) => Number(v)],
  ['HOST', ['server', 'host'], (v) => v],
  ['PUBLIC_URL', ['server', 'publicUrl'], (v) => v],
  ['DATABASE_URL', ['database', 'url'], (v) => v],
  ['REDIS_URL', ['redis', 'url'], (v) => v],
  ['LOG_LEVEL', ['log', 'level'], (v) => v],
  ['GATEHOUSE_DATA_DIR', ['dataDir'], (v) => v],
];

/**
 * Reads `gatehouse.yaml` (path from GATEHOUSE_CONFIG, default `./gatehouse.yaml`), resolves
 * `${ENV}` references, applies environment overrides and validates the result.
 * Throws {@link ConfigError} naming every bad key with its line and a fix.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): LoadedConfig {
  const explicit = env.GATEHOUSE_CONFIG;
  const file = resolve(cwd, explicit ?? 'gatehouse.yaml');
  if (!existsSync(file)) {
    if (explicit) {
      throw new ConfigError(file, [
        {
          key: 'GATEHOUSE_CONFIG',
          message: `file ${file} does not exist`,
          fix: 'point GATEHOUSE_CONFIG at an existing YAML file, or unset it to use the defaults',
        },
      ]);
    }
    return finish({}, undefined, undefined, new Set(), env);
  }
  return parseConfigText(readFileSync(file, 'utf8'), env, file);
}

/** Parses and validates configuration text; `file` only labels messages. */
export function parseConfigText(text: string, env: NodeJS.ProcessEnv, file?: string): LoadedConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => {
        const pos = lines.linePos(e.pos[0]);
        return {
          key: '(yaml)',
          line: pos.line,
          column: pos.col,
          message: e.message.split('\n')[0] ?? 'YAML syntax error',
          fix: 'correct the YAML syntax (indentation, quotes, colons)',
        };
      }),
    );
  }
  const raw = (doc.toJS() ?? {}) as unknown;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(file, [
      { key: '(root)', line: 1, message: 'the file must be a mapping', fix: 'start with keys such as "upstreams:"' },
    ]);
  }
  const secretKeys = new Set<string>();
  const problems: ConfigProblem[] = [];
  const resolved = resolveEnvRefs(raw, [], env, secretKeys, (path, name) =>
    problems.push({
      key: path.join('.'),
      ...position(doc, lines, path),
      message: `references \${${name}} but that environment variable is not set`,
      fix: `export ${name} before starting the gateway, or remove the reference`,
    }),
  );
  if (problems.length > 0) throw new ConfigError(file, problems);
  return finish(resolved as Record<string, unknown>, file, { doc, lines }, secretKeys, env);
}

function finish(
  input: Record<string, unknown>,
  file: string | undefined,
  source: { doc: Document; lines: LineCounter } | undefined,
  secretKeys: Set<string>,
  env: NodeJS.ProcessEnv,
): LoadedConfig {
  for (const [name, path, convert] of ENV_OVERRIDES) {
    const value = env[name];
    if (value !== undefined && value !== '') setIn(input, path, convert(value));
  }
  const result = configSchema.safeParse(input);
  if (!result.success) {
    throw new ConfigError(
      file,
      result.error.issues.map((issue) => {
        const path = issue.path.map(String);
        const override = ENV_OVERRIDES.find(([, p]) => p.join('.') === path.join('.'));
        return {
          key: path.join('.') || '(root)',
          ...(source ? position(source.doc, source.lines, path) : {}),
          message: issue.message,
          fix: fixFor(issue, override?.[0]),
        };
      }),
    );
  }
  return { config: result.data, file, secretKeys };
}

function fixFor(issue: z.core.$ZodIssue, envName: string | undefined): string {
  const viaEnv = envName ? ` (or the ${envName} environment variable)` : '';
  switch (issue.code) {
    case 'unrecognized_keys':
      return `remove ${issue.keys.map((k) => `"${k}"`).join(', ')}; check the spelling against docs/configuration.md`;
    case 'invalid_type':
      return `set it to a ${issue.expected}${viaEnv}`;
    case 'invalid_value':
      return `use one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}${viaEnv}`;
    case 'invalid_union':
      return 'set "transport" to "stdio" (with "command") or "http" (with "url")';
    case 'too_small':
    case 'too_big':
      return `use a value within the allowed range${viaEnv}`;
    case 'invalid_format':
      return `use a valid ${issue.format}${viaEnv}`;
    default:
      return `correct the value${viaEnv}`;
  }
}

function position(doc: Document, lines: LineCounter, path: string[]): { line?: number; column?: number } {
  // Walk down as far as the file goes: a missing key is reported at its parent.
  for (let depth = path.length; depth >= 0; depth--) {
    const node = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true);
    if (node && typeof node === 'object' && 'range' in node) {
      const start = keyStart(doc, path.slice(0, depth)) ?? (node as Node).range?.[0];
      if (start === undefined) continue;
      const pos = lines.linePos(start);
      return { line: pos.line, column: pos.col };
    }
  }
  return {};
}

function keyStart(doc: Document, path: string[]): number | undefined {
  if (path.length === 0) return undefined;
  const parent = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1), true);
  const last = path[path.length - 1];
  if (isMap(parent)) {
    for (const pair of parent.items) {
      if (isScalar(pair.key) && String(pair.key.value) === last) return pair.key.range?.[0];
    }
  }
  if (isSeq(parent)) return (parent.items[Number(last)] as Node | undefined)?.range?.[0];
  return undefined;
}

function resolveEnvRefs(
  value: unknown,
  path: string[],
  env: NodeJS.ProcessEnv,
  secretKeys: Set<string>,
  missing: (path: string[], name: string) => void,
): unknown {
  if (typeof value === 'string') {
    if (!value.includes('${')) return value;
    secretKeys.add(path.join('.'));
    return value.replace(ENV_REF, (_m, name: string) => {
      const v = env[name];
      if (v === undefined) {
        missing(path, name);
        return '';
      }
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => resolveEnvRefs(v, [...path, String(i)], env, secretKeys, missing));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, resolveEnvRefs(v, [...path, k], env, secretKeys, missing)]),
    );
  }
  return value;
}

function setIn(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (!next || typeof next !== 'object') node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
}

/** The configuration with every `${ENV}`-derived value replaced, safe to log. */
export function redactedConfig(loaded: LoadedConfig): unknown {
  const walk = (value: unknown, path: string[]): unknown => {
    if (loaded.secretKeys.has(path.join('.'))) return '[redacted]';
    if (Array.isArray(value)) return value.map((v, i) => walk(v, [...path, String(i)]));
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, [...path, k])]));
    }
    return value;
  };
  return walk(loaded.config, []);
}
