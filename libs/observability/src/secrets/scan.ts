import { SECRET_KEY, SECRET_RULES, type SecretRule } from './rules';

/** Marker for a redacted value or span. */
export const REDACTED = '[redacted]';

/**
 * How much one value (an audit record's arguments, one log line) is scanned at most. Scanning is
 * synchronous on the event loop, so every bound is on work, not on time: a 10 MB argument costs
 * the same as a {@link RedactLimits.maxTotalScan}-sized one.
 */
export interface RedactLimits {
  /** Containers nested deeper are replaced by a marker (never stored unscanned). */
  maxDepth: number;
  /**
   * Characters of one string that are scanned and kept; the rest is cut off and marked. A string
   * up to this long that holds JSON is parsed and its values scanned like any other.
   */
  maxStringScan: number;
  /**
   * Characters scanned in the whole value (each container node counts {@link NODE_COST}); past
   * it, strings become a marker and remaining elements are dropped with a marker.
   */
  maxTotalScan: number;
}

/** Audit records: arguments, admin details. */
export const AUDIT_REDACT_LIMITS: Readonly<RedactLimits> = {
  maxDepth: 32,
  maxStringScan: 64 * 1024,
  maxTotalScan: 512 * 1024,
};

/** Log lines: smaller, since a line is written for many things and read by people. */
export const LOG_REDACT_LIMITS: Readonly<RedactLimits> = {
  maxDepth: 10,
  maxStringScan: 16 * 1024,
  maxTotalScan: 64 * 1024,
};

/** Scan budget a container element or key costs besides its text, so a huge array is bounded too. */
const NODE_COST = 32;

/**
 * How far past a cut the text is still scanned, so a secret that starts before the cut is found
 * whole (and hidden) rather than kept as an unrecognisable prefix.
 */
const CUT_OVERLAP = 4096;

/** Keys shorter than this cannot hold any rule's token shape, so are not run through the rules. */
const MIN_KEY_SCAN = 8;

function replacer(...args: unknown[]): string {
  const groups = args[args.length - 1];
  if (groups && typeof groups === 'object') {
    const g = groups as Record<string, string | undefined>;
    if (typeof g.secret === 'string') return `${g.pre ?? ''}${REDACTED}${g.post ?? ''}`;
  }
  return REDACTED;
}

/** `text` with every span a rule finds replaced by {@link REDACTED}; unbounded, see {@link redactBoundedText}. */
export function redactText(text: string, rules: readonly SecretRule[] = SECRET_RULES): string {
  const lower = text.toLowerCase();
  let out = text;
  for (const rule of rules) {
    if (!rule.keywords.some((k) => lower.includes(k))) continue;
    rule.pattern.lastIndex = 0;
    out = out.replace(rule.pattern, replacer);
  }
  return out;
}

/** The marker that ends a string cut off at the scan limit. */
export function truncatedMarker(dropped: number): string {
  return `…[truncated: ${dropped} more characters not scanned or stored]`;
}

/**
 * {@link redactText} on at most `max` characters of `text`; a longer text is cut there and
 * marked ({@link truncatedMarker}). The cost is bounded by `max`, whatever the length of `text`.
 */
export function redactBoundedText(text: string, max: number = AUDIT_REDACT_LIMITS.maxStringScan): string {
  if (text.length <= max) return redactText(text);
  return redactText(text.slice(0, max + CUT_OVERLAP)).slice(0, max) + truncatedMarker(text.length - max);
}

export interface RedactOptions {
  /**
   * Paths whose values are always redacted (`password`, `auth.token`, `items.*.secret`; `*` is any
   * key or index). Inside JSON held by a string, paths continue from the string's own path.
   */
  paths?: readonly string[];
  limits?: Readonly<RedactLimits>;
}

