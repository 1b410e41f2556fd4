import { batchJobId, type BatchRef } from './keys';

/** One SQL statement on one connection (`DataSource.query`, `QueryRunner.query`, a wrapped `pg` client). */
export type Query = (sql: string, params?: unknown[]) => Promise<Array<Record<string, unknown>>>;

/** A batch row as the relay and processors need it. */
export interface BatchRow extends BatchRef {
  jobId: string;
  status: 'pending' | 'done' | 'dead';
  attempts: number;
  lastError: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** What health reports for one sink. */
export interface SinkBacklog {
  sink: string;
  /** Records committed to `audit_event` and not yet delivered to this sink. */
  undelivered: number;
  /** `occurred_at` of the oldest undelivered record (null: nothing waits). */
  oldestUndelivered: Date | null;
  lastSuccessAt: Date | null;
  lastError: string | null;
  lastErrorAt: Date | null;
  pendingBatches: number;
  deadLetters: BatchRow[];
}

/** Options of {@link Outbox.plan}. */
export interface PlanOptions {
  batchSize: number;
  /** A batch smaller than batchSize is cut once its first record is this old (ms). */
  maxWaitMs: number;
  /** No new batches while this many are pending for the sink (bounded work per relay tick). */
  maxPending: number;
}

const toBatch = (r: Record<string, unknown>): BatchRow => ({
  sink: String(r.sink),
  writerId: String(r.writer_id),
  firstSeq: Number(r.first_seq),
  lastSeq: Number(r.last_seq),
  jobId: String(r.job_id),
  status: r.status as BatchRow['status'],
  attempts: Number(r.attempts),
  lastError: (r.last_error as string | null) ?? null,
  createdAt: r.created_at as Date,
  updatedAt: r.updated_at as Date,
});

/**
 * The export's state in Postgres: which records of which writer chain are cut into batches and
 * delivered, per sink. `audit_chain_head` (kept by a trigger in the same transaction as each
 * audit INSERT) says what exists; the relay cuts it into `audit_export_batch` rows; processors mark
 * them done. Redis only carries the work; after a flush, {@link pending} is everything to re-enqueue.
 */
export class Outbox {
  constructor(private readonly query: Query) {}

  /**
   * Cuts records no batch covers yet into new `pending` batches of at most `batchSize` records,
   * per writer chain, and returns them. Run it inside a transaction (the cursor and batch rows
   * change together) by the relay leader only.
   */
  async plan(sink: string, options: PlanOptions): Promise<BatchRef[]> {
    const [open] = await this.query(
      `SELECT count(*)::int AS n FROM audit_export_batch WHERE sink = $1 AND status <> 'done'`,
      [sink],
    );
    let room = options.maxPending - Number(open?.n ?? 0);
    if (room <= 0) return [];
    const chains = await this.query(
      `SELECT h.writer_id, h.last_seq, COALESCE(c.planned_seq, 0) AS planned,
              (SELECT e.occurred_at FROM audit_event e
                WHERE e.writer_id = h.writer_id AND e.seq = COALESCE(c.planned_seq, 0) + 1 LIMIT 1) AS first_at
         FROM audit_chain_head h
         LEFT JOIN audit_export_cursor c ON c.sink = $1 AND c.writer_id = h.writer_id
        WHERE h.last_seq > COALESCE(c.planned_seq, 0)
        ORDER BY first_at NULLS LAST`,
      [sink],
    );
    const planned: BatchRef[] = [];
    const now = Date.now();
    for (const chain of chains) {
      const writerId = String(chain.writer_id);
      const last = Number(chain.last_seq);
      let next = Number(chain.planned) + 1;
      const firstAt = chain.first_at instanceof Date ? chain.first_at.getTime() : now;
      while (next <= last && room > 0) {
        const end = Math.min(next + options.batchSize - 1, last);
        const full = end - next + 1 === options.batchSize;
        if (!full && now - firstAt < options.maxWaitMs) break;
        planned.push({ sink, writerId, firstSeq: next, lastSeq: end });
        next = end + 1;
        room -= 1;
      }
      if (next - 1 > Number(chain.planned)) {
        await this.query(
          `INSERT INTO audit_export_cursor (sink, writer_id, planned_seq) VALUES ($1, $2, $3)
           ON CONFLICT (sink, writer_id) DO UPDATE SET planned_seq = EXCLUDED.planned_seq`,
          [sink, writerId, next - 1],
        );
      }
      if (room <= 0) break;
    }
    if (planned.length > 0) {
      await this.query(
        `INSERT INTO audit_export_batch (sink, writer_id, first_seq, last_seq, job_id)
         SELECT $1, w, f, l, j FROM unnest($2::uuid[], $3::bigint[], $4::bigint[], $5::text[]) AS t(w, f, l, j)
         ON CONFLICT DO NOTHING`,
        [
          sink,
          planned.map((b) => b.writerId),
          planned.map((b) => b.firstSeq),
          planned.map((b) => b.lastSeq),
          planned.map((b) => batchJobId(b)),
        ],
      );
    }
    return planned;
  }

  /** Batches of `sink` not yet delivered and not dead: the relay (re-)enqueues each. */
  async pending(sink: string, limit: number): Promise<BatchRow[]> {
    const rows = await this.query(
      `SELECT * FROM audit_export_batch WHERE sink = $1 AND status = 'pending' ORDER BY created_at, writer_id, first_seq LIMIT $2`,
      [sink, limit],
    );
    return rows.map(toBatch);
  }

  /** One batch, or undefined when the relay never planned it. */
  async batch(ref: BatchRef): Promise<BatchRow | undefined> {
    const [row] = await this.query(
      `SELECT * FROM audit_export_batch WHERE sink = $1 AND writer_id = $2 AND first_seq = $3`,
      [ref.sink, ref.writerId, ref.firstSeq],
    );
    return row ? toBatch(row) : undefined;
  }

