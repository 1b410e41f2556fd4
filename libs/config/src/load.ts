import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  type Document,
  type ErrorCode,
  type Node,
} from 'yaml';
import type { z } from 'zod';
import { configSchema, SERVER_NAME, type GatehouseConfig } from './schema';
import { closest } from './suggest';

/** One problem in the configuration, pinned to the key and (when it came from the file) its line. */
export interface ConfigProblem {
  /** Dotted key path (`upstreams.github.url`), an environment variable name, or `(yaml)` / `(root)`. */
  key: string;
  line?: number;
  column?: number;
  message: string;
  fix: string;
}

/** Thrown when the configuration cannot be used; the message lists every problem with its fix. */
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

interface Override {
  env: string;
  path: string[];
  /** Converts the raw variable, or returns a problem when it cannot be converted at all. */
  convert: (v: string) => { value: unknown } | { problem: Omit<ConfigProblem, 'key'> };
}

/** Environment variables that override a file key, so containers can be configured without a file. */
const ENV_OVERRIDES: readonly Override[] = [
  {
    env: 'PORT',
    path: ['server', 'port'],
    // Number() would accept "0x50", "1e3" or " 80 "; a port is digits and nothing else.
    convert: (v) =>
      /^\d+$/.test(v)
        ? { value: Number(v) }
        : {
            problem: {
              message: `is not a whole number (${JSON.stringify(v)})`,
              fix: 'set PORT to a whole number from 0 to 65535, e.g. PORT=8080',
            },
          },
  },
  { env: 'HOST', path: ['server', 'host'], convert: (v) => ({ value: v }) },
  { env: 'PUBLIC_URL', path: ['server', 'publicUrl'], convert: (v) => ({ value: v }) },
  { env: 'DATABASE_URL', path: ['database', 'url'], convert: (v) => ({ value: v }) },
  { env: 'REDIS_URL', path: ['redis', 'url'], convert: (v) => ({ value: v }) },
  { env: 'LOG_LEVEL', path: ['log', 'level'], convert: (v) => ({ value: v }) },
  { env: 'GATEHOUSE_DATA_DIR', path: ['dataDir'], convert: (v) => ({ value: v }) },
  { env: 'OIDC_ISSUER', path: ['auth', 'issuer'], convert: (v) => ({ value: v }) },
  { env: 'OIDC_AUDIENCE', path: ['auth', 'audience'], convert: (v) => ({ value: v }) },
];

/**
 * Reads `gatehouse.yaml` (path from GATEHOUSE_CONFIG, default `./gatehouse.yaml`), resolves
 * `${ENV}` references, applies environment overrides and validates the result.
 * Throws {@link ConfigError} naming every bad key with its line and a fix.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): LoadedConfig {
  // An empty GATEHOUSE_CONFIG is treated as unset: `GATEHOUSE_CONFIG= node main.js` must not read the cwd.
  const explicit = env.GATEHOUSE_CONFIG || undefined;
  const file = resolve(cwd, explicit ?? 'gatehouse.yaml');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !explicit) return finish({}, undefined, undefined, new Set(), env);
    throw new ConfigError(file, [
      {
        key: explicit ? 'GATEHOUSE_CONFIG' : '(file)',
        message:
          code === 'ENOENT'
            ? `file ${file} does not exist`
            : code === 'EISDIR'
              ? `${file} is a directory, not a file`
              : `file ${file} cannot be read (${code ?? String(err)})`,
        fix: explicit
          ? 'point GATEHOUSE_CONFIG at a readable YAML file, or unset it to use ./gatehouse.yaml or the defaults'
          : 'make ./gatehouse.yaml a readable YAML file, or remove it to use the defaults',
      },
    ]);
  }
  return parseConfigText(text, env, file);
}

/** Parses and validates configuration text; `file` only labels messages. */
export function parseConfigText(text: string, env: NodeJS.ProcessEnv, file?: string): LoadedConfig {
  const lines = new LineCounter();
  // Merge keys (`<<: *defaults`) let several upstreams share timeouts and limits, as in compose files.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, merge: true });
  if (doc.errors.length > 0) {
    const seen = new Set<string>();
    const problems: ConfigProblem[] = [];
    for (const e of doc.errors) {
      const pos = lines.linePos(e.pos[0]);
      // One mistake often yields several parser errors at the same spot; the first says most.
      if (seen.has(`${pos.line}:${pos.col}`)) continue;
      seen.add(`${pos.line}:${pos.col}`);
      problems.push({
        key: '(yaml)',
        line: pos.line,
        column: pos.col,
        message: `YAML syntax error: ${e.message.split('\n')[0] ?? e.code}`,
        fix: yamlFix(e.code),
      });
    }
    throw new ConfigError(file, problems);
  }
  let raw: unknown;
  try {
    raw = doc.toJS() ?? {};
  } catch (err) {
    throw new ConfigError(file, [
      {
        key: '(yaml)',
        line: 1,
        message: `the YAML cannot be expanded: ${err instanceof Error ? err.message : String(err)}`,
        fix: 'use fewer aliases (*name); write the repeated values out or use one merge key per upstream',
      },
    ]);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(file, [
      {
        key: '(root)',
        line: 1,
        column: 1,
        message: 'the file must be a mapping of keys such as "server:" and "upstreams:"',
        fix: 'start with keys such as "upstreams:"; see gatehouse.example.yaml',
      },
    ]);
  }
  // Top-level `x-*` keys are ignored (as in compose files) so they can hold anchors for merge keys.
  const body = Object.fromEntries(Object.entries(raw).filter(([k]) => !k.startsWith('x-')));
  const secretKeys = new Set<string>();
  const problems: ConfigProblem[] = [];
  const resolved = resolveEnvRefs(body, [], env, secretKeys, (path, message, fix) =>
    problems.push({ key: path.join('.'), ...position(doc, lines, path), message, fix }),
  );
  if (problems.length > 0) throw new ConfigError(file, problems);
  return finish(resolved as Record<string, unknown>, file, { doc, lines }, secretKeys, env);
}

