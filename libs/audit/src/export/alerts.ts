import type { BatchDelivery } from './delivery';
import type { BatchRef } from './keys';
import type { Query } from './outbox';
import type { SecurityAlert, SiemSink } from './sinks/types';

/** The outbox sink of the alert detector. */
export const ALERTS_SINK = 'alerts';

/** `bypass/grants/<id>`, the admin target of an opened grant. */
const GRANT_TARGET = /^bypass\/grants\/([0-9a-f-]{36})$/;

/** Thresholds of `export.alerts`. */
export interface AlertRules {
  /** Denied calls by one principal within the window that make a burst. */
  denyBurst: number;
  /** Rate-limited calls (all principals) within the window that make a storm. */
  rateLimitStorm: number;
  windowSeconds: number;
}

/**
 * Detects security-relevant records among newly written ones and sends a {@link SecurityAlert}
 * to every SIEM at once (issue 6 point 3, R51): a bypass opened (the `ok` admin record of
 * `bypass.open`), a burst of denies by one principal, a rate-limit storm. A grant's later alerts
 * (approval, first use, summaries of uses, revocation, expiry) and everything the pager gets come
 * from the bypass alerter (`BypassAlerts` in libs/bypass), which needs a clock and a claim per alert
 * that a batch of records cannot give.
 * It reads the outbox like any sink (its own cursor, its own queue, cut without waiting), so alerts
 * never wait behind record batches. Alert ids are deterministic: the bypass record's id, or the
 * principal (for bursts) and the start of the fixed window, so a re-sent alert, or the same burst
 * seen from two batches, has the same id and the SIEM keeps one.
 */
export class AlertDelivery implements BatchDelivery {
  readonly sink = ALERTS_SINK;

  constructor(
    private readonly query: Query,
    private readonly siems: readonly SiemSink[],
    private readonly rules: AlertRules,
  ) {}

  async deliver(_ref: BatchRef, rows: Array<Record<string, unknown>>): Promise<null> {
    const alerts = await this.detect(rows);
    if (alerts.length === 0) return null;
    const events = alerts.map((alert) => ({ type: 'alert' as const, alert }));
    // Every SIEM must take them; one failing retries the batch (the others drop the repeats by id).
    await Promise.all(this.siems.map((siem) => siem.send(events)));
    return null;
  }

  async close(): Promise<void> {
    return Promise.resolve();
  }

  /** The alerts these records raise. */
  async detect(rows: Array<Record<string, unknown>>): Promise<SecurityAlert[]> {
    const alerts = new Map<string, SecurityAlert>();
    const windowMs = this.rules.windowSeconds * 1000;
    const windowOf = (at: Date) => new Date(Math.floor(at.getTime() / windowMs) * windowMs);
    for (const row of rows) {
      const at = row.occurred_at as Date;
      const action = typeof row.admin_action === 'string' ? row.admin_action : '';
      // The admin trail writes an attempt (`allowed`) and a result; the `ok` result means it opened.
      if (action.startsWith('bypass.open') && row.outcome === 'ok') {
        const id = `bypass_opened-${String(row.id)}`;
        const grant =
          typeof row.admin_target === 'string' ? GRANT_TARGET.exec(row.admin_target)?.[1] : undefined;
        alerts.set(id, {
          id,
          kind: 'bypass_opened',
          occurredAt: at.toISOString(),
          severity: 9,
          message: `break-glass bypass opened by ${String(row.principal_subject)}${typeof row.admin_target === 'string' ? ` for ${row.admin_target}` : ''}`,
          subject: String(row.principal_subject),
          recordIds: [String(row.id)],
          ...(grant ? { grantId: grant } : {}),
        });
      }
      const window = windowOf(at);
      if (row.kind === 'intent' && row.outcome === 'denied') {
        const subject = String(row.principal_subject);
        const id = `deny_burst-${subject}-${window.toISOString()}`;
        if (!alerts.has(id)) {
          const hits = await this.count(`principal_subject = $3 AND outcome = 'denied'`, window, windowMs, [
            subject,
          ]);
          if (hits.count >= this.rules.denyBurst) {
            alerts.set(id, {
              id,
              kind: 'deny_burst',
              occurredAt: window.toISOString(),
              severity: 7,
              message: `${hits.count} denied calls by ${subject} within ${this.rules.windowSeconds} s`,
              subject,
              count: hits.count,
              windowSeconds: this.rules.windowSeconds,
              recordIds: hits.ids,
            });
          }
        }
      }
      if (row.kind === 'intent' && row.outcome === 'rate_limited') {
        const id = `rate_limit_storm-${window.toISOString()}`;
        if (!alerts.has(id)) {
          const hits = await this.count(`outcome = 'rate_limited'`, window, windowMs, []);
          if (hits.count >= this.rules.rateLimitStorm) {
            alerts.set(id, {
              id,
              kind: 'rate_limit_storm',
              occurredAt: window.toISOString(),
              severity: 6,
              message: `${hits.count} rate-limited calls within ${this.rules.windowSeconds} s`,
              count: hits.count,
              windowSeconds: this.rules.windowSeconds,
              recordIds: hits.ids,
            });
          }
        }
      }
    }
    return [...alerts.values()];
  }

  /** Intent records matching `where` in the window starting at `from`, with up to 20 of their ids. */
  private async count(
    where: string,
    from: Date,
    windowMs: number,
    params: unknown[],
  ): Promise<{ count: number; ids: string[] }> {
    const [row] = await this.query(
      `SELECT count(*)::int AS n, (array_agg(id::text ORDER BY occurred_at, id))[1:20] AS ids FROM audit_event
        WHERE kind = 'intent' AND occurred_at >= $1 AND occurred_at < $2 AND ${where}`,
      [from.toISOString(), new Date(from.getTime() + windowMs).toISOString(), ...params],
    );
    return { count: Number(row?.n ?? 0), ids: (row?.ids as string[] | null) ?? [] };
  }
}
