import { AUDIT_REDACT_LIMITS, REDACTED, redactBoundedText, redactValue } from '@gatehouse/observability';

/** Marker for a redacted value in audit records. */
export { REDACTED };

/**
 * A copy of `args` safe to store (R20): values under configured paths (`password`, `auth.token`,
 * `items.*.secret`; `*` is any key or index), under secret-named keys whatever their type, and
 * every span of a string the secret rules find (token shapes, `password=…`, URL passwords, SQL
 * `PASSWORD '…'`), also inside JSON held by a string. Bounded by {@link AUDIT_REDACT_LIMITS}:
 * what is past a bound is replaced by a marker, never stored unscanned. The input is not changed.
 */
export function redactArguments(
  args: Record<string, unknown>,
  paths: readonly string[],
): Record<string, unknown> {
  return redactValue(args, { paths, limits: AUDIT_REDACT_LIMITS }) as Record<string, unknown>;
}

/**
 * A text from a client or an upstream (a resource URI, an error message, a touched resource)
 * made safe to store: every span the secret rules find is redacted, and a text longer than the
 * scan limit is cut and marked.
 */
export function redactStoredText(text: string): string {
  return redactBoundedText(text, AUDIT_REDACT_LIMITS.maxStringScan);
}
