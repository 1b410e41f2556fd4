import {
  Inject,
  Injectable,
  Optional,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { Gauge } from 'prom-client';
import { DataSource } from 'typeorm';
import type { SecurityAlert, SiemSink } from '@gatehouse/audit';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '@gatehouse/config';
import { LOGGER, Metrics, type Logger } from '@gatehouse/observability';
import {
  EVENT_KINDS,
  eventAlert,
  firstUseAlert,
  MAX_RETRY_SECONDS,
  summaryAlerts,
  windowStart,
  type FirstUseRow,
  type GrantEventRow,
  type UseCountRow,
} from './alert';
import { alertTargets, PAGER_TARGET } from './alert-targets';

/** How often each replica looks for new alerts and delivers due ones. */
export const POLL_MS = 1_000;
/** A summary window is closed this long after its end, so calls whose intent was still being written count. */
export const SUMMARY_GRACE_MS = 3_000;
/** How far back the alerter looks for events, first uses and windows it has not alerted yet. */
export const LOOKBACK_SECONDS = 86_400;
/** How long shutdown waits for deliveries under way. */
const SHUTDOWN_WAIT_MS = 2_000;
/** Alerts one delivery sends at most. */
const BATCH = 500;
/** A target not acknowledging for this long is logged at error: R51 allows 60 s. */
const OVERDUE_MS = 60_000;

/** What an alert row holds before it is fanned out to its targets. */
interface Derived {
  alert: SecurityAlert;
  targets: string[];
}

/** A target's failure streak, for logging once rather than every attempt. */
interface Failing {
  since: number;
  overdueLogged: boolean;
}

/**
 * Break-glass alerts (issue 7 point 5, R51): the opening, approval, revocation and expiry of a
 * grant, its first use, and a summary of its uses per window, to every SIEM at once and to the
 * pager webhook within 60 s.
 *
 * Nothing is kept in memory that a crash could lose. Every poll, each replica derives alerts from
 * what is already durable (`bypass_event`, written with each grant change; `audit_event`, whose
 * intent is committed before a call goes upstream) and inserts one `bypass_alert` row per alert
 * and target under a deterministic id, `ON CONFLICT DO NOTHING`: replicas and restarts agree on
 * the ids, so each alert exists once per target. Due rows are then claimed with
 * `FOR UPDATE SKIP LOCKED`, sent, and marked delivered only once the target acknowledged them;
 * a failure backs off (at most {@link MAX_RETRY_SECONDS}) and retries until it succeeds. The
 * opening reaches the SIEM through the export's own alert detector (libs/audit/src/export/alerts.ts),
 * so here it goes to the pager only.
 */
@Injectable()
export class BypassAlerts implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly targets: Map<string, SiemSink>;
  private readonly windowSeconds: number;
  private readonly busy = new Map<string, Promise<void>>();
  private readonly failing = new Map<string, Failing>();
  private readonly undelivered: Gauge<'target'> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopping = false;
  /** Summary windows before this (epoch s) are derived; undefined: none yet in this process. */
  private summarisedUntil: number | undefined;
  private deriveError = '';

  constructor(
    private readonly db: DataSource,
    @Inject(GATEHOUSE_CONFIG) config: GatehouseConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    @Optional() metrics?: Metrics,
  ) {
    this.targets = alertTargets(config);
    this.windowSeconds = config.bypass.alerts.summarySeconds;
    if (metrics && this.targets.size > 0) {
      const name = 'gatehouse_bypass_alerts_undelivered';
      this.undelivered =
        (metrics.registry.getSingleMetric(name) as Gauge<'target'> | undefined) ??
        new Gauge({
          name,
          help: 'Bypass alerts a target (pager, siem-<name>) has not acknowledged yet',
          labelNames: ['target'],
          registers: [metrics.registry],
        });
    }
  }

  /** The targets alerts go to (`pager`, `siem-<name>`). */
  get targetNames(): string[] {
    return [...this.targets.keys()];
  }

  onApplicationBootstrap(): void {
    if (this.targets.size === 0) return;
    this.logger.info(
      { targets: this.targetNames, summarySeconds: this.windowSeconds },
      `bypass: alerts go to ${this.targetNames.join(', ')}`,
    );
    this.schedule();
  }

  /**
   * Stops polling and gives deliveries under way {@link SHUTDOWN_WAIT_MS} to finish: a slow pager
   * must not hold up the gateway's shutdown. One cut off is rolled back and sent again by the next
   * replica to poll (receivers drop the repeat by id).
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    let waited: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all([this.running, ...this.busy.values()]),
      new Promise<void>((ok) => {
        waited = setTimeout(ok, SHUTDOWN_WAIT_MS);
      }),
    ]);
    clearTimeout(waited);
    await Promise.all([...this.targets.values()].map((t) => t.close()));
  }

  /** One poll, waiting for every target's delivery (tests; the timer does not wait for slow targets). */
  async tick(): Promise<void> {
    await this.derive();
    await Promise.all(this.targetNames.map((target) => this.dispatch(target)));
  }

  /**
   * Inserts the alerts that durable state calls for and no row holds yet. `now` decides which
   * summary windows are closed (a test passes a later time to close them without waiting).
   */
  async derive(now = Date.now()): Promise<void> {
    const derived = [...(await this.eventAlerts()), ...(await this.firstUses())];
    const closedUntil = windowStart(now - SUMMARY_GRACE_MS, this.windowSeconds);
    const from = this.summarisedUntil ?? closedUntil - LOOKBACK_SECONDS;
    if (closedUntil > from) derived.push(...(await this.summaries(from, closedUntil)));
    if (derived.length > 0) await this.insert(derived);
    this.summarisedUntil = Math.max(this.summarisedUntil ?? 0, closedUntil);
  }

  /** Sends `target` its due alerts; marks them delivered or schedules the next attempt. */
  async dispatch(target: string): Promise<void> {
    const sink = this.targets.get(target);
    if (!sink) return;
    await this.db.transaction(async (m) => {
      const rows = await m.query<Array<{ id: string; alert: SecurityAlert }>>(
        `SELECT id, alert FROM bypass_alert
          WHERE target = $1 AND delivered_at IS NULL AND next_attempt_at <= now()
          ORDER BY occurred_at, id LIMIT ${BATCH} FOR UPDATE SKIP LOCKED`,
        [target],
      );
      if (rows.length === 0) return;
      const ids = rows.map((r) => r.id);
      try {
        await sink.send(rows.map((r) => ({ type: 'alert' as const, alert: r.alert })));
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        await m.query(
          `UPDATE bypass_alert SET attempts = attempts + 1, last_error = $3,
                  next_attempt_at = now() + make_interval(secs => LEAST(power(2, attempts), $4))
            WHERE target = $1 AND id = ANY($2::text[])`,
          [target, ids, message.slice(0, 2000), MAX_RETRY_SECONDS],
        );
        this.onFailure(target, rows.length, err);
        return;
      }
      await m.query(
        `UPDATE bypass_alert SET delivered_at = now(), attempts = attempts + 1, last_error = NULL
          WHERE target = $1 AND id = ANY($2::text[])`,
        [target, ids],
      );
      this.onSuccess(target, rows.length);
    });
    if (this.undelivered) {
      const [row] = await this.db.query<Array<{ n: number }>>(
        `SELECT count(*)::int AS n FROM bypass_alert WHERE target = $1 AND delivered_at IS NULL`,
        [target],
      );
      this.undelivered.set({ target }, Number(row?.n ?? 0));
    }
  }

  /** Openings (for the pager), approvals, revocations and expiries not alerted yet. */
  private async eventAlerts(): Promise<Derived[]> {
    const pager = this.targets.has(PAGER_TARGET);
    const actions = Object.keys(EVENT_KINDS).filter((a) => pager || a !== 'open');
    const idOf = `CASE e.action ${Object.entries(EVENT_KINDS)
      .map(([action, kind]) => `WHEN '${action}' THEN '${kind}-'`)
      .join(' ')} END || e.grant_id::text`;
    const rows = await this.db.query<Array<Record<string, unknown>>>(
      `SELECT e.grant_id::text AS grant_id, e.action, e.actor_subject, e.actor_name, e.at, e.comment,
              g.mode, g.reason, g.incident, g.servers, g.tools, g.expires_at, g.opened_by_subject
         FROM bypass_event e JOIN bypass_grant g ON g.id = e.grant_id
        WHERE e.action = ANY($1::text[]) AND e.at > now() - make_interval(secs => $2)
          AND NOT EXISTS (SELECT 1 FROM bypass_alert a WHERE a.id = ${idOf})
        ORDER BY e.id`,
      [actions, LOOKBACK_SECONDS],
    );
    return rows.map((r) => {
      const alert = eventAlert({
        grantId: String(r.grant_id),
        action: r.action as GrantEventRow['action'],
        actorSubject: String(r.actor_subject),
        actorName: (r.actor_name as string | null) ?? null,
        at: r.at as Date,
        comment: (r.comment as string | null) ?? null,
        mode: String(r.mode),
        reason: String(r.reason),
        incident: (r.incident as string | null) ?? null,
        servers: r.servers as string[],
        tools: r.tools as string[],
        expiresAt: r.expires_at as Date,
        openedBySubject: String(r.opened_by_subject),
      });
      // The export's alert detector already sends the opening to every SIEM.
      return { alert, targets: alert.kind === 'bypass_opened' ? [PAGER_TARGET] : this.targetNames };
    });
  }

  /** Grants of the last day with a call on record and no first-use alert yet. */
  private async firstUses(): Promise<Derived[]> {
    const rows = await this.db.query<Array<Record<string, unknown>>>(
      `SELECT g.id::text AS grant_id, f.id AS record_id, f.occurred_at, f.principal_subject, f.server, f.tool, f.method
         FROM bypass_grant g
         CROSS JOIN LATERAL (
           SELECT a.id::text AS id, a.occurred_at, a.principal_subject, a.server, a.tool, a.method
             FROM audit_event a WHERE a.bypass_id = g.id::text AND a.occurred_at >= g.opened_at
            ORDER BY a.occurred_at, a.id LIMIT 1) f
        WHERE g.activated_at IS NOT NULL AND g.expires_at > now() - make_interval(secs => $1)
          AND NOT EXISTS (SELECT 1 FROM bypass_alert b WHERE b.id = 'bypass_first_use-' || g.id::text)`,
      [LOOKBACK_SECONDS],
    );
    return rows.map((r) => ({
      alert: firstUseAlert({
        grantId: String(r.grant_id),
        recordId: String(r.record_id),
        occurredAt: r.occurred_at as Date,
        subject: String(r.principal_subject),
        server: (r.server as string | null) ?? null,
        tool: (r.tool as string | null) ?? null,
        method: String(r.method),
      } satisfies FirstUseRow),
      targets: this.targetNames,
    }));
  }

  /** Summaries of the windows in [from, until) (epoch s) that had calls under a grant. */
  private async summaries(from: number, until: number): Promise<Derived[]> {
    const rows = await this.db.query<Array<Record<string, unknown>>>(
      `SELECT bypass_id AS grant_id,
              (floor(extract(epoch FROM occurred_at) / $3) * $3)::bigint AS window_start,
              principal_subject, server, tool, count(*)::int AS n,
              (array_agg(id::text ORDER BY occurred_at, id))[1:20] AS ids
         FROM audit_event
        WHERE bypass_id IS NOT NULL AND kind = 'intent' AND occurred_at >= to_timestamp($1) AND occurred_at < to_timestamp($2)
        GROUP BY 1, 2, 3, 4, 5`,
      [from, until, this.windowSeconds],
    );
    const counts: UseCountRow[] = rows.map((r) => ({
      grantId: String(r.grant_id),
      windowStart: Number(r.window_start),
      subject: String(r.principal_subject),
      server: (r.server as string | null) ?? null,
      tool: (r.tool as string | null) ?? null,
      count: Number(r.n),
      recordIds: (r.ids as string[] | null) ?? [],
    }));
    return summaryAlerts(counts, this.windowSeconds).map((alert) => ({ alert, targets: this.targetNames }));
  }

  /** One row per alert and target; rows another replica (or an earlier run) inserted stay as they are. */
  private async insert(derived: Derived[]): Promise<void> {
    const rows = derived.flatMap(({ alert, targets }) =>
      targets.map((target) => ({
        id: alert.id,
        target,
        grant_id: alert.grantId,
        kind: alert.kind,
        occurred_at: alert.occurredAt,
        alert,
      })),
    );
    if (rows.length === 0) return;
    // Sorted, so that two replicas inserting the same alerts take the row locks in one order.
    rows.sort((a, b) => (a.id === b.id ? a.target.localeCompare(b.target) : a.id.localeCompare(b.id)));
    await this.db.query(
      `INSERT INTO bypass_alert (id, target, grant_id, kind, occurred_at, alert)
       SELECT id, target, grant_id, kind, occurred_at, alert
         FROM jsonb_to_recordset($1::jsonb) AS r(id text, target text, grant_id uuid, kind text, occurred_at timestamptz, alert jsonb)
       ON CONFLICT DO NOTHING`,
      [JSON.stringify(rows)],
    );
  }

  private schedule(): void {
    if (this.stopping) return;
    this.timer = setTimeout(() => {
      this.running = this.poll().finally(() => {
        this.running = undefined;
        this.schedule();
      });
    }, POLL_MS);
    this.timer.unref();
  }

  /** Derives, then starts each idle target's delivery without waiting for it. */
  private async poll(): Promise<void> {
    try {
      await this.derive();
      if (this.deriveError) this.logger.info('bypass: alerts derive again');
      this.deriveError = '';
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (message !== this.deriveError)
        this.logger.warn({ err }, `bypass: could not look for new alerts (will retry): ${message}`);
      this.deriveError = message;
    }
    for (const target of this.targetNames) {
      if (this.busy.has(target)) continue;
      const run = this.dispatch(target)
        .catch((err: unknown) =>
          this.logger.warn({ err, target }, `bypass: alert delivery to ${target} could not run; will retry`),
        )
        .finally(() => this.busy.delete(target));
      this.busy.set(target, run);
    }
  }

  private onFailure(target: string, count: number, err: unknown): void {
    const failing = this.failing.get(target);
    const message = err instanceof Error ? err.message : String(err);
    if (!failing) {
      this.failing.set(target, { since: Date.now(), overdueLogged: false });
      this.logger.warn(
        { err, target, alerts: count },
        `bypass: ${target} did not take ${count} alert(s), retrying: ${message}`,
      );
      return;
    }
    if (!failing.overdueLogged && Date.now() - failing.since > OVERDUE_MS) {
      failing.overdueLogged = true;
      this.logger.error(
        { err, target, alerts: count },
        `bypass: ${target} has not acknowledged alerts for ${Math.round((Date.now() - failing.since) / 1000)} s: ${message}`,
      );
    }
  }

  private onSuccess(target: string, count: number): void {
    if (this.failing.delete(target))
      this.logger.info({ target, alerts: count }, `bypass: ${target} takes alerts again`);
  }
}
