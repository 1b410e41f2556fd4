import type { AuditEventView } from '../../query/audit-query.service';
import type { SecurityAlert, SiemEvent } from './types';

/** The fixed part of every CEF header Gatehouse writes. */
export interface CefOptions {
  /** `Device Version` in the header; defaults to `1`. */
  productVersion?: string;
}

export const CEF_VENDOR = 'Gatehouse';
export const CEF_PRODUCT = 'MCP Gateway';

/**
 * Escapes a CEF header field: `\` and `|` get a backslash (ArcSight CEF spec). Header fields cannot
 * hold line breaks at all, so they become spaces.
 */
export function escapeCefHeader(value: string): string {
  return value.replace(/[\\|]/g, (c) => `\\${c}`).replace(/\r\n|[\r\n]/g, ' ');
}

/**
 * Escapes a CEF extension value: `\` and `=` get a backslash, line breaks become the two-character
 * sequences `\n` and `\r` (ArcSight CEF spec). `|` needs no escape after the header.
 */
export function escapeCefExtension(value: string): string {
  return value.replace(/[\\=\r\n]/g, (c) => (c === '\n' ? '\\n' : c === '\r' ? '\\r' : `\\${c}`));
}

/** Severity 0–10 of an audit record in CEF: refusals and bypasses above plain traffic. */
export function cefRecordSeverity(record: AuditEventView): number {
  if (record.kind === 'admin') return 5;
  switch (record.outcome) {
    case 'bypassed':
    case 'denied':
    case 'policy_error':
      return 7;
    case 'rate_limited':
    case 'shadow_denied':
    case 'error':
    case 'aborted':
      return 5;
    default:
      return 3;
  }
}

type Extension = Array<[string, string | number | null | undefined]>;

/** ArcSight's documented lengths: `msg` 1023 characters, custom strings 4000; longer values end in `…`. */
function capped(key: string, value: string): string {
  const max = key === 'msg' ? 1023 : 4000;
  const chars = Array.from(value);
  return chars.length <= max ? value : `${chars.slice(0, max - 1).join('')}…`;
}

function extension(pairs: Extension): string {
  return pairs
    .filter((p): p is [string, string | number] => p[1] !== null && p[1] !== undefined && p[1] !== '')
    .map(([k, v]) => `${k}=${escapeCefExtension(capped(k, String(v)))}`)
    .join(' ');
}

function header(signatureId: string, name: string, severity: number, options: CefOptions): string {
  return [
    'CEF:0',
    CEF_VENDOR,
    CEF_PRODUCT,
    options.productVersion ?? '1',
    signatureId,
    name,
    String(Math.max(0, Math.min(10, Math.round(severity)))),
  ]
    .map((f, i) => (i === 0 ? f : escapeCefHeader(f)))
    .join('|');
}

/** A custom field (`cs1`…`cs6`, `cn1`…`cn3`) with its label, or nothing when it has no value. */
function labelled(key: string, label: string, value: string | number | null | undefined): Extension {
  return value === null || value === undefined || value === ''
    ? []
    : [
        [`${key}Label`, label],
        [key, value],
      ];
}

const epochMs = (iso: string): number => Date.parse(iso);

function recordCef(r: AuditEventView, options: CefOptions): string {
  const what = r.kind === 'admin' ? (r.adminAction ?? r.method) : r.method;
  return `${header(`audit:${r.kind}:${r.outcome}`, `${what} ${r.outcome}`, cefRecordSeverity(r), options)}|${extension(
    [
      ['rt', epochMs(r.occurredAt)],
      ['externalId', r.id],
      ['suser', r.principal.subject],
      ['src', r.client.ip],
      ['sproc', r.client.name],
      ['act', what],
      ['outcome', r.outcome],
      ...labelled('cs1', 'server', r.server),
      ...labelled('cs2', 'tool', r.tool),
      ...labelled('cs3', 'decision', r.decision),
      ...labelled('cs4', 'callId', r.callId),
      ...labelled('cs5', 'kind', r.kind),
      ...labelled('cs6', 'touched', r.touched.join(',')),
      ...labelled('cn1', 'errorCode', r.errorCode),
      ['msg', r.errorMessage ?? r.adminTarget],
    ],
  )}`;
}

function alertCef(a: SecurityAlert, options: CefOptions): string {
  return `${header(`alert:${a.kind}`, a.message, a.severity, options)}|${extension([
    ['rt', epochMs(a.occurredAt)],
    ['externalId', a.id],
    ['suser', a.subject],
    ['act', a.kind],
    ...labelled('cs1', 'server', a.server),
    ...labelled('cs2', 'tool', a.tool),
    ...labelled('cs5', 'kind', 'alert'),
    ...labelled('cs6', 'recordIds', a.recordIds.join(',')),
    ['cnt', a.count],
    ...labelled('cn2', 'windowSeconds', a.windowSeconds),
    ['msg', a.message],
  ])}`;
}

/**
 * One event as an ArcSight CEF:0 line (no trailing newline). `externalId` is the record or alert
 * id, for de-duplication; the field mapping is in docs/siem.md.
 */
export function formatCef(event: SiemEvent, options: CefOptions = {}): string {
  return event.type === 'audit' ? recordCef(event.record, options) : alertCef(event.alert, options);
}