const YAML_FIXES: Partial<Record<ErrorCode, string>> = {
  DUPLICATE_KEY: 'each key may appear once per mapping; remove or rename the repeated key',
  TAB_AS_INDENT: 'indent with spaces, not tabs',
  MULTIPLE_DOCS: 'keep a single YAML document; remove the extra "---" separator',
  BAD_ALIAS: 'define the anchor (&name) before using the alias (*name)',
  BAD_INDENT: 'check the indentation here, and that every "[" or "{" opened above is closed',
  BLOCK_AS_IMPLICIT_KEY: 'align keys of one mapping at the same indentation, with spaces',
  MULTILINE_IMPLICIT_KEY: 'align keys of one mapping at the same indentation, with spaces',
  MISSING_CHAR: 'close the quote or bracket that is opened here',
};

function yamlFix(code: ErrorCode): string {
  return YAML_FIXES[code] ?? 'correct the YAML syntax at this position (indentation, quotes, colons)';
}

type Source = { doc: Document; lines: LineCounter } | undefined;

function finish(
  input: Record<string, unknown>,
  file: string | undefined,
  source: Source,
  secretKeys: Set<string>,
  env: NodeJS.ProcessEnv,
): LoadedConfig {
  const problems: ConfigProblem[] = [];
  const overridden = new Map<string, string>();
  for (const { env: name, path, convert } of ENV_OVERRIDES) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    const converted = convert(value);
    if ('problem' in converted) {
      problems.push({ key: name, ...converted.problem });
      continue;
    }
    setIn(input, path, converted.value);
    overridden.set(path.join('.'), name);
  }
  if (problems.length > 0) throw new ConfigError(file, problems);
  const result = configSchema.safeParse(input);
  if (!result.success) {
    throw new ConfigError(
      file,
      result.error.issues.flatMap((issue) => describe(issue, input, source, overridden, secretKeys)),
    );
  }
  const literal = literalSecrets(result.data, source, overridden, secretKeys);
  if (literal.length > 0) throw new ConfigError(file, literal);
  const authProblems = checkAuthMode(result.data, env, source, overridden);
  if (authProblems.length > 0) throw new ConfigError(file, authProblems);
  return { config: result.data, file, secretKeys };
}

/**
 * The development IdP and the unauthenticated mode exist for laptops and isolated tests; a
 * production process, or one given a real issuer, must never fall back to them.
 */
