import type { AuditEventView } from '../../query/audit-query.service';

/**
 * A security-relevant event the export relay sends to the SIEM at once instead of with the next
 * batch (issue 6 point 3): a bypass opened, a burst of denies, a rate-limit storm.
 */
export interface SecurityAlert {
  /** Deterministic per alert (the same alert re-sent has the same id, for de-duplication). */
  id: string;
  kind:
    | 'bypass_opened'
    | 'bypass_approved'
    | 'bypass_first_use'
    | 'bypass_uses_summary'
    | 'bypass_revoked'
    | 'bypass_expired'
    | 'deny_burst'
    | 'rate_limit_storm';
  occurredAt: string;
  /** CEF-style severity 0–10. */
  severity: number;
  message: string;
  subject?: string;
  server?: string;
  tool?: string;
  count?: number;
  windowSeconds?: number;
  /** The audit records behind the alert. */
  recordIds: string[];
  /** Bypass alerts: the grant. */
  grantId?: string;
  /** `bypass_uses_summary`: calls in the window by person, server and tool. */
  uses?: Array<{ subject: string; server: string | null; tool: string | null; count: number }>;
}

/** One thing a SIEM receives: an audit record (by its record id) or an alert. */
export type SiemEvent = { type: 'audit'; record: AuditEventView } | { type: 'alert'; alert: SecurityAlert };

/**
 * A SIEM destination (syslog TCP/TLS, Splunk HEC, HTTPS webhook). At-least-once: `send`
 * resolves only when the receiver has accepted every event, otherwise it throws and the caller
 * retries the whole batch (the record id lets the SIEM drop repeats).
 */
export interface SiemSink {
  /** The sink's name from configuration (`export.siem.<name>`), used in metrics and logs. */
  readonly name: string;
  /**
   * Rejects with a `SiemSinkError` (`./siem-sink-error`): `retryable` false means re-sending cannot
   * help (bad token, refused signature, bad options) and the batch should be dead-lettered at once.
   */
  send(events: readonly SiemEvent[]): Promise<void>;
  close(): Promise<void>;
}
