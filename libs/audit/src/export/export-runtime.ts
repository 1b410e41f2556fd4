import type { KeyObject } from 'node:crypto';
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import type { GatehouseConfig } from '@gatehouse/config';
import type { Logger } from '@gatehouse/observability';
import { CheckpointStore } from './checkpoint-store';
import { loadSigningKey } from './checkpoint';
import { S3Delivery, type BatchDelivery } from './delivery';
import { ExportError, ExportErrorCode } from './export-error';
import type { BatchRef } from './keys';
import { ALERTS_SINK, AlertDelivery } from './alerts';
import { Outbox, type Query, type SinkBacklog } from './outbox';
import { SiemDelivery, siemSinkFromConfig } from './siem';
import { assertNoEviction, queueName, redisConnection, type QueueSettings } from './queue';
import { Reconciler, type SinkReconciliation } from './reconcile';
import { ExportRelay } from './relay';
import { S3Archive } from './sinks/s3-archive';

export type ExportConfig = GatehouseConfig['export'];

/** Which parts of the export this process runs. */
export interface ExportRoles {
  /** Compete for the relay lead and relay the outbox. */
  relay: boolean;
  /** Run the sink processors (BullMQ workers). */
  processors: boolean;
}

/** Everything {@link ExportRuntime} is built from. */
export interface ExportRuntimeOptions {
  dataSource: DataSource;
  redisUrl: string;
  config: ExportConfig;
  logger: Logger;
  roles: ExportRoles;
  /** Destinations; default: those `config` names (`export.s3`, `export.siem.*`). */
  deliveries?: BatchDelivery[];
  /** Called with every sink's backlog after each health check (metrics, alerts). */
  onBacklog?: (backlogs: SinkBacklog[]) => void;
}

/** Pending batches per sink at most: bounds each relay tick and the jobs in Redis. */
const MAX_PENDING = 500;

/**
 * The audit export of one process: BullMQ queues (one per sink), workers that deliver batches
 * and checkpoints, the relay loop and the lag check. The gateway runs it in-process
 * (`export.inProcess`), `npm run worker` runs it standalone; several may run at once (one relay
 * leads, every worker takes jobs).
 */
export class ExportRuntime {
  private readonly producer: Redis;
  private readonly workerConnection: Redis;
  private readonly queues = new Map<string, Queue>();
  private readonly workers: Worker[] = [];
  private readonly deliveries: Map<string, BatchDelivery>;
  private readonly settings: QueueSettings;
  private readonly signingKey: KeyObject | undefined;
  private relay: ExportRelay | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private relayRunning: Promise<void> | undefined;
  private lastRelayError = '';
  private readonly alerting = new Set<string>();
  /** 0: the leader's first tick reconciles at once, so a restart shows the state without waiting an interval. */
  private reconciledAt = 0;
  private reconciling: Promise<unknown> | undefined;

  constructor(private readonly options: ExportRuntimeOptions) {
    const { config } = options;
    this.settings = { prefix: config.queuePrefix, attempts: config.attempts, backoffMs: config.backoffMs };
    this.producer = redisConnection(options.redisUrl, 'producer');
    this.workerConnection = redisConnection(options.redisUrl, 'worker');
    this.deliveries = new Map(
      (
        options.deliveries ??
        configuredDeliveries(config, (sql, params) => options.dataSource.query(sql, params))
      ).map((d) => [d.sink, d]),
    );
    this.signingKey =
      config.s3 && config.checkpoints.signingKey ? loadSigningKey(config.checkpoints.signingKey) : undefined;
  }

  /** The sinks this runtime exports to. */
  get sinks(): string[] {
    return [...this.deliveries.keys()];
  }

  /**
   * Checks Redis (reachable, `noeviction`), then starts the workers and the relay loop. Throws an
   * {@link ExportError} with code REDIS_EVICTION when Redis may evict jobs.
   */
  async start(): Promise<void> {
    await this.producer.connect();
    await assertNoEviction(this.producer);
    const { config, roles, logger } = this.options;
    for (const sink of this.deliveries.keys()) {
      const queue = new Queue(queueName(sink), {
        connection: this.producer,
        prefix: config.queuePrefix,
        skipWaitingForReady: true,
      });
      // Redis going away is reported once by the relay loop; the queue's own events stay quiet.
      queue.on('error', (error) =>
        logger.debug({ err: error, sink }, `audit export: queue ${sink}: ${error.message}`),
      );
      this.queues.set(sink, queue);
    }
    if (roles.processors) {
      await this.workerConnection.connect();
      for (const [sink, delivery] of this.deliveries) {
        const worker = new Worker(queueName(sink), (job: Job) => this.handleJob(delivery, job), {
          connection: this.workerConnection,
          prefix: config.queuePrefix,
          concurrency: config.concurrency,
          lockDuration: config.jobLockMs,
          stalledInterval: config.jobLockMs,
          maxStalledCount: 3,
        });
        worker.on('failed', (job, error) => this.onFailed(sink, job, error));
        worker.on('error', (error) =>
          logger.debug({ err: error, sink }, `audit export: worker for ${sink}: ${error.message}`),
        );
        this.workers.push(worker);
      }
    }
    if (roles.relay) {
      this.relay = new ExportRelay(
        this.options.dataSource,
        this.queues,
        {
          ...this.settings,
          batchSize: config.batchSize,
          batchMaxWaitMs: config.batchMaxWaitMs,
          maxPending: MAX_PENDING,
          deadLetterRetrySeconds: config.deadLetterRetrySeconds,
          ...(this.signingKey && config.s3
            ? {
                checkpoints: {
                  key: this.signingKey,
                  intervalSeconds: config.checkpoints.intervalSeconds,
                  prefix: config.s3.prefix,
                },
              }
            : {}),
        },
        logger,
      );
    }
    logger.info(
      { sinks: this.sinks, relay: roles.relay, processors: roles.processors, prefix: config.queuePrefix },
      `audit export: shipping to ${this.sinks.join(', ') || 'no sink'}`,
    );
    this.schedule(0);
  }

