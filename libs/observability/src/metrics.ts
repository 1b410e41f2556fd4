import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The gateway's Prometheus metrics; names follow `gatehouse_<noun>_<unit>`. */
export class Metrics {
  readonly registry = new Registry();

  readonly calls = new Counter({
    name: 'gatehouse_calls_total',
    help: 'MCP requests handled, by server, method and outcome',
    labelNames: ['server', 'method', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly errors = new Counter({
    name: 'gatehouse_errors_total',
    help: 'Requests that ended in a JSON-RPC or HTTP error, by code',
    labelNames: ['server', 'code'] as const,
    registers: [this.registry],
  });

  readonly callDuration = new Histogram({
    name: 'gatehouse_call_duration_seconds',
    help: 'Time per MCP request, split into gateway and upstream parts',
    labelNames: ['server', 'method', 'part'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly sessionsCreated = new Counter({
    name: 'gatehouse_sessions_created_total',
    help: 'Client sessions initialized on this replica',
    registers: [this.registry],
  });

  private countActiveSessions: () => number = () => 0;

  /** Sessions this replica is serving now: an open GET stream, a call in flight or a per-session upstream. */
  readonly sessions: Gauge = new Gauge({
    name: 'gatehouse_sessions_active',
    help: 'Client sessions this replica is serving now (stream open, call in flight or per-session upstream)',
    registers: [this.registry],
    collect: (): void => this.sessions.set(this.countActiveSessions()),
  });

  /** The transport tells the registry how to count active sessions at scrape time. */
  countSessionsWith(count: () => number): void {
    this.countActiveSessions = count;
  }

  readonly upstreamUp = new Gauge({
    name: 'gatehouse_upstream_up',
    help: '1 when the upstream connection is healthy, 0 otherwise',
    labelNames: ['server'] as const,
    registers: [this.registry],
  });

  readonly upstreamRestarts = new Counter({
    name: 'gatehouse_upstream_restarts_total',
    help: 'Upstream connections re-established after a failure',
    labelNames: ['server'] as const,
    registers: [this.registry],
  });

  /** 1 while this replica applies its degraded share of every rate limit because Redis is unreachable or slow (R28). */
  readonly rateLimitDegraded = new Gauge({
    name: 'gatehouse_rate_limit_degraded',
    help: '1 while this replica applies its degraded share of every rate limit because Redis is unreachable or slow',
    registers: [this.registry],
  });

  /** Calls bridges ran on direct servers and reported afterwards (shadow migration, offline fallback). */
  readonly ingestedCalls = new Counter({
    name: 'gatehouse_ingested_calls_total',
    help: 'Calls bridges reported after running them on a direct server, by mode, policy decision and result (stored or duplicate)',
    labelNames: ['mode', 'decision', 'result'] as const,
    registers: [this.registry],
  });

  /** Reads every export sink's backlog at scrape time (the export module sets it; none without export). */
  private readExportBacklog: () => Promise<ExportBacklogSample[]> = () => Promise.resolve([]);
  private exportSamples: Promise<ExportBacklogSample[]> | undefined;

  /** The export module tells the registry how to read the sinks' backlog (from the outbox tables). */
  exportBacklogWith(read: () => Promise<ExportBacklogSample[]>): void {
    this.readExportBacklog = read;
  }

  /** One read per scrape, shared by the export gauges; a failed read leaves them unset. */
  private async exportBacklog(): Promise<ExportBacklogSample[]> {
    this.exportSamples ??= this.readExportBacklog()
      .catch(() => [])
      .finally(() => setTimeout(() => (this.exportSamples = undefined), 500).unref());
    return this.exportSamples;
  }

  private exportGauge(
    name: string,
    help: string,
    value: (s: ExportBacklogSample) => number | undefined,
  ): Gauge<'sink'> {
    const gauge: Gauge<'sink'> = new Gauge({
      name,
      help,
      labelNames: ['sink'] as const,
      registers: [this.registry],
      collect: async (): Promise<void> => {
        gauge.reset();
        for (const sample of await this.exportBacklog()) {
          const v = value(sample);
          if (v !== undefined) gauge.set({ sink: sample.sink }, v);
        }
      },
    });
    return gauge;
  }

  /** Age of the oldest audit record not yet delivered to a sink (R32). */
  readonly exportLag = this.exportGauge(
    'gatehouse_export_lag_seconds',
    'Age of the oldest audit record not yet delivered to the sink (0 when nothing waits)',
    (s) => s.lagSeconds,
  );

  readonly exportUndelivered = this.exportGauge(
    'gatehouse_export_undelivered_records',
    'Audit records committed but not yet delivered to the sink',
    (s) => s.undelivered,
  );

  readonly exportDeadLetters = this.exportGauge(
    'gatehouse_export_dead_letters',
    'Export batches that failed every attempt and wait for their automatic retry',
    (s) => s.deadLetters,
  );

  /** 1 while a sink's lag is above export.lagAlertSeconds: alert on this. */
  readonly exportLagAlert = this.exportGauge(
    'gatehouse_export_lag_alert',
    '1 while the sink lags more than export.lagAlertSeconds behind the audit trail',
    (s) => (s.alerting ? 1 : 0),
  );

  readonly exportLastSuccess = this.exportGauge(
    'gatehouse_export_last_success_timestamp_seconds',
    'When the sink last accepted a batch (Unix time)',
    (s) => s.lastSuccessSeconds,
  );

  constructor(defaults = true) {
    if (defaults) collectDefaultMetrics({ register: this.registry, prefix: 'gatehouse_process_' });
  }
}

/** One export sink's state as the export gauges show it. */
export interface ExportBacklogSample {
  sink: string;
  lagSeconds: number;
  undelivered: number;
  deadLetters: number;
  alerting: boolean;
  lastSuccessSeconds?: number;
}
