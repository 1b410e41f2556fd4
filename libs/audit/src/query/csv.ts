import type { AuditEventView } from './audit-query.service';

/** The CSV export's columns, in order. */
export const CSV_COLUMNS = [
  'occurred_at',
  'id',
  'kind',
  'call_id',
  'outcome',
  'principal_subject',
  'principal_name',
  'principal_email',
  'principal_groups',
  'client_name',
  'client_version',
  'client_ip',
  'session',
  'server',
  'tool',
  'method',
  'action',
  'decision',
  'matched_rules',
  'policy_version',
  'touched',
  'arguments',
  'error_code',
  'error_message',
  'gateway_us',
  'upstream_us',
  'response_bytes',
  'trace_id',
  'admin_action',
  'admin_target',
  'hash',
] as const;

/**
 * One RFC 4180 field: quoted when it holds a comma, quote, CR or LF (quotes doubled). A field a
 * spreadsheet would run as a formula (=, +, -, @, tab, CR first) gets a leading apostrophe, since
 * audit rows carry text that callers chose (arguments, error messages).
 */
export function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text =
    typeof value === 'string' ? value : Array.isArray(value) ? value.join(';') : JSON.stringify(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One CSV line (CRLF-terminated) of an event. */
export function csvLine(e: AuditEventView): string {
  const values: Record<(typeof CSV_COLUMNS)[number], unknown> = {
    occurred_at: e.occurredAt,
    id: e.id,
    kind: e.kind,
    call_id: e.callId,
    outcome: e.outcome,
    principal_subject: e.principal.subject,
    principal_name: e.principal.name,
    principal_email: e.principal.email,
    principal_groups: e.principal.groups,
    client_name: e.client.name,
    client_version: e.client.version,
    client_ip: e.client.ip,
    session: e.session,
    server: e.server,
    tool: e.tool,
    method: e.method,
    action: e.action,
    decision: e.decision,
    matched_rules: e.matchedRules,
    policy_version: e.policyVersion,
    touched: e.touched,
    arguments: e.arguments,
    error_code: e.errorCode,
    error_message: e.errorMessage,
    gateway_us: e.gatewayUs,
    upstream_us: e.upstreamUs,
    response_bytes: e.responseBytes,
    trace_id: e.traceId,
    admin_action: e.adminAction,
    admin_target: e.adminTarget,
    hash: e.hash,
  };
  return `${CSV_COLUMNS.map((c) => csvField(values[c])).join(',')}\r\n`;
}

export const CSV_HEADER = `${CSV_COLUMNS.join(',')}\r\n`;