function checkAuthMode(
  config: GatehouseConfig,
  env: NodeJS.ProcessEnv,
  source: Source,
  overridden: ReadonlyMap<string, string>,
): ConfigProblem[] {
  const mode = authMode(config);
  const at = (p: string[]) =>
    source && !overridden.has(p.join('.')) ? position(source.doc, source.lines, p) : {};
  if (mode === 'oidc' && !config.auth.issuer) {
    return [
      {
        key: 'auth.issuer',
        ...at(['auth']),
        message: 'is required when auth.mode is oidc',
        fix: "set OIDC_ISSUER (or auth.issuer) to your IdP's issuer URL, e.g. https://login.example.com/realms/corp",
      },
    ];
  }
  if (mode !== 'oidc' && config.auth.issuer) {
    return [
      {
        key: 'auth.mode',
        ...at(['auth', 'mode']),
        message: `is "${mode}", but an issuer is configured (${overridden.get('auth.issuer') ?? 'auth.issuer'})`,
        fix: 'remove auth.mode (it defaults to oidc when an issuer is set) or unset the issuer',
      },
    ];
  }
  if (mode !== 'oidc' && env.NODE_ENV === 'production') {
    return [
      {
        key: 'auth.mode',
        ...at(['auth', 'mode']),
        message: `"${mode}" ${mode === 'dev' ? '(the embedded development IdP)' : '(no authentication)'} is refused when NODE_ENV=production`,
        fix: "set OIDC_ISSUER (or auth.issuer) to your organisation's IdP",
      },
    ];
  }
  return [];
}

/** `auth.mode` as it applies: `oidc` when an issuer is set, otherwise the development IdP. */
export function authMode(config: GatehouseConfig): 'oidc' | 'dev' | 'none' {
  return config.auth.mode ?? (config.auth.issuer ? 'oidc' : 'dev');
}

/** Turns one zod issue into problems that name the key, its line and a concrete fix. */
function describe(
  issue: z.core.$ZodIssue,
  input: unknown,
  source: Source,
  overridden: ReadonlyMap<string, string>,
  secretKeys: ReadonlySet<string>,
): ConfigProblem[] {
  const path = issue.path.map(String);
  const at = (p: string[]) => (source ? position(source.doc, source.lines, p) : {});

  if (issue.code === 'unrecognized_keys') {
    const known = knownKeys(path, input);
    return issue.keys.map((k) => {
      const near = closest(k, known);
      return {
        key: [...path, k].join('.'),
        ...at([...path, k]),
        message: `unknown key "${k}"`,
        fix: near
          ? `did you mean "${near}"? Otherwise remove "${k}" (allowed here: ${known.join(', ')})`
          : `remove "${k}"; allowed here: ${known.join(', ')} (docs/configuration.md)`,
      };
    });
  }

  if (issue.code === 'invalid_key' && path[0] === 'upstreams' && path.length === 2) {
    const name = path[1] ?? '';
    const suggestion = serverNameFor(name);
    return [
      {
        key: path.join('.'),
        ...at(path),
        message: `"${name}" is not a valid server name: ${issue.issues[0]?.message ?? 'invalid'}`,
        fix: `rename it${suggestion ? ` to "${suggestion}"` : ''}: start with a letter, then a-z, 0-9 and "-", at most 64 characters (names prefix tools as <server>__<tool>, so "_" is reserved)`,
      },
    ];
  }

  const value = getIn(input, path);
  const { message, want } = explain(issue, path, value, secretKeys.has(path.join('.')));
  const envName = overridden.get(path.join('.'));
  if (envName) {
    return [
      {
        key: envName,
        message: `sets ${path.join('.')}, but ${message}`,
        fix: `set ${envName} to ${want}, or unset it`,
      },
    ];
  }
  const fix =
    value === undefined && issue.code === 'invalid_type'
      ? `add "${path[path.length - 1] ?? ''}: ${exampleFor(path, issue.expected)}"${path.length > 1 ? ` under ${path.slice(0, -1).join('.')}` : ''}`
      : issue.code === 'invalid_type' &&
          issue.expected === 'string' &&
          (typeof value === 'number' || typeof value === 'boolean')
        ? `quote the value so YAML reads it as text: "${String(value)}"`
        : `set it to ${want}`;
  return [{ key: path.join('.') || '(root)', ...at(path), message, fix }];
}

