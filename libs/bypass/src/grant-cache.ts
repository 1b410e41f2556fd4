import { Inject, Injectable, Optional, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { DataSource } from 'typeorm';
import type { Principal } from '@gatehouse/auth';
import { LOGGER, Metrics, type Logger } from '@gatehouse/observability';
import { ActivationBus, type Action, type BypassCover, type BypassGrants } from '@gatehouse/policy';
import { BypassGrant } from './bypass-grant.entity';
import { BYPASS_SETTINGS, type BypassSettings } from './settings';
import { CompiledGrant, coverOf } from './grant-matcher';

/** The bus of the bypass grants: its own topic beside the policy's activations. */
export const BYPASS_BUS = Symbol('BYPASS_BUS');
export const BYPASS_TOPIC = 'bypass:changed';

/** Lapsed grants are written `expired` and overdue reviews counted every this many reloads. */
const SWEEP_EVERY = 5;

/**
 * This replica's active grants, in memory, so that deciding a call costs no database round trip.
 * Reloaded when any replica announces a change (opening, approval, revocation), and every
 * `checkMs` from the database in case an announcement was lost; expiry needs neither, since every
 * decision compares the call's time with the grant's `expiresAt`. The same tick records lapsed
 * grants as `expired` (for the API) and counts overdue reviews for the metric.
 */
@Injectable()
export class GrantCache implements BypassGrants, OnModuleInit, OnApplicationShutdown {
  private grants: CompiledGrant[] = [];
  private queue: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private changes = 0;
  private ticks = 0;
  private readonly overdue: Gauge | undefined;
  private readonly active: Gauge | undefined;

  constructor(
    private readonly db: DataSource,
    @Inject(BYPASS_BUS) private readonly bus: ActivationBus,
    @Inject(BYPASS_SETTINGS) private readonly settings: BypassSettings,
    @Inject(LOGGER) private readonly logger: Logger,
    @Optional() metrics?: Metrics,
  ) {
    this.overdue = gauge(
      metrics,
      'gatehouse_bypass_reviews_overdue',
      'Break-glass grants whose post-hoc review is past its due time and not signed off',
    );
    this.active = gauge(
      metrics,
      'gatehouse_bypass_grants_active',
      'Bypass grants in effect on this replica (loaded, not past their expiry at the last load)',
    );
  }

  covering(principal: Principal, server: string, tool: string, _action: Action): BypassCover | undefined {
    if (this.grants.length === 0) return undefined;
    return coverOf(this.grants, principal, server, tool, Date.now());
  }

  async onModuleInit(): Promise<void> {
    await this.reload('start');
    await this.bus.subscribe(() => void this.reload('announcement'));
    this.timer = setInterval(() => void this.tick(), this.settings.checkMs);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.bus.close();
    await this.queue;
  }

  /** After a change on this replica: load it here first, then tell the others. */
  async announce(): Promise<void> {
    await this.reload('change on this replica');
    this.changes += 1;
    await this.bus.publish(this.changes);
  }

  /** Loads the active grants; runs one at a time, in order. */
  reload(reason: string): Promise<void> {
    const next = this.queue.then(() => this.load(reason));
    this.queue = next.catch((err: unknown) =>
      this.logger.warn({ err, reason }, 'bypass: loading the grants failed; will retry at the next check'),
    );
    return next;
  }

  private async load(reason: string): Promise<void> {
    const rows = await this.db
      .getRepository(BypassGrant)
      .createQueryBuilder('g')
      .where(`g.status = 'active' AND g.expires_at > now()`)
      .getMany();
    const before = new Set(this.grants.map((g) => g.id));
    this.grants = rows.map((row) => new CompiledGrant(row));
    this.active?.set(this.grants.length);
    const after = new Set(this.grants.map((g) => g.id));
    if (before.size !== after.size || [...after].some((id) => !before.has(id))) {
      this.logger.info(
        { grants: [...after], reason },
        `bypass: ${after.size} active grant(s) on this replica (${reason})`,
      );
    }
  }

  /**
   * The safety net on every tick (reload); the bookkeeping (record lapsed grants, count overdue
   * reviews) every {@link SWEEP_EVERY} ticks, since no decision depends on it.
   */
  private async tick(): Promise<void> {
    try {
      await this.reload('periodic check');
      if (this.ticks++ % SWEEP_EVERY !== 0) return;
      await this.db.query(
        `WITH lapsed AS (
           UPDATE bypass_grant SET status = 'expired'
           WHERE status IN ('active', 'pending-approval') AND expires_at <= now()
           RETURNING id, expires_at
         )
         INSERT INTO bypass_event (grant_id, action, actor_subject, actor_name, at, comment)
         SELECT id, 'expire', 'system', 'Gatehouse', expires_at, NULL FROM lapsed`,
      );
      if (this.overdue) {
        const rows = await this.db.query<Array<{ n: string }>>(
          `SELECT count(*) AS n FROM bypass_grant
           WHERE review_due_at IS NOT NULL AND reviewed_at IS NULL AND review_due_at < now()`,
        );
        this.overdue.set(Number(rows[0]?.n ?? 0));
      }
    } catch (err) {
      this.logger.warn({ err }, 'bypass: the periodic check failed; will retry');
    }
  }
}

/** One gauge per registry: a second instance on the same registry (tests) reuses the first one's. */
function gauge(metrics: Metrics | undefined, name: string, help: string): Gauge | undefined {
  if (!metrics) return undefined;
  const existing = metrics.registry.getSingleMetric(name) as Gauge | undefined;
  return existing ?? new Gauge({ name, help, registers: [metrics.registry] });
}
