/** Marker for a redacted value in audit records. */
export const REDACTED = '[redacted]';

/** Argument names whose values are secrets whatever they look like. */
const SECRET_KEY =
  /(pass(word|phrase)?|secret|token|api[-_]?key|authori[sz]ation|cookie|credential|private[-_]?key|session[-_]?id)/i;

/** Values that look like credentials wherever they appear (R20). */
const SECRET_VALUE = [
  /^bearer\s+\S+/i,
  /^basic\s+[A-Za-z0-9+/=]{8,}$/i,
  /^eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*$/, // a JWT
  /^(sk|pk|rk)[-_](live|test)?[-_]?[A-Za-z0-9]{12,}$/, // Stripe-style and similar API keys
  /^gh[pousr]_[A-Za-z0-9]{20,}$/, // GitHub tokens
  /^xox[abprs]-[A-Za-z0-9-]{10,}$/, // Slack tokens
  /^AKIA[0-9A-Z]{16}$/, // AWS access key ids
  /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
  /\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^/\s@]+@/i, // URL with a password
];

/**
 * A copy of `args` safe to store (R20): values under configured paths (`password`, `auth.token`,
 * `items.*.secret`; `*` is any key or index), under secret-named keys, or that look like
 * credentials become `[redacted]`. The input is not changed.
 */
export function redactArguments(
  args: Record<string, unknown>,
  paths: readonly string[],
): Record<string, unknown> {
  const rules = paths.map((p) => p.split('.'));
  return walk(args, [], rules) as Record<string, unknown>;
}

function walk(value: unknown, path: string[], rules: string[][]): unknown {
  if (rules.some((r) => matches(r, path))) return REDACTED;
  if (typeof value === 'string') {
    if (SECRET_VALUE.some((re) => re.test(value.trim()))) return REDACTED;
    return value;
  }
  if (Array.isArray(value)) return value.map((v, i) => walk(v, [...path, String(i)], rules));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      out[k] =
        SECRET_KEY.test(k) && v !== null && typeof v !== 'object' ? REDACTED : walk(v, [...path, k], rules);
    }
    return out;
  }
  return value;
}

function matches(rule: string[], path: string[]): boolean {
  return rule.length === path.length && rule.every((part, i) => part === '*' || part === path[i]);
}