/** A sentence fragment saying what is wrong, and a noun phrase saying what would be right. */
function explain(
  issue: z.core.$ZodIssue,
  path: string[],
  value: unknown,
  secret: boolean,
): { message: string; want: string } {
  // Values from ${ENV} are never echoed; URL passwords are masked even in literal values.
  const shown = secret
    ? 'the value'
    : JSON.stringify(typeof value === 'string' ? maskPassword(value) : value);
  switch (issue.code) {
    case 'invalid_type': {
      const want = yamlType(issue.expected);
      if (value === undefined) return { message: `is required but missing`, want };
      return { message: `must be ${want}, but is ${describeValue(value)}`, want };
    }
    case 'invalid_value': {
      const want = `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
      return { message: `${shown} is not allowed; it must be ${want}`, want };
    }
    case 'invalid_union': {
      // The only union in the schema is the upstream's, discriminated by `transport`.
      const want = '"stdio" (with "command") or "http" (with "url")';
      return {
        message: `${value === undefined ? 'is required but missing' : `${shown} is not a known transport`}; it must be ${want}`,
        want,
      };
    }
    case 'too_small': {
      const want = `a ${issue.origin === 'string' ? 'text of length' : 'number'} ${issue.inclusive ? '≥' : '>'} ${String(issue.minimum)}`;
      return { message: `${shown} is too small; it must be ${want}`, want };
    }
    case 'too_big': {
      const want = `a ${issue.origin === 'string' ? 'text of length' : 'number'} ${issue.inclusive ? '≤' : '<'} ${String(issue.maximum)}`;
      return { message: `${shown} is too large; it must be ${want}`, want };
    }
    case 'invalid_format': {
      if (issue.format === 'url') {
        const kind = urlKind(path);
        return { message: `${shown} is not ${kind}`, want: `${kind} such as ${exampleFor(path, 'url')}` };
      }
      const want = `a value matching ${issue.pattern ?? issue.format}`;
      return { message: `${shown} ${issue.message.toLowerCase()}`, want };
    }
    case 'not_multiple_of':
      return { message: `${shown} ${issue.message.toLowerCase()}`, want: `a multiple of ${issue.divisor}` };
    case 'unrecognized_keys':
    case 'invalid_key':
    case 'invalid_element':
    case 'custom':
      return { message: issue.message, want: 'a valid value (see docs/configuration.md)' };
  }
}

/** What a YAML author would call the expected type, as a noun phrase. */
function yamlType(expected: string): string {
  switch (expected) {
    case 'object':
    case 'record':
      return 'a mapping (key: value lines)';
    case 'array':
      return 'a list';
    case 'int':
      return 'a whole number';
    case 'number':
      return 'a number';
    case 'string':
      return 'text';
    case 'boolean':
      return 'true or false';
    default:
      return `${article(expected)} ${expected}`;
  }
}

function article(noun: string): string {
  return /^[aeiou]/.test(noun) ? 'an' : 'a';
}

function describeValue(value: unknown): string {
  if (value === null) return 'empty';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return 'text';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number' && Number.isNaN(value)) return 'not a number';
  return `${article(typeof value)} ${typeof value}`;
}

function urlKind(path: string[]): string {
  switch (path.join('.')) {
    case 'database.url':
      return 'a postgres:// or postgresql:// URL';
    case 'redis.url':
      return 'a redis:// or rediss:// URL';
    default:
      return 'an absolute http:// or https:// URL';
  }
}

function exampleFor(path: string[], expected: string): string {
  const last = path[path.length - 1];
  if (path.join('.') === 'database.url') return 'postgres://gatehouse@db.internal:5432/gatehouse';
  if (path.join('.') === 'redis.url') return 'redis://cache.internal:6379/0';
  if (last === 'command') return 'npx';
  if (last === 'url' && path[0] === 'upstreams') return 'https://mcp.example.com/mcp';
  if (last === 'publicUrl') return 'https://gatehouse.example.com';
  if (last === 'transport') return 'stdio';
  if (expected === 'url') return 'https://mcp.example.com/mcp';
  return `<${expected === 'string' ? 'text' : expected}>`;
}

/** The keys the schema accepts at `path`, used to suggest the intended spelling of an unknown key. */
function knownKeys(path: string[], input: unknown): string[] {
  let schema: z.core.$ZodType | undefined = configSchema;
  let value = input;
  for (let i = 0; ;) {
    schema = unwrap(schema);
    if (!schema) return [];
    const def = schema._zod.def as z.core.$ZodTypeDef & Record<string, unknown>;
    if (def.type === 'union' && typeof def.discriminator === 'string') {
      const tag = (value as Record<string, unknown> | undefined)?.[def.discriminator];
      const options = def.options as z.core.$ZodType[];
      schema = options.find((o) => {
        const shape = (unwrap(o)?._zod.def as { shape?: Record<string, z.core.$ZodType> }).shape;
        const literal = shape?.[def.discriminator as string]?._zod.def as { values?: unknown[] } | undefined;
        return literal?.values?.includes(tag);
      });
      continue;
    }
    if (i === path.length) {
      return def.type === 'object' ? Object.keys(def.shape as Record<string, unknown>) : [];
    }
    const key = path[i++] as string;
    value = (value as Record<string, unknown> | undefined)?.[key];
    if (def.type === 'object') schema = (def.shape as Record<string, z.core.$ZodType>)[key];
    else if (def.type === 'record') schema = def.valueType as z.core.$ZodType;
    else return [];
  }
}

function unwrap(schema: z.core.$ZodType | undefined): z.core.$ZodType | undefined {
  let s = schema;
  while (s) {
    const def = s._zod.def as { type: string; innerType?: z.core.$ZodType };
    if (!['default', 'prefault', 'optional', 'nullable'].includes(def.type) || !def.innerType) return s;
    s = def.innerType;
  }
  return s;
}

/** A valid server name close to `name`, e.g. `my_server` -> `my-server`, `A` -> `a`. */
function serverNameFor(name: string): string | undefined {
  const candidate = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[-0-9]+|-+$/g, '')
    .slice(0, 64)
    .replace(/-+$/, '');
  return SERVER_NAME.test(candidate) ? candidate : undefined;
}

const SECRET_HEADER = /^(authorization|proxy-authorization|cookie)$|token|secret|password|api-?key/i;
const SECRET_ENV = /TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|PRIVATE_KEY|ACCESS_KEY|CREDENTIALS?$/i;

/**
 * Secrets may enter only as `${ENV}` references, so they never sit in a file that is committed,
 * copied or logged. A secret-looking header or env value, or a URL with a password, written
 * literally in the file is refused.
 */
function literalSecrets(
  config: GatehouseConfig,
  source: Source,
  overridden: ReadonlyMap<string, string>,
  secretKeys: ReadonlySet<string>,
): ConfigProblem[] {
  if (!source) return [];
  const problems: ConfigProblem[] = [];
  const check = (path: string[], what: string) => {
    const key = path.join('.');
    if (secretKeys.has(key) || overridden.has(key)) return;
    problems.push({
      key,
      ...position(source.doc, source.lines, path),
      message: `${what} is written literally in the file`,
      fix: `move the secret into an environment variable and write \${NAME} here, e.g. "\${${envNameFor(path)}}"`,
    });
  };
  const checkUrl = (path: string[], url: string | undefined) => {
    if (url && hasPassword(url)) check(path, 'a URL with a password');
  };
  checkUrl(['database', 'url'], config.database.url);
  checkUrl(['redis', 'url'], config.redis.url);
  if (config.auth.introspection) check(['auth', 'introspection', 'clientSecret'], 'a client secret');
  if (config.auth.console.clientSecret) check(['auth', 'console', 'clientSecret'], 'a client secret');
  for (const [name, upstream] of Object.entries(config.upstreams)) {
    if (upstream.transport === 'http') {
      checkUrl(['upstreams', name, 'url'], upstream.url);
      for (const header of Object.keys(upstream.headers)) {
        if (SECRET_HEADER.test(header)) check(['upstreams', name, 'headers', header], `the ${header} header`);
      }
    } else {
      for (const variable of Object.keys(upstream.env)) {
        if (SECRET_ENV.test(variable)) check(['upstreams', name, 'env', variable], `the secret ${variable}`);
      }
    }
  }
  return problems;
}

function envNameFor(path: string[]): string {
  return path
    .filter((p) => p !== 'upstreams' && p !== 'headers' && p !== 'env')
    .join('_')
    .toUpperCase()
    .replace(/[^A-Z0-9_]+/g, '_');
}

const SECRET_PARAM = /pass|secret|token|key/i;

/** True when a URL carries a credential: a password, or a query parameter such as `?password=`. */
function hasPassword(url: string): boolean {
  try {
    const parsed = new URL(url);
    return parsed.password !== '' || [...parsed.searchParams.keys()].some((k) => SECRET_PARAM.test(k));
  } catch {
    return false;
  }
}

function position(doc: Document, lines: LineCounter, path: string[]): { line?: number; column?: number } {
  // Walk up until the path exists in the file: a missing key is reported at its parent.
  for (let depth = path.length; depth >= 0; depth--) {
    const prefix = path.slice(0, depth);
    const start = depth === 0 ? doc.contents?.range?.[0] : (keyStart(doc, prefix) ?? nodeAt(doc, prefix));
    if (start === undefined) continue;
    const pos = lines.linePos(start);
    return { line: pos.line, column: pos.col };
  }
  return {};
}

function nodeAt(doc: Document, path: string[]): number | undefined {
  const node = doc.getIn(path, true);
  return node && typeof node === 'object' && 'range' in node ? (node as Node).range?.[0] : undefined;
}

/** Where the key (not its value) of the last path element starts, so the line is the key's own line. */
function keyStart(doc: Document, path: string[]): number | undefined {
  const parent = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1), true);
  const last = path[path.length - 1];
  if (isMap(parent)) {
    for (const pair of parent.items) {
      if (isScalar(pair.key) && String(pair.key.value) === last) return pair.key.range?.[0];
    }
    return undefined;
  }
  if (isSeq(parent)) return (parent.items[Number(last)] as Node | undefined)?.range?.[0];
  return undefined;
}

function resolveEnvRefs(
  value: unknown,
  path: string[],
  env: NodeJS.ProcessEnv,
  secretKeys: Set<string>,
  report: (path: string[], message: string, fix: string) => void,
): unknown {
  if (typeof value === 'string') {
    if (!value.includes('${')) return value;
    secretKeys.add(path.join('.'));
    const resolved = value.replace(ENV_REF, (_m, name: string) => {
      const v = env[name];
      if (v === undefined || v === '') {
        report(
          path,
          `references \${${name}} but that environment variable is ${v === undefined ? 'not set' : 'empty'}`,
          `export ${name} before starting the gateway, or remove the reference`,
        );
        return '';
      }
      return v;
    });
    if (value.replace(ENV_REF, '').includes('${')) {
      report(
        path,
        'contains a malformed ${...} reference',
        'write references as ${NAME} with letters, digits and "_" only, and close the brace',
      );
    }
    return resolved;
  }
  if (Array.isArray(value)) {
    return value.map((v, i) => resolveEnvRefs(v, [...path, String(i)], env, secretKeys, report));
  }
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        // `key:` with nothing after it means "not set", so the default applies or "missing" is reported.
        .filter(([, v]) => v !== null)
        .map(([k, v]) => [k, resolveEnvRefs(v, [...path, k], env, secretKeys, report)]),
    );
  }
  return value;
}

function getIn(value: unknown, path: string[]): unknown {
  let node = value;
  for (const key of path) {
    if (!node || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
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

/**
 * The configuration with every `${ENV}`-derived value replaced by `[redacted]`, and the password
 * of any URL masked (DATABASE_URL and REDIS_URL often carry one), safe to log.
 */
export function redactedConfig(loaded: LoadedConfig): unknown {
  const walk = (value: unknown, path: string[]): unknown => {
    if (loaded.secretKeys.has(path.join('.'))) return '[redacted]';
    if (typeof value === 'string') return maskPassword(value);
    if (Array.isArray(value)) return value.map((v, i) => walk(v, [...path, String(i)]));
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, [...path, k])]));
    }
    return value;
  };
  return walk(loaded.config, []);
}

function maskPassword(value: string): string {
  if (!value.includes(':') || !hasPassword(value)) return value;
  const url = new URL(value);
  if (url.password) url.password = 'redacted';
  for (const k of [...url.searchParams.keys()]) if (SECRET_PARAM.test(k)) url.searchParams.set(k, 'redacted');
  return url.toString();
}
