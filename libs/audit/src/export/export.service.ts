import {
  Inject,
  Injectable,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { Gauge } from 'prom-client';
import { DataSource } from 'typeorm';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '@gatehouse/config';
import { LOGGER, Metrics, type Logger } from '@gatehouse/observability';
import { ALERTS_SINK } from './alerts';
import { ExportError } from './export-error';
import { ExportRuntime } from './export-runtime';
import { Outbox, type BatchRow, type SinkBacklog } from './outbox';
import { reconcileStates, type ReconcileState } from './reconcile';
import { S3_ACKNOWLEDGEMENT, siemAcknowledgement, siemSinkName } from './siem';

/** Where the export module runs: the gateway (in-process when configured) or `apps/worker`. */
export type ExportMode = 'gateway' | 'worker';
export const EXPORT_MODE = Symbol('EXPORT_MODE');

/** One sink in `GET /api/v1/export/health`. */
export interface SinkHealth {
  sink: string;
  /** Seconds since the oldest undelivered record occurred (0: nothing waits). */
  lagSeconds: number;
  /** True while lagSeconds is above export.lagAlertSeconds (R32). */
  alerting: boolean;
  undelivered: number;
  oldestUndelivered: string | null;
  pendingBatches: number;
  lastSuccessAt: string | null;
  lastError: string | null;
  lastErrorAt: string | null;
  deadLetters: Array<{
    job: string;
    writerId: string;
    firstSeq: number;
    lastSeq: number;
    attempts: number;
    lastError: string | null;
    failedAt: string;
    /** When the relay retries it by itself. */
    retryAt: string;
  }>;
  /** What counts as this sink having taken a batch (null for the alerts sink). */
  acknowledgement: string | null;
  /** The reconciler's last comparison with Postgres (R22); null before its first pass. */
  reconcile: ReconcileHealth | null;
}

/** The reconciler's last pass for one sink: the counts that must match, and the gap alert. */
export interface ReconcileHealth {
  checkedAt: string;
  /** `bucket`: the S3 listing; `acknowledgements`: what the sink acknowledged (SIEM, or S3 unreachable). */
  source: 'bucket' | 'acknowledgements';
  periodFrom: string;
  periodTo: string;
  /** Records in Postgres that occurred in the period. */
  postgresRecords: number;
  /** Of those, the records the sink holds. */
  heldRecords: number;
  missingRecords: number;
  oldestMissing: string | null;
  /** A missing record is older than export.reconcile.gapAlertSeconds. */
  gapAlert: boolean;
  gapSince: string | null;
  /** Batches the bucket lost that were put back to be shipped again. */
  reshipped: number;
  error: string | null;
}

/** The export's health, for the console and monitoring. */
export interface ExportHealth {
  enabled: boolean;
  lagAlertSeconds: number;
  /** export.reconcile.gapAlertSeconds (R22). */
  gapAlertSeconds: number;
  sinks: SinkHealth[];
}

/** Time between start attempts of the in-process export while Redis is unreachable. */
const RESTART_MS = 10_000;

/**
 * Starts the export runtime where it belongs (always in the worker; in the gateway only with
 * `export.inProcess`), stops it before the database closes, and answers health from the outbox
 * tables, so any replica reports the same backlog whoever exports.
 */
@Injectable()
export class ExportService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private runtime: ExportRuntime | undefined;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly dataSource: DataSource,
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly metrics: Metrics,
    @Inject(EXPORT_MODE) private readonly mode: ExportMode,
  ) {}

  /** The sinks `export.*` configures. */
  get sinks(): string[] {
    const e = this.config.export;
    const siem = Object.keys(e.siem).map((name) => siemSinkName(name));
    return [...(e.s3 ? ['s3'] : []), ...siem, ...(siem.length > 0 ? [ALERTS_SINK] : [])];
  }

  async onApplicationBootstrap(): Promise<void> {
    const e = this.config.export;
    this.metrics.exportBacklogWith(async () =>
      (await this.health()).sinks.map((s) => ({
        sink: s.sink,
        lagSeconds: s.lagSeconds,
        undelivered: s.undelivered,
        deadLetters: s.deadLetters.length,
        alerting: s.alerting,
        ...(s.lastSuccessAt ? { lastSuccessSeconds: Date.parse(s.lastSuccessAt) / 1000 } : {}),
      })),
    );
    this.reconcileGauges();
    if (!e.enabled) {
      if (this.mode === 'worker')
        this.logger.warn('audit export: export.enabled is false; the worker has nothing to do');
      return;
    }
    if (!this.config.redis.url) {
      this.logger.warn('audit export: off, because redis.url is not set (the export queue lives in Redis)');
      return;
    }
    if (this.mode === 'gateway' && !e.inProcess) {
      this.logger.info('audit export: left to `npm run worker` processes (export.inProcess is false)');
      return;
    }
    if (this.mode === 'worker') {
      await this.start();
      return;
    }
    // In the gateway, calls never wait for the export (R31): start in the background, retry while Redis is away.
    void this.startInBackground();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    // The gateway's shutdown is bounded by shutdownGraceMs: it does not wait for a slow sink.
    await this.runtime?.stop({ force: this.mode === 'gateway' });
    this.runtime = undefined;
  }

  /** Every configured sink's backlog, last success and error, and dead letters. */
  async health(): Promise<ExportHealth> {
    const outbox = new Outbox((sql, params) => this.dataSource.query(sql, params));
    const e = this.config.export;
    const backlogs = e.enabled ? await Promise.all(this.sinks.map((sink) => outbox.backlog(sink))) : [];
    const states = e.enabled ? await this.reconcileStates() : new Map<string, ReconcileState>();
    return {
      enabled: e.enabled,
      lagAlertSeconds: e.lagAlertSeconds,
      gapAlertSeconds: e.reconcile.gapAlertSeconds,
      sinks: backlogs.map((b) => this.sinkHealth(b, states.get(b.sink))),
    };
  }

  private reconcileStates(): Promise<Map<string, ReconcileState>> {
    return reconcileStates((sql, params) => this.dataSource.query(sql, params));
  }

  /**
   * `gatehouse_export_gap_alert` and `gatehouse_export_missing_records` per sink, read from the
   * reconciler's table at scrape time (whoever reconciles, any replica shows it). One set per
   * registry: a second app on the same registry (tests) reuses them.
   */
  private reconcileGauges(): void {
    const registry = this.metrics.registry;
    const read = async (): Promise<ReconcileState[]> => {
      if (!this.config.export.enabled) return [];
      try {
        const states = await this.reconcileStates();
        return this.sinks.flatMap((sink) => states.get(sink) ?? []);
      } catch {
        return [];
      }
    };
    const gauge = (name: string, help: string, value: (s: ReconcileState) => number) => {
      if (registry.getSingleMetric(name)) return;
      const g: Gauge<'sink'> = new Gauge({
        name,
        help,
        labelNames: ['sink'] as const,
        registers: [registry],
        collect: async () => {
          g.reset();
          for (const state of await read()) g.set({ sink: state.sink }, value(state));
        },
      });
    };
    gauge(
      'gatehouse_export_gap_alert',
      '1 while the reconciler finds a record the sink does not hold older than export.reconcile.gapAlertSeconds',
      (s) => (s.gapAlert ? 1 : 0),
    );
    gauge(
      'gatehouse_export_missing_records',
      "Records of the reconciler's period that Postgres holds and the sink does not (last pass)",
      (s) => s.missingRecords,
    );
  }

  private acknowledgement(sink: string): string | null {
    if (sink === 's3') return S3_ACKNOWLEDGEMENT;
    const siem = Object.entries(this.config.export.siem).find(([name]) => siemSinkName(name) === sink);
    return siem ? siemAcknowledgement(siem[1]) : null;
  }

  private sinkHealth(b: SinkBacklog, state: ReconcileState | undefined): SinkHealth {
    const lag = b.oldestUndelivered ? Math.max(0, (Date.now() - b.oldestUndelivered.getTime()) / 1000) : 0;
    const iso = (d: Date | null) => (d ? d.toISOString() : null);
    return {
      sink: b.sink,
      lagSeconds: Math.round(lag),
      alerting: lag > this.config.export.lagAlertSeconds,
      undelivered: b.undelivered,
      oldestUndelivered: iso(b.oldestUndelivered),
      pendingBatches: b.pendingBatches,
      lastSuccessAt: iso(b.lastSuccessAt),
      lastError: b.lastError,
      lastErrorAt: iso(b.lastErrorAt),
      deadLetters: b.deadLetters.map((d: BatchRow) => ({
        job: d.jobId,
        writerId: d.writerId,
        firstSeq: d.firstSeq,
        lastSeq: d.lastSeq,
        attempts: d.attempts,
        lastError: d.lastError,
        failedAt: d.updatedAt.toISOString(),
        retryAt: new Date(
          d.updatedAt.getTime() + this.config.export.deadLetterRetrySeconds * 1000,
        ).toISOString(),
      })),
      acknowledgement: this.acknowledgement(b.sink),
      reconcile: state
        ? {
            checkedAt: state.checkedAt.toISOString(),
            source: state.source,
            periodFrom: state.periodFrom.toISOString(),
            periodTo: state.periodTo.toISOString(),
            postgresRecords: state.postgresRecords,
            heldRecords: state.heldRecords,
            missingRecords: state.missingRecords,
            oldestMissing: iso(state.oldestMissingAt),
            gapAlert: state.gapAlert,
            gapSince: iso(state.gapSince),
            reshipped: state.reshipped,
            error: state.error,
          }
        : null,
    };
  }

  private async start(): Promise<void> {
    const runtime = new ExportRuntime({
      dataSource: this.dataSource,
      redisUrl: this.config.redis.url ?? '',
      config: this.config.export,
      logger: this.logger,
      roles: { relay: true, processors: true },
    });
    try {
      await runtime.start();
    } catch (error) {
      await runtime.stop().catch(() => undefined);
      throw error;
    }
    // The gateway starts its export in the background: a shutdown that came meanwhile found no
    // runtime to stop, and this one's relay and workers would outlive the application.
    if (this.closed) {
      await runtime.stop({ force: this.mode === 'gateway' }).catch(() => undefined);
      return;
    }
    this.runtime = runtime;
  }

  private async startInBackground(): Promise<void> {
    try {
      await this.start();
    } catch (error) {
      const evicting = error instanceof ExportError;
      this.logger.error(
        { err: error },
        `audit export: not started: ${error instanceof Error ? error.message : String(error)}${evicting ? '' : `; retrying in ${RESTART_MS / 1000} s`}`,
      );
      if (evicting || this.closed) return;
      this.retry = setTimeout(() => void this.startInBackground(), RESTART_MS);
      this.retry.unref();
    }
  }
}