  /** The batch's records in `seq` order, as `pg` returns them. */
  async records(ref: BatchRef): Promise<Array<Record<string, unknown>>> {
    return this.query(
      `SELECT * FROM audit_event WHERE writer_id = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq`,
      [ref.writerId, ref.firstSeq, ref.lastSeq],
    );
  }

  /**
   * Marks the batch delivered and moves the sink's `exported_seq` of the chain to the end of the
   * contiguous run of delivered batches. Idempotent: a batch delivered twice changes nothing.
   */
  async done(ref: BatchRef, attempts: number, objectKey: string | null): Promise<void> {
    await this.query(
      `WITH b AS (
         UPDATE audit_export_batch SET status = 'done', done_at = now(), updated_at = now(), attempts = $4,
                object_key = $5, last_error = NULL
          WHERE sink = $1 AND writer_id = $2 AND first_seq = $3 AND status <> 'done' RETURNING 1
       ), s AS (
         INSERT INTO audit_export_sink (sink, last_success_at) VALUES ($1, now())
         ON CONFLICT (sink) DO UPDATE SET last_success_at = now()
       )
       UPDATE audit_export_cursor c SET exported_seq = GREATEST(c.exported_seq, COALESCE(
         (SELECT min(first_seq) - 1 FROM audit_export_batch
           WHERE sink = $1 AND writer_id = $2 AND status <> 'done' AND first_seq <> $3),
         c.planned_seq))
        WHERE c.sink = $1 AND c.writer_id = $2`,
      [ref.sink, ref.writerId, ref.firstSeq, attempts, objectKey],
    );
  }

  /**
   * Recomputes every lagging cursor of `sink` from its batches. Two batches of one chain finishing
   * at the same moment each see the other as not done yet; the relay's next tick settles it.
   */
  async settleCursors(sink: string): Promise<void> {
    await this.query(
      `UPDATE audit_export_cursor c SET exported_seq = COALESCE(
         (SELECT min(first_seq) - 1 FROM audit_export_batch b
           WHERE b.sink = c.sink AND b.writer_id = c.writer_id AND b.status <> 'done'),
         c.planned_seq)
        WHERE c.sink = $1 AND c.exported_seq < c.planned_seq`,
      [sink],
    );
  }

  /** Records a failed attempt; `dead` when it was the last one (a dead letter, listed in health). */
  async failed(ref: BatchRef, attempts: number, error: string, dead: boolean): Promise<void> {
    await this.query(
      `WITH s AS (
         INSERT INTO audit_export_sink (sink, last_error, last_error_at) VALUES ($1, $5, now())
         ON CONFLICT (sink) DO UPDATE SET last_error = EXCLUDED.last_error, last_error_at = now()
       )
       UPDATE audit_export_batch SET attempts = $4, last_error = $5, updated_at = now(),
              status = CASE WHEN $6::boolean THEN 'dead' ELSE status END
        WHERE sink = $1 AND writer_id = $2 AND first_seq = $3 AND status <> 'done'`,
      [ref.sink, ref.writerId, ref.firstSeq, attempts, error.slice(0, 2000), dead],
    );
  }

  /** Dead letters whose last failure is older than `coolDownSeconds` become pending again. */
  async reviveDead(sink: string, coolDownSeconds: number): Promise<BatchRow[]> {
    const rows = await this.query(
      // A CTE, so the statement is a SELECT: TypeORM answers UPDATE … RETURNING with [rows, count].
      `WITH revived AS (
         UPDATE audit_export_batch SET status = 'pending', updated_at = now()
          WHERE sink = $1 AND status = 'dead' AND updated_at < now() - make_interval(secs => $2)
          RETURNING *)
       SELECT * FROM revived`,
      [sink, coolDownSeconds],
    );
    return rows.map(toBatch);
  }

  /** The backlog and state of one sink, for health and the lag alert. */
  async backlog(sink: string): Promise<SinkBacklog> {
    const [lag] = await this.query(
      `SELECT COALESCE(sum(h.last_seq - COALESCE(c.exported_seq, 0)), 0)::bigint AS undelivered,
              min(e.occurred_at) AS oldest
         FROM audit_chain_head h
         LEFT JOIN audit_export_cursor c ON c.sink = $1 AND c.writer_id = h.writer_id
         LEFT JOIN LATERAL (SELECT occurred_at FROM audit_event
                             WHERE writer_id = h.writer_id AND seq = COALESCE(c.exported_seq, 0) + 1 LIMIT 1) e ON true
        WHERE h.last_seq > COALESCE(c.exported_seq, 0)`,
      [sink],
    );
    const [state] = await this.query(`SELECT * FROM audit_export_sink WHERE sink = $1`, [sink]);
    const [pending] = await this.query(
      `SELECT count(*)::int AS n FROM audit_export_batch WHERE sink = $1 AND status = 'pending'`,
      [sink],
    );
    const dead = await this.query(
      `SELECT * FROM audit_export_batch WHERE sink = $1 AND status = 'dead' ORDER BY updated_at LIMIT 100`,
      [sink],
    );
    return {
      sink,
      undelivered: Number(lag?.undelivered ?? 0),
      oldestUndelivered: (lag?.oldest as Date | null) ?? null,
      lastSuccessAt: (state?.last_success_at as Date | null) ?? null,
      lastError: (state?.last_error as string | null) ?? null,
      lastErrorAt: (state?.last_error_at as Date | null) ?? null,
      pendingBatches: Number(pending?.n ?? 0),
      deadLetters: dead.map(toBatch),
    };
  }
}
