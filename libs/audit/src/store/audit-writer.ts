import { randomUUID } from 'node:crypto';
import type {
  BeforeApplicationShutdown,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { preparedQuery } from '@gatehouse/db';
import type { AuditRecord, AuditSink } from '../types';
import { chainedRow, GENESIS_HASH, type ChainedRow } from './canonical';

/** Sizes of {@link AuditWriter}; the gateway takes them from `audit.*` in the configuration. */
export interface AuditWriterOptions {
  /** Records queued at most; an append that does not fit waits (backpressure). */
  queueSize: number;
  /** Records written in one INSERT at most (one append is never split). */
  batchSize: number;
  /** Longest a record waits for its batch to fill. */
  flushMs: number;
  /**
   * Chains written in parallel, each one INSERT at a time (default 2): while one lane's INSERT
   * runs in Postgres the next lane hashes and encodes its batch.
   */
  lanes?: number;
  /**
   * An append not committed this long after it was made rejects (default 2,000 ms, R30), so a
   * database that hangs instead of refusing still fails calls closed. Its records still waiting in
   * the queue are withdrawn; records already in an INSERT may yet commit.
   */
  timeoutMs?: number;
}

/** What the writer holds right now; for tests and metrics. */
export interface AuditWriterStats {
  /** Records queued, not yet in a batch. */
  queued: number;
  /** Appends waiting for room in the queue. */
  waiting: number;
  /** Records in batches being written. */
  writing: number;
  /** The chain of each lane now, and the sequence number of its last committed record (0: none yet). */
  chains: Array<{ writerId: string; seq: number }>;
}

interface Ticket {
  records: AuditRecord[];
  /** Where the records are: waiting for room, queued, in an INSERT, or settled. */
  state: 'waiting' | 'queued' | 'writing' | 'settled';
  settle: (err?: Error) => void;
}

/** One chain and the batch it is writing, if any. */
interface Lane {
  writerId: string;
  seq: number;
  lastHash: Buffer;
  writing: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Appends rows to `audit_event`; `$1` is the JSON array of {@link ChainedRow}s. */
export const AUDIT_INSERT = `INSERT INTO audit_event SELECT * FROM jsonb_populate_recordset(NULL::audit_event, $1::jsonb)`;

/**
 * Appends audit records to `audit_event` with group commit: appends queue up (at most
 * `queueSize` records, then callers wait), and each lane writes up to `batchSize` queued records
 * in one INSERT, one INSERT at a time. `append` resolves once its records are committed and
 * rejects when the INSERT fails.
 *
 * Each lane extends its own hash chain (`writer_id`, `seq` 1..n, `hash = sha256(prev_hash ||
 * canonical(row))`), so replicas, lanes and concurrent calls never share a lock. After a failed
 * INSERT the lane starts a new chain: whether the failed statement committed is unknown, and
 * continuing the old chain could fork it.
 */
export class AuditWriter
  implements AuditSink, OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown
{
  private readonly queue: Ticket[] = [];
  private queuedRecords = 0;
  private readonly waiters: Ticket[] = [];
  private readonly lanes: Lane[];
  /** The pending flush: a timer for `flushMs` > 0, an immediate for 0. */
  private timer: { cancel(): void } | undefined;
  private readonly idle: Array<() => void> = [];
  private readonly months = new Set<string>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly options: AuditWriterOptions,
  ) {
    this.lanes = Array.from({ length: Math.max(1, options.lanes ?? 2) }, () => newChain());
  }

  /** Creates the partitions for this month and the next, so the first calls do not pay for it. */
  async start(now = new Date()): Promise<void> {
    const next = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
    await this.ensureMonths([now, next]);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.start();
  }

  /** Everything queued is written before DbModule closes the database in onApplicationShutdown. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.flush();
  }

  /** Records appended by other shutdown hooks after ours (aborted calls, R25) are written too. */
  async onApplicationShutdown(): Promise<void> {
    await this.flush();
  }

  /**
   * Resolves once `records` are committed; rejects when they cannot be: the INSERT failed, or
   * they were not committed within `timeoutMs`.
   */
  append(records: AuditRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    const bad = records.find((r) => !UUID.test(r.id) || Number.isNaN(r.occurredAt.getTime()));
    if (bad) return Promise.reject(new Error(`audit record ${bad.id} has an invalid id or occurredAt`));
    return new Promise<void>((resolve, reject) => {
      const timeoutMs = this.options.timeoutMs ?? 2000;
      const timer = setTimeout(() => this.expire(ticket, timeoutMs), timeoutMs);
      const ticket: Ticket = {
        records,
        state: 'waiting',
        settle: (err) => {
          if (ticket.state === 'settled') return;
          ticket.state = 'settled';
          clearTimeout(timer);
          if (err) reject(err);
          else resolve();
        },
      };
      // Records that fit are queued synchronously, so appends made together land in one batch.
      if (this.waiters.length === 0 && this.fits(records.length)) {
        this.enqueue(ticket);
        this.schedule();
      } else {
        this.waiters.push(ticket);
      }
    });
  }

  private enqueue(ticket: Ticket): void {
    ticket.state = 'queued';
    this.queuedRecords += ticket.records.length;
    this.queue.push(ticket);
  }

  /** Rejects an append that took too long; records not yet in an INSERT are withdrawn. */
  private expire(ticket: Ticket, timeoutMs: number): void {
    if (ticket.state === 'waiting') this.waiters.splice(this.waiters.indexOf(ticket), 1);
    if (ticket.state === 'queued') {
      this.queue.splice(this.queue.indexOf(ticket), 1);
      this.queuedRecords -= ticket.records.length;
      this.admitWaiters();
      if (this.queue.length > 0) this.schedule();
    }
    ticket.settle(new Error(`audit records not committed within ${timeoutMs} ms`));
    if (this.isIdle()) this.idle.splice(0).forEach((done) => done());
  }

  /** Writes everything queued now, without waiting for `flushMs`; resolves when the writer is idle. */
  async flush(): Promise<void> {
    if (this.isIdle()) return;
    const done = new Promise<void>((resolve) => this.idle.push(resolve));
    this.kick();
    await done;
  }

  stats(): AuditWriterStats {
    return {
      queued: this.queuedRecords,
      waiting: this.waiters.length,
      writing: this.lanes.reduce((n, lane) => n + lane.writing, 0),
      chains: this.lanes.map((lane) => ({ writerId: lane.writerId, seq: lane.seq })),
    };
  }

  /** An append larger than the whole queue waits for an empty one. */
  private fits(size: number): boolean {
    return this.queuedRecords === 0 || this.queuedRecords + size <= this.options.queueSize;
  }

  private admitWaiters(): void {
    // First come, first served: a large append at the head is not overtaken by small ones.
    for (let head = this.waiters[0]; head && this.fits(head.records.length); head = this.waiters[0]) {
      this.waiters.shift();
      this.enqueue(head);
    }
  }

  private isIdle(): boolean {
    return (
      this.lanes.every((lane) => lane.writing === 0) && this.queuedRecords === 0 && this.waiters.length === 0
    );
  }

  /**
   * A pending flush() or a full batch is written now. Otherwise records wait up to flushMs: with 0,
   * for the end of this turn of the event loop (setImmediate), so appends made meanwhile share the
   * batch (setTimeout(0) would add a whole millisecond to every call's intent).
   */
  private schedule(): void {
    if (this.idle.length > 0 || this.queuedRecords >= this.options.batchSize) {
      this.kick();
      return;
    }
    if (this.timer) return;
    // kick() clears the pending flush, the one that fired included.
    const fire = () => this.kick();
    if (this.options.flushMs > 0) {
      const timeout = setTimeout(fire, this.options.flushMs);
      this.timer = { cancel: () => clearTimeout(timeout) };
    } else {
      const immediate = setImmediate(fire);
      this.timer = { cancel: () => clearImmediate(immediate) };
    }
  }

  /** Gives a batch to every free lane while records are queued. */
  private kick(): void {
    this.timer?.cancel();
    this.timer = undefined;
    for (const lane of this.lanes) {
      if (lane.writing > 0 || this.queue.length === 0) continue;
      const batch = this.take();
      void this.writeBatch(lane, batch).finally(() => this.afterBatch());
    }
  }

  /** Records that queued up while a lane was writing are written at once (group commit). */
  private afterBatch(): void {
    if (this.queue.length > 0) this.kick();
    else if (this.isIdle()) this.idle.splice(0).forEach((done) => done());
  }

  private take(): Ticket[] {
    const batch: Ticket[] = [];
    let size = 0;
    for (
      let next = this.queue[0];
      next && (batch.length === 0 || size + next.records.length <= this.options.batchSize);
      next = this.queue[0]
    ) {
      this.queue.shift();
      batch.push(next);
      size += next.records.length;
    }
    this.queuedRecords -= size;
    this.admitWaiters();
    return batch;
  }

  private async writeBatch(lane: Lane, batch: Ticket[]): Promise<void> {
    const records = batch.flatMap((t) => t.records);
    lane.writing = records.length;
    batch.forEach((t) => (t.state = 'writing'));
    try {
      await this.write(lane, records);
      batch.forEach((t) => t.settle());
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      batch.forEach((t) =>
        t.settle(new Error(`audit records not written: ${error.message}`, { cause: error })),
      );
    } finally {
      lane.writing = 0;
    }
  }

  private async write(lane: Lane, records: AuditRecord[]): Promise<void> {
    await this.ensureMonths(records.map((r) => r.occurredAt));
    let seq = lane.seq;
    let prev = lane.lastHash;
    const rows = records.map((record): ChainedRow => {
      seq += 1;
      const { row, hash } = chainedRow(record, lane.writerId, seq, prev);
      prev = hash;
      return row;
    });
    try {
      await preparedQuery(this.dataSource, 'gatehouse_audit_insert', AUDIT_INSERT, [JSON.stringify(rows)]);
    } catch (err) {
      Object.assign(lane, newChain());
      throw err;
    }
    lane.seq = seq;
    lane.lastHash = prev;
  }

  private async ensureMonths(times: Date[]): Promise<void> {
    for (const at of times) {
      const month = at.toISOString().slice(0, 7);
      if (this.months.has(month)) continue;
      await this.dataSource.query('SELECT audit_ensure_partition($1)', [at.toISOString()]);
      this.months.add(month);
    }
  }
}

function newChain(): Lane {
  return { writerId: randomUUID(), seq: 0, lastHash: GENESIS_HASH, writing: 0 };
}