  /** Runs one relay pass now (tests, and the loop). Resolves false when another process leads. */
  async relayOnce(): Promise<boolean> {
    return this.relay ? this.relay.tick() : false;
  }

  /**
   * Forgets finished S3 jobs whose batches were put back to pending (the reconciler), so the
   * relay's next add makes a fresh job: a completed job still holds its id.
   */
  async requeue(jobIds: string[], sink = 's3'): Promise<void> {
    const queue = this.queues.get(sink);
    for (const id of jobIds) await queue?.remove(id);
  }

  /** Every sink's backlog, dead letters and last success or error. */
  async backlog(): Promise<SinkBacklog[]> {
    const outbox = new Outbox((sql, params) => this.options.dataSource.query(sql, params));
    return Promise.all(this.sinks.map((sink) => outbox.backlog(sink)));
  }

  /**
   * Stops the relay, lets each worker finish its current job (or, with `force`, abandons it: its
   * lock expires and another worker redoes it, which is safe because deliveries are idempotent),
   * closes queues and connections.
   */
  async stop(options: { force?: boolean } = {}): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    await this.relayRunning;
    // A pass waiting on a slow S3 listing must not hold up a forced (gateway) shutdown.
    if (!options.force) await this.reconciling;
    await this.relay?.resign();
    await Promise.all(this.workers.map((w) => w.close(options.force === true)));
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    await Promise.all([...this.deliveries.values()].map((d) => d.close()));
    this.producer.disconnect();
    this.workerConnection.disconnect();
  }

  private schedule(delayMs: number): void {
    if (this.stopping) return;
    this.timer = setTimeout(() => {
      this.relayRunning = this.loop().finally(() => {
        this.relayRunning = undefined;
        this.schedule(this.options.config.relayIntervalMs);
      });
    }, delayMs);
    this.timer.unref();
  }

  private async loop(): Promise<void> {
    try {
      await this.relayOnce();
      if (this.lastRelayError) this.options.logger.info('audit export: relay recovered');
      this.lastRelayError = '';
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      // Redis or Postgres away: the relay pauses and says so once, not every tick (R31).
      if (message !== this.lastRelayError) {
        this.options.logger.warn({ err: error }, `audit export: relay paused: ${message}`);
        this.lastRelayError = message;
      }
    }
    if (this.relay?.isLeader) {
      await this.checkLag();
      // A pass lists the bucket and may take a while: it runs beside the relay, not in its way.
      const every = this.options.config.reconcile.intervalSeconds * 1000;
      if (!this.reconciling && Date.now() - this.reconciledAt >= every) {
        this.reconciledAt = Date.now();
        this.reconciling = this.reconcileOnce()
          .catch((error: unknown) => {
            if (!this.stopping)
              this.options.logger.warn({ err: error }, 'audit export: the reconciler could not run');
          })
          .finally(() => (this.reconciling = undefined));
      }
    }
  }

  /**
   * One reconciler pass over every sink that ships records (R22): S3 against the bucket listing,
   * each SIEM against its acknowledgements; see {@link Reconciler}. Stores and returns the results.
   */
  async reconcileOnce(): Promise<SinkReconciliation[]> {
    const { config, logger, dataSource } = this.options;
    const reconciler = new Reconciler(
      (sql, params) => dataSource.query(sql, params),
      { lookbackHours: config.reconcile.lookbackHours, gapAlertSeconds: config.reconcile.gapAlertSeconds },
      logger,
    );
    const out: SinkReconciliation[] = [];
    for (const [sink, delivery] of this.deliveries) {
      if (sink === ALERTS_SINK) continue;
      const archive = delivery instanceof S3Delivery ? delivery.archive : undefined;
      out.push(await reconciler.run(sink, archive, (jobs) => this.requeue(jobs, sink)));
    }
    return out;
  }

  /** Alerts (error log; the metric reads the same backlog) when a sink's oldest undelivered record is too old (R32). */
  private async checkLag(): Promise<void> {
    let backlogs: SinkBacklog[];
    try {
      backlogs = await this.backlog();
    } catch {
      return;
    }
    this.options.onBacklog?.(backlogs);
    const limit = this.options.config.lagAlertSeconds;
    for (const b of backlogs) {
      const lag = b.oldestUndelivered ? (Date.now() - b.oldestUndelivered.getTime()) / 1000 : 0;
      if (lag > limit && !this.alerting.has(b.sink)) {
        this.alerting.add(b.sink);
        this.options.logger.error(
          { sink: b.sink, lagSeconds: Math.round(lag), undelivered: b.undelivered, lastError: b.lastError },
          `audit export: ${b.sink} is ${Math.round(lag)} s behind (alert above ${limit} s); last error: ${b.lastError ?? 'none'}`,
        );
      } else if (lag <= limit && this.alerting.delete(b.sink)) {
        this.options.logger.info({ sink: b.sink }, `audit export: ${b.sink} caught up`);
      }
    }
  }

  /** Delivers one batch or writes one checkpoint; idempotent. */
  private async handleJob(delivery: BatchDelivery, job: Job): Promise<string> {
    const query = (sql: string, params?: unknown[]) => this.options.dataSource.query(sql, params);
    if (job.name === 'checkpoint') {
      const s3 = delivery instanceof S3Delivery ? delivery.archive : undefined;
      const number = (job.data as { number: number }).number;
      const store = new CheckpointStore(query, this.options.config.s3?.prefix ?? '');
      const row = await store.get(number);
      if (!s3 || !row) throw new UnrecoverableError(`checkpoint ${number} is not in the database`);
      if (row.status === 'done') return 'done';
      await s3.writeJson(row.objectKey, row.text);
      await store.done(number);
      return row.objectKey;
    }
    const ref = job.data as BatchRef;
    const outbox = new Outbox(query);
    const batch = await outbox.batch(ref);
    if (!batch) throw new UnrecoverableError(`batch ${job.id ?? ''} is not in the outbox`);
    if (batch.status === 'done') return 'done';
    const rows = await outbox.records(ref);
    if (rows.length !== ref.lastSeq - ref.firstSeq + 1) {
      throw new UnrecoverableError(
        new ExportError(
          ExportErrorCode.BATCH_INCOMPLETE,
          `writer ${ref.writerId} seq ${ref.firstSeq}..${ref.lastSeq}: ${rows.length} of ${ref.lastSeq - ref.firstSeq + 1} records in audit_event; run gatehouse audit verify`,
        ).message,
      );
    }
    try {
      const where = await delivery.deliver(ref, rows);
      await outbox.done(ref, job.attemptsMade + 1, where);
      return where ?? 'delivered';
    } catch (error) {
      if (error instanceof ExportError && error.code === ExportErrorCode.OBJECT_CONFLICT) {
        throw new UnrecoverableError(error.message);
      }
      throw error;
    }
  }

  private onFailed(sink: string, job: Job | undefined, error: Error): void {
    if (!job || job.name !== 'batch') return;
    const ref = job.data as BatchRef;
    const dead = job.attemptsMade >= (job.opts.attempts ?? 1) || error instanceof UnrecoverableError;
    const outbox = new Outbox((sql, params) => this.options.dataSource.query(sql, params));
    outbox
      .failed(ref, job.attemptsMade, error.message, dead)
      .catch((err: unknown) =>
        this.options.logger.warn({ err, sink }, 'audit export: could not record a failed attempt'),
      );
    // A sink that is down fails every job on every attempt: those go to debug (health, the lag
    // alert and the sink's last error tell the story); a dead letter is an error.
    const log = dead
      ? this.options.logger.error.bind(this.options.logger)
      : this.options.logger.debug.bind(this.options.logger);
    log(
      { sink, job: job.id, attempts: job.attemptsMade, err: error },
      dead
        ? `audit export: ${job.id ?? ''} failed every attempt and is a dead letter: ${error.message}`
        : `audit export: ${job.id ?? ''} attempt ${job.attemptsMade} failed, retrying: ${error.message}`,
    );
  }
}

/**
 * The destinations `export.*` configures: S3, each SIEM (its own cursor), and the alert detector
 * feeding every SIEM when there is one.
 */
export function configuredDeliveries(config: ExportConfig, query: Query): BatchDelivery[] {
  const out: BatchDelivery[] = [];
  if (config.s3) out.push(new S3Delivery(new S3Archive(config.s3)));
  const siems = Object.entries(config.siem).map(([name, c]) => siemSinkFromConfig(name, c));
  for (const siem of siems) out.push(new SiemDelivery(siem));
  if (siems.length > 0) out.push(new AlertDelivery(query, siems, config.alerts));
  return out;
}
