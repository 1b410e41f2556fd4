import type { KeyObject } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { DataSource, QueryRunner } from 'typeorm';
import type { Logger } from '@gatehouse/observability';
import { ALERTS_SINK } from './alerts';
import { CheckpointStore } from './checkpoint-store';
import { checkpointJobId } from './keys';
import { Outbox, type Query } from './outbox';
import { jobOptions, type QueueSettings } from './queue';

/** Postgres advisory lock key of the relay leader (one relay at a time across all processes). */
const RELAY_LOCK = `hashtext('gatehouse.audit_export.relay')`;

/** What the relay needs besides its queues. */
export interface RelayOptions extends QueueSettings {
  batchSize: number;
  batchMaxWaitMs: number;
  maxPending: number;
  deadLetterRetrySeconds: number;
  checkpoints?: { key: KeyObject; intervalSeconds: number; prefix: string };
}

/**
 * Turns the outbox into BullMQ jobs. One relay leads at a time (a session-level Postgres advisory
 * lock on its own connection; when that connection dies the lock goes with it and another process
 * takes over). Each tick, per sink: cut new records into batches, settle cursors, revive dead
 * letters past their cool-down, and add every pending batch's job. Adding a job whose id exists is
 * a no-op, so the same call re-enqueues exactly what Redis lost after a flush (R23); a Redis
 * outage only makes the tick fail, and the next one catches up (R31).
 */
export class ExportRelay {
  private runner: QueryRunner | undefined;
  private leader = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly queues: ReadonlyMap<string, Queue>,
    private readonly options: RelayOptions,
    private readonly logger: Logger,
  ) {}

  /** True while this process holds the relay lock. */
  get isLeader(): boolean {
    return this.leader;
  }

  /** One pass; returns false when another process leads. */
  async tick(): Promise<boolean> {
    const query = await this.lead();
    if (!query) return false;
    try {
      for (const [sink, queue] of this.queues) await this.relaySink(query, sink, queue);
      if (this.options.checkpoints) await this.relayCheckpoints(query, this.options.checkpoints);
    } catch (error) {
      if (!this.runner || this.runner.isReleased || !(await this.alive())) await this.resign();
      throw error;
    }
    return true;
  }

  /** Gives up the lead and the connection. */
  async resign(): Promise<void> {
    const runner = this.runner;
    this.runner = undefined;
    this.leader = false;
    if (runner && !runner.isReleased) {
      await runner.query(`SELECT pg_advisory_unlock(${RELAY_LOCK})`).catch(() => undefined);
      await runner.release().catch(() => undefined);
    }
  }

  private async lead(): Promise<Query | undefined> {
    if (!this.runner || this.runner.isReleased) {
      this.leader = false;
      this.runner = this.dataSource.createQueryRunner();
      await this.runner.connect();
    }
    const runner = this.runner;
    if (!this.leader) {
      const [row] = (await runner.query(`SELECT pg_try_advisory_lock(${RELAY_LOCK}) AS ok`)) as Array<{
        ok: boolean;
      }>;
      this.leader = row?.ok === true;
      if (this.leader) this.logger.info('audit export: this process relays the outbox');
    }
    return this.leader
      ? (sql, params) => runner.query(sql, params) as Promise<Array<Record<string, unknown>>>
      : undefined;
  }

  private async alive(): Promise<boolean> {
    try {
      await this.runner?.query('SELECT 1');
      return true;
    } catch {
      return false;
    }
  }

  private async relaySink(query: Query, sink: string, queue: Queue): Promise<void> {
    const outbox = new Outbox(query);
    await query('BEGIN');
    try {
      await outbox.plan(sink, {
        batchSize: this.options.batchSize,
        // Alerts are cut at once: they must not wait for a batch to fill.
        maxWaitMs: sink === ALERTS_SINK ? 0 : this.options.batchMaxWaitMs,
        maxPending: this.options.maxPending,
      });
      await query('COMMIT');
    } catch (error) {
      await query('ROLLBACK').catch(() => undefined);
      throw error;
    }
    await outbox.settleCursors(sink);
    await this.markFailedJobs(outbox, sink, queue);
    for (const revived of await outbox.reviveDead(sink, this.options.deadLetterRetrySeconds)) {
      // The failed job still holds the id; remove it so the add below makes a fresh one.
      await queue.remove(revived.jobId);
      this.logger.warn({ sink, job: revived.jobId }, `audit export: retrying dead letter ${revived.jobId}`);
    }
    const pending = await outbox.pending(sink, this.options.maxPending);
    if (pending.length === 0) return;
    await queue.addBulk(
      pending.map((b) => ({
        name: 'batch',
        data: { sink: b.sink, writerId: b.writerId, firstSeq: b.firstSeq, lastSeq: b.lastSeq },
        opts: jobOptions(this.options, b.jobId),
      })),
    );
  }

  /**
   * Jobs BullMQ failed for good (every attempt used, or stalled too often) whose batch is still
   * pending, for instance because the worker died before recording the last failure: dead letters.
   */
  private async markFailedJobs(outbox: Outbox, sink: string, queue: Queue): Promise<void> {
    const failed = await queue.getJobs(['failed'], 0, 199);
    for (const job of failed) {
      if (job.name !== 'batch') continue;
      const ref = job.data as { sink: string; writerId: string; firstSeq: number; lastSeq: number };
      const batch = await outbox.batch(ref);
      if (batch?.status === 'pending' && batch.updatedAt.getTime() <= (job.finishedOn ?? Date.now())) {
        await outbox.failed(ref, job.attemptsMade, job.failedReason || 'failed', true);
        this.logger.error(
          { sink, job: job.id, err: job.failedReason },
          `audit export: ${job.id} failed every attempt; it is a dead letter until its cool-down ends`,
        );
      }
    }
  }

  private async relayCheckpoints(
    query: Query,
    options: NonNullable<RelayOptions['checkpoints']>,
  ): Promise<void> {
    const queue = this.queues.get('s3');
    if (!queue) return;
    const store = new CheckpointStore(query, options.prefix);
    const made = await store.makeDue(options.key, options.intervalSeconds);
    if (made)
      this.logger.info(
        { checkpoint: made.body.number },
        `audit export: checkpoint ${made.body.number} signed`,
      );
    const pending = await store.pending();
    if (pending.length === 0) return;
    // A checkpoint whose job failed every attempt (S3 down longer than the retry horizon) is a
    // dead letter too: after the cool-down its job is removed so the add below starts it afresh.
    for (const c of pending) {
      const job = await queue.getJob(checkpointJobId(c.number));
      const coolDown = this.options.deadLetterRetrySeconds * 1000;
      if (job && (await job.isFailed()) && Date.now() - (job.finishedOn ?? 0) >= coolDown) {
        await job.remove();
        this.logger.warn({ checkpoint: c.number }, `audit export: retrying checkpoint ${c.number}`);
      }
    }
    await queue.addBulk(
      pending.map((c) => ({
        name: 'checkpoint',
        data: { number: c.number },
        opts: jobOptions(this.options, checkpointJobId(c.number)),
      })),
    );
  }
}