/**
 * A copy of `value` safe to store or log (R20): values under configured paths or secret-named keys
 * (whatever their type: a string, an array, a whole object), spans any rule finds in a string, and
 * the same inside JSON held by a string. Bounded by `limits`: what was not scanned is not kept but
 * replaced by a marker. The input is not changed. Non-plain objects (Errors, Dates, Buffers) are
 * returned as they are: their own serializers decide what they show.
 */
export function redactValue(value: unknown, options: RedactOptions = {}): unknown {
  return new Walk(
    options.limits ?? AUDIT_REDACT_LIMITS,
    (options.paths ?? []).map((p) => p.split('.')),
  ).value(value, [], 0);
}

class Walk {
  private left: number;
  /** Redactions and cuts so far, so a parsed embedded JSON is re-serialised only when it changed. */
  private hits = 0;

  constructor(
    private readonly limits: Readonly<RedactLimits>,
    private readonly rules: string[][],
  ) {
    this.left = limits.maxTotalScan;
  }

  value(value: unknown, path: string[], depth: number): unknown {
    if (this.rules.length > 0 && this.rules.some((r) => matches(r, path))) return this.hit(REDACTED);
    if (typeof value === 'string') return this.string(value, path, depth);
    if (value === null || typeof value !== 'object') return value;
    const array = Array.isArray(value);
    if (!array && !isPlain(value)) return value;
    if (depth >= this.limits.maxDepth) {
      return this.hit(`[not scanned: nested deeper than ${this.limits.maxDepth} levels]`);
    }
    return array
      ? this.array(value, path, depth)
      : this.object(value as Record<string, unknown>, path, depth);
  }

  private array(value: unknown[], path: string[], depth: number): unknown[] {
    const out: unknown[] = [];
    for (let i = 0; i < value.length; i++) {
      if (this.left <= 0) {
        out.push(this.hit(`[not scanned: ${value.length - i} more items over the scan budget]`));
        break;
      }
      this.left -= NODE_COST;
      out.push(this.value(value[i], this.rules.length > 0 ? [...path, String(i)] : path, depth + 1));
    }
    return out;
  }

  private object(value: Record<string, unknown>, path: string[], depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const keys = Object.keys(value);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      if (this.left <= 0) {
        out['[not scanned]'] = this.hit(`${keys.length - i} more keys over the scan budget`);
        break;
      }
      this.left -= NODE_COST + Math.min(key.length, this.limits.maxStringScan);
      const shown = key.length >= MIN_KEY_SCAN ? this.text(key) : key;
      out[shown] = SECRET_KEY.test(key)
        ? this.hit(REDACTED)
        : this.value(value[key], this.rules.length > 0 ? [...path, key] : path, depth + 1);
    }
    return out;
  }

  private string(value: string, path: string[], depth: number): string {
    if (this.left <= 0) return this.hit('[not scanned: over the scan budget]');
    const max = Math.min(this.limits.maxStringScan, this.left);
    this.left -= Math.min(value.length, max);
    if (value.length <= max && depth < this.limits.maxDepth) {
      const embedded = this.embedded(value, path, depth);
      if (embedded !== undefined) return embedded;
    }
    return this.text(value, max);
  }

  /** JSON held in a string, scanned as values; undefined when the string is not a JSON container. */
  private embedded(value: string, path: string[], depth: number): string | undefined {
    const first = /\S/.exec(value)?.[0];
    if (first !== '{' && first !== '[') return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      return undefined;
    }
    if (parsed === null || typeof parsed !== 'object') return undefined;
    const before = this.hits;
    const walked = this.value(parsed, path, depth + 1);
    return this.hits === before ? value : JSON.stringify(walked);
  }

  private text(value: string, max = this.limits.maxStringScan): string {
    const out = redactBoundedText(value, max);
    if (out !== value) this.hits++;
    return out;
  }

  private hit<T>(marker: T): T {
    this.hits++;
    return marker;
  }
}

function isPlain(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function matches(rule: string[], path: string[]): boolean {
  return rule.length === path.length && rule.every((part, i) => part === '*' || part === path[i]);
}
