import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import type { AuditRecord, AuditSink } from '../types';
import { chainHash, contentRow, GENESIS_HASH, type ContentRow } from './canonical';

/** Sizes of {@link AuditWriter}; the gateway takes them from `audit.*` in the configuration. */
export interface AuditWriterOptions {
  /** Records queued at most; an append that does not fit waits (backpressure). */
  queueSize: number;
  /** Records written in one INSERT at most (one append is never split). */
  batchSize: number;
  /** Longest a record waits for its batch to fill. */
  flushMs: number;
}

/** What the writer holds right now; for tests and metrics. */
export interface AuditWriterStats {
  /** Records queued, not yet in a batch. */
  queued: number;
  /** Appends waiting for room in the queue. */
  waiting: number;
  /** Records in the batch being written. */
  writing: number;
  /** The chain this writer appends to now. */
  writerId: string;
  /** Sequence number of the last committed record of that chain (0: none yet). */
  seq: number;
}

interface Ticket {
  records: AuditRecord[];
  resolve: () => void;
  reject: (err: Error) => void;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const INSERT = `INSERT INTO audit_event SELECT * FROM jsonb_populate_recordset(NULL::audit_event, $1::jsonb)`;

/**
 * Appends audit records to `audit_event` with group commit: appends queue up (at most
 * `queueSize` records, then callers wait), and one INSERT at a time writes up to `batchSize`
 * queued records. `append` resolves once its records are committed and rejects when the
 * INSERT fails.
 *
 * Each writer extends its own hash chain (`writer_id`, `seq` 1..n, `hash = sha256(prev_hash ||
 * canonical(row))`), so replicas and concurrent calls never share a lock. After a failed INSERT
 * the writer starts a new chain: whether the failed statement committed is unknown, and
 * continuing the old chain could fork it.
 */
export class AuditWriter implements AuditSink {
  private readonly queue: Ticket[] = [];
  private queuedRecords = 0;
  private readonly waiters: Array<{ size: number; go: () => void }> = [];
  private writing: Ticket[] = [];
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly idle: Array<() => void> = [];
  private readonly months = new Set<string>();
  private writerId = randomUUID();
  private seq = 0;
  private lastHash = GENESIS_HASH;

  constructor(
    private readonly dataSource: DataSource,
    private readonly options: AuditWriterOptions,
  ) {}

  /** Creates the partitions for this month and the next, so the first calls do not pay for it. */
  async start(now = new Date()): Promise<void> {
    const next = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
    await this.ensureMonths([now, next]);
  }

  /** Resolves once `records` are committed; rejects when they cannot be. */
  append(records: AuditRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    const bad = records.find((r) => !UUID.test(r.id) || Number.isNaN(r.occurredAt.getTime()));
    if (bad) return Promise.reject(new Error(`audit record ${bad.id} has an invalid id or occurredAt`));
    // Records that fit are queued synchronously, so appends made together land in one batch.
    if (this.waiters.length === 0 && this.fits(records.length)) {
      this.queuedRecords += records.length;
      return this.enqueue(records);
    }
    return new Promise<void>((go) => this.waiters.push({ size: records.length, go })).then(() =>
      this.enqueue(records),
    );
  }

  private enqueue(records: AuditRecord[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ records, resolve, reject });
      this.schedule();
    });
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
      writing: this.writing.reduce((n, t) => n + t.records.length, 0),
      writerId: this.writerId,
      seq: this.seq,
    };
  }

  /** An append larger than the whole queue waits for an empty one. */
  private fits(size: number): boolean {
    return this.queuedRecords === 0 || this.queuedRecords + size <= this.options.queueSize;
  }

  private admitWaiters(): void {
    // First come, first served: a large append at the head is not overtaken by small ones.
    for (let head = this.waiters[0]; head && this.fits(head.size); head = this.waiters[0]) {
      this.waiters.shift();
      this.queuedRecords += head.size;
      head.go();
    }
  }

  private isIdle(): boolean {
    return !this.running && this.queuedRecords === 0 && this.waiters.length === 0;
  }

  private schedule(): void {
    // A pending flush() or a full batch is written now; otherwise records wait up to flushMs.
    if (this.idle.length > 0 || this.queuedRecords >= this.options.batchSize) {
      this.kick();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.kick();
    }, this.options.flushMs);
  }

  private kick(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
      if (this.queue.length > 0) this.schedule();
      else if (this.isIdle()) this.idle.splice(0).forEach((done) => done());
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch: Ticket[] = [];
      let size = 0;
      while (
        this.queue[0] &&
        (batch.length === 0 || size + this.queue[0].records.length <= this.options.batchSize)
      ) {
        const ticket = this.queue.shift() as Ticket;
        batch.push(ticket);
        size += ticket.records.length;
      }
      this.queuedRecords -= size;
      this.writing = batch;
      this.admitWaiters();
      try {
        await this.write(batch.flatMap((t) => t.records));
        batch.forEach((t) => t.resolve());
      } catch (err) {
        const error = err instanceof Error ? err : new Error(String(err));
        batch.forEach((t) =>
          t.reject(new Error(`audit records not written: ${error.message}`, { cause: error })),
        );
      } finally {
        this.writing = [];
      }
    }
  }

  private async write(records: AuditRecord[]): Promise<void> {
    await this.ensureMonths(records.map((r) => r.occurredAt));
    let seq = this.seq;
    let prev = this.lastHash;
    const rows: Array<ContentRow & Record<string, unknown>> = records.map((record) => {
      const row = contentRow(record);
      seq += 1;
      const hash = chainHash(prev, this.writerId, seq, row);
      const stored = { ...row, writer_id: this.writerId, seq, prev_hash: hex(prev), hash: hex(hash) };
      prev = hash;
      return stored;
    });
    try {
      await this.dataSource.query(INSERT, [JSON.stringify(rows)]);
    } catch (err) {
      this.writerId = randomUUID();
      this.seq = 0;
      this.lastHash = GENESIS_HASH;
      throw err;
    }
    this.seq = seq;
    this.lastHash = prev;
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

function hex(bytes: Buffer): string {
  return `\\x${bytes.toString('hex')}`;
}
