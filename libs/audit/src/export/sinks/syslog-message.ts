import { formatCef, type CefOptions } from './cef';
import { eventId, eventJson, eventTime } from './event-json';
import type { SiemEvent } from './types';

/**
 * Placeholder private enterprise number for the structured-data id `gatehouse@<PEN>`: 32473 is the
 * number IANA reserves for documentation and examples (RFC 5612). An organisation that owns a PEN
 * sets `enterpriseNumber` to it.
 */
export const EXAMPLE_ENTERPRISE_NUMBER = 32473;

/** RFC 5424 §6.2.1 facility codes by name. */
export const SYSLOG_FACILITIES = {
  kern: 0,
  user: 1,
  mail: 2,
  daemon: 3,
  auth: 4,
  syslog: 5,
  lpr: 6,
  news: 7,
  uucp: 8,
  cron: 9,
  authpriv: 10,
  ftp: 11,
  ntp: 12,
  audit: 13,
  alert: 14,
  clock: 15,
  local0: 16,
  local1: 17,
  local2: 18,
  local3: 19,
  local4: 20,
  local5: 21,
  local6: 22,
  local7: 23,
} as const;

export type SyslogFacility = keyof typeof SYSLOG_FACILITIES;

/** How each message looks. */
export interface SyslogMessageOptions extends CefOptions {
  /** Payload after the header: ArcSight CEF or the event as JSON. */
  format: 'cef' | 'json';
  /** Default `authpriv` (10): audit of access decisions is security/authorization data. */
  facility?: SyslogFacility;
  /** HOSTNAME field; defaults to the machine's host name. */
  hostname: string;
  /** APP-NAME field; default `gatehouse`. */
  appName?: string;
  /** PROCID field; default `-`. */
  procId?: string;
  /** Default {@link EXAMPLE_ENTERPRISE_NUMBER}. */
  enterpriseNumber?: number;
  /**
   * Largest message to send, in bytes; default 8192 (rsyslog's default `maxMessageSize`; raise
   * both together). A JSON record over it is sent with its `arguments` replaced by
   * `{ truncated: true, bytes }`: a receiver that truncates on its own would cut the JSON (and
   * maybe the id) in half, while the full record stays in the trail and in S3.
   */
  maxMessageBytes?: number;
}

/** The JSON payload, with the arguments left out when the message would exceed its budget. */
function jsonPayload(event: SiemEvent, budget: number): string {
  const full = JSON.stringify(eventJson(event));
  if (event.type !== 'audit' || Buffer.byteLength(full, 'utf8') <= budget) return full;
  const bytes = Buffer.byteLength(JSON.stringify(event.record.arguments ?? null), 'utf8');
  return JSON.stringify({ ...eventJson(event), arguments: { truncated: true, bytes } });
}

/**
 * Syslog severity (RFC 5424 §6.2.1, lower is more severe): alerts above refusals above plain
 * traffic, so a receiver can route by severity alone.
 */
export function syslogSeverity(event: SiemEvent): number {
  if (event.type === 'alert') return event.alert.severity >= 8 ? 2 : 3;
  const r = event.record;
  if (r.kind === 'admin') return 5;
  switch (r.outcome) {
    case 'bypassed':
    case 'denied':
    case 'policy_error':
      return 4;
    case 'rate_limited':
    case 'shadow_denied':
    case 'error':
    case 'aborted':
      return 5;
    default:
      return 6;
  }
}

/** RFC 5424 §6.3.3: inside a PARAM-VALUE, `"`, `\` and `]` are escaped with a backslash. */
export function escapeSdValue(value: string): string {
  return value.replace(/["\\\]]/g, (c) => `\\${c}`);
}

/** A header field is printable US-ASCII without spaces (§6), at most `max` characters; `-` when empty. */
function headerField(value: string | undefined, max: number): string {
  const clean = (value ?? '').replace(/[^\x21-\x7e]/g, '').slice(0, max);
  return clean === '' ? '-' : clean;
}

/** One event as an RFC 5424 message (no framing). The structured data carries the record id. */
export function formatSyslog(event: SiemEvent, options: SyslogMessageOptions): string {
  const facility = SYSLOG_FACILITIES[options.facility ?? 'authpriv'];
  const pri = facility * 8 + syslogSeverity(event);
  const pen = options.enterpriseNumber ?? EXAMPLE_ENTERPRISE_NUMBER;
  const msgId = event.type === 'audit' ? 'audit' : 'alert';
  const sd = `[gatehouse@${pen} id="${escapeSdValue(eventId(event))}" type="${msgId}"]`;
  const header = [
    `<${pri}>1`,
    headerField(eventTime(event), 32),
    headerField(options.hostname, 255),
    headerField(options.appName ?? 'gatehouse', 48),
    headerField(options.procId, 128),
    msgId,
    sd,
  ].join(' ');
  const budget = (options.maxMessageBytes ?? 8192) - Buffer.byteLength(header, 'utf8') - 1;
  const payload = options.format === 'cef' ? formatCef(event, options) : jsonPayload(event, budget);
  return `${header} ${payload}`;
}

/** RFC 6587 §3.4.1 octet counting: `<length in bytes> <message>`, so a message may hold any byte. */
export function frameOctetCounted(message: string): Buffer {
  const body = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `, 'ascii'), body]);
}
