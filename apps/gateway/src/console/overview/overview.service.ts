import { Inject, Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { ExportService } from '@gatehouse/audit';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '@gatehouse/config';
import { DEFAULT_HEARTBEAT_MS } from '@gatehouse/db';
import { Metrics } from '@gatehouse/observability';
import type { OverviewResponse } from './overview.schemas';

/** Answers are reused this long, so many open consoles cost one set of queries. */
const CACHE_MS = 5_000;

type Row = Record<string, string | number | Date | null>;

/**
 * The console's Overview from shared state, so every replica answers the same: the audit trail
 * (one outcome record per call, the time index bounds the scan to the period), the bypass
 * grants, the replica table and the export's outbox. Only the upstreams' state is this replica's.
 */
@Injectable()
export class OverviewService {
  private cached = new Map<number, { at: number; answer: Promise<OverviewResponse> }>();

  constructor(
    private readonly dataSource: DataSource,
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    private readonly metrics: Metrics,
    private readonly modules: ModuleRef,
  ) {}

  overview(minutes: number): Promise<OverviewResponse> {
    const now = Date.now();
    const hit = this.cached.get(minutes);
    if (hit && now - hit.at < CACHE_MS) return hit.answer;
    const answer = this.compute(minutes, new Date(now));
    this.cached.set(minutes, { at: now, answer });
    answer.catch(() => this.cached.delete(minutes));
    return answer;
  }

  private async compute(minutes: number, now: Date): Promise<OverviewResponse> {
    // Whole minutes: the last one is the minute in progress.
    const end = new Date(Math.floor(now.getTime() / 60_000) * 60_000 + 60_000);
    const from = new Date(end.getTime() - minutes * 60_000);
    const q = (sql: string, params: unknown[]) => this.dataSource.query<Row[]>(sql, params);
    const [perMinute, latency, grants, replicas, exportHealth] = await Promise.all([
      q(
        `SELECT date_trunc('minute', occurred_at) AS minute,
                count(*)::int AS calls,
                count(*) FILTER (WHERE outcome = 'denied')::int AS denied,
                count(*) FILTER (WHERE outcome = 'rate_limited')::int AS rate_limited,
                count(*) FILTER (WHERE outcome IN ('error', 'policy_error'))::int AS errors,
                count(*) FILTER (WHERE bypass_id IS NOT NULL)::int AS bypassed
           FROM audit_event
          WHERE occurred_at >= $1 AND occurred_at < $2 AND kind = 'outcome'
          GROUP BY 1 ORDER BY 1`,
        [from, end],
      ),
      q(
        `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY gateway_us) AS g50,
                percentile_cont(0.99) WITHIN GROUP (ORDER BY gateway_us) AS g99,
                percentile_cont(0.5) WITHIN GROUP (ORDER BY upstream_us) FILTER (WHERE upstream_us > 0) AS u50,
                percentile_cont(0.99) WITHIN GROUP (ORDER BY upstream_us) FILTER (WHERE upstream_us > 0) AS u99
           FROM audit_event
          WHERE occurred_at >= $1 AND occurred_at < $2 AND kind = 'outcome'
            AND outcome IN ('ok', 'error') AND gateway_us IS NOT NULL`,
        [from, end],
      ),
      q(
        `SELECT count(*) FILTER (WHERE status = 'active' AND expires_at > now())::int AS active,
                count(*) FILTER (WHERE status = 'pending-approval')::int AS pending
           FROM bypass_grant WHERE status IN ('active', 'pending-approval')`,
        [],
      ),
      q(
        `SELECT id, hostname, version, started_at, last_seen_at FROM gateway_replica
          WHERE last_seen_at >= $1 ORDER BY started_at`,
        [from],
      ),
      this.exportHealth(),
    ]);

    const byMinute = new Map(perMinute.map((r) => [new Date(r.minute as Date).getTime(), r]));
    const minutesList: OverviewResponse['perMinute'] = [];
    const totals = { calls: 0, denied: 0, rateLimited: 0, errors: 0, bypassed: 0 };
    for (let t = from.getTime(); t < end.getTime(); t += 60_000) {
      const r = byMinute.get(t);
      const entry = {
        minute: new Date(t).toISOString(),
        calls: Number(r?.calls ?? 0),
        denied: Number(r?.denied ?? 0),
        rateLimited: Number(r?.rate_limited ?? 0),
        errors: Number(r?.errors ?? 0),
      };
      minutesList.push(entry);
      totals.calls += entry.calls;
      totals.denied += entry.denied;
      totals.rateLimited += entry.rateLimited;
      totals.errors += entry.errors;
      totals.bypassed += Number(r?.bypassed ?? 0);
    }
    const l = latency[0] ?? {};
    const ms = (us: unknown) => Math.round(Number(us) / 10) / 100;
    const pair = (p50: unknown, p99: unknown) =>
      p50 === null || p50 === undefined ? null : { p50Ms: ms(p50), p99Ms: ms(p99) };
    const liveAfter = now.getTime() - 3 * DEFAULT_HEARTBEAT_MS;

    return {
      from: from.toISOString(),
      to: end.toISOString(),
      totals,
      perMinute: minutesList,
      latency: { gateway: pair(l.g50, l.g99), upstream: pair(l.u50, l.u99) },
      upstreams: await this.upstreams(),
      export: exportHealth,
      bypass: { active: Number(grants[0]?.active ?? 0), pendingApproval: Number(grants[0]?.pending ?? 0) },
      replicas: replicas.map((r) => ({
        id: String(r.id),
        hostname: String(r.hostname),
        version: String(r.version),
        startedAt: new Date(r.started_at as Date).toISOString(),
        lastSeenAt: new Date(r.last_seen_at as Date).toISOString(),
        live: new Date(r.last_seen_at as Date).getTime() >= liveAfter,
      })),
    };
  }

  /** The upstream pool's connection state, from its `gatehouse_upstream_up` gauge. */
  private async upstreams(): Promise<OverviewResponse['upstreams']> {
    const gauge = await this.metrics.upstreamUp.get();
    const up = new Map<string, number>();
    for (const v of gauge.values) up.set(String(v.labels.server), v.value);
    return Object.entries(this.config.upstreams).map(([server, cfg]) => {
      const value = up.get(server);
      const state: 'up' | 'down' | 'on-demand' =
        value === undefined
          ? cfg.sharing === 'per-session'
            ? 'on-demand'
            : 'down'
          : value === 1
            ? 'up'
            : 'down';
      return { server, transport: cfg.transport, sharing: cfg.sharing, state };
    });
  }

  /** The same numbers as `GET /api/v1/export/health`, shortened to what the overview shows. */
  private async exportHealth(): Promise<OverviewResponse['export']> {
    const service = this.modules.get(ExportService, { strict: false });
    const health = await service.health();
    return {
      enabled: health.enabled,
      lagAlertSeconds: health.lagAlertSeconds,
      sinks: health.sinks.map((s) => ({
        sink: s.sink,
        lagSeconds: s.lagSeconds,
        alerting: s.alerting,
        undelivered: s.undelivered,
        deadLetters: s.deadLetters.length,
        lastSuccessAt: s.lastSuccessAt,
        lastError: s.lastError,
      })),
    };
  }
}
