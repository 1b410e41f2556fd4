import { Environment } from '@marcbachmann/cel-js';
import type { Principal } from '@gatehouse/auth';

/** The variables a `conditions.when` expression may use. */
export const CEL_VARIABLES = ['args', 'principal', 'server', 'tool', 'now'] as const;

// Mixed-type list and map literals (`["a", 1]`) are allowed, as they are in JSON arguments.
const env = new Environment({ homogeneousAggregateLiterals: false })
  .registerVariable('args', 'map')
  .registerVariable('principal', 'map')
  .registerVariable('server', 'string')
  .registerVariable('tool', 'string')
  .registerVariable('now', 'google.protobuf.Timestamp')
  .registerFunction('normPath(string): string', normPath);

/**
 * `normPath(p)` in CEL: the absolute POSIX path `p` names, with `.` and `..` segments resolved and
 * repeated or trailing slashes removed, so `normPath(p).startsWith("/public/")` cannot be beaten
 * by `/public/../secret`. It is lexical (a symlink on the upstream's disk is not followed) and
 * throws, so the condition fails and the call is denied (R10), on a path it cannot judge: relative
 * (resolved against a working directory the gateway does not know), or holding a NUL or a
 * backslash (a separator on some upstreams).
 */
export function normPath(path: string): string {
  if (path.includes('\0')) throw new Error('normPath: the path contains a NUL character');
  if (path.includes('\\'))
    throw new Error(`normPath: the path contains a backslash: ${JSON.stringify(path)}`);
  if (!path.startsWith('/')) throw new Error(`normPath: the path is not absolute: ${JSON.stringify(path)}`);
  const out: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') out.pop();
    else out.push(segment);
  }
  return `/${out.join('/')}`;
}

/**
 * Parses and type-checks an expression; returns the problem (unknown variable, syntax, types,
 * a result that cannot be a boolean) or undefined. The message's first line is the CEL error.
 */
export function checkCondition(expression: string): string | undefined {
  let result: ReturnType<typeof env.check>;
  try {
    result = env.check(expression);
  } catch (err) {
    return describe(err);
  }
  if (!result.valid) return describe(result.error);
  if (result.type !== 'bool' && result.type !== 'dyn') {
    return `the expression yields ${String(result.type)}, but a condition must yield a bool`;
  }
  return undefined;
}

function describe(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  // The library appends a source excerpt with a caret; the file position is reported separately.
  return message.split('\n')[0] ?? message;
}

/** The values a condition sees for one call. */
export interface ConditionContext {
  args: Record<string, unknown>;
  principal: Principal;
  server: string;
  tool: string;
  now: Date;
}

/** A compiled condition: true or false, or throws (unknown key, wrong type, non-boolean result). */
export type Condition = (ctx: ConditionContext) => boolean;

/** Compiles a checked expression once; evaluation converts the call's values to CEL's types. */
export function compileCondition(expression: string): Condition {
  const program = env.parse(expression);
  return (ctx) => {
    const value: unknown = program({
      args: toCel(ctx.args),
      principal: principalMap(ctx.principal),
      server: ctx.server,
      tool: ctx.tool,
      now: ctx.now,
    });
    if (typeof value !== 'boolean') throw new Error(`the condition yielded ${typeof value}, not a bool`);
    return value;
  };
}

/**
 * `principal` as CEL sees it: absent optional strings are '' so `principal.email.endsWith(...)`
 * is false for a token without an email rather than an evaluation error.
 */
function principalMap(p: Principal): Record<string, unknown> {
  return {
    subject: p.subject,
    name: p.name ?? '',
    email: p.email ?? '',
    groups: p.groups,
    roles: p.roles,
    kind: p.kind,
    clientId: p.clientId ?? '',
  };
}

/**
 * JSON arguments to CEL values: whole numbers become `int` (so `args.limit * 2` and
 * `args.limit == 10` behave as written), other numbers stay `double`.
 */
function toCel(value: unknown): Record<string, unknown> {
  return convert(value) as Record<string, unknown>;
}

function convert(value: unknown): unknown {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? BigInt(value) : value;
  if (Array.isArray(value)) return value.map(convert);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = convert(v);
    return out;
  }
  return value;
}
