import type { Logger } from '@gatehouse/observability';
import { hourPath } from './keys';
import type { Query } from './outbox';
import type { S3Archive } from './sinks/s3-archive';

/** The most records one batch holds (`export.batchSize` is capped here): how far before a period a batch covering it can start. */
const MAX_BATCH_RECORDS = 100_000;

/** Missing ranges kept in a report (the counts stay exact). */
const MAX_LISTED = 100;

/** Sorted, merged `[first, last]` seq intervals of one writer chain. */
type Intervals = Array<[number, number]>;

/** What a sink holds, per writer chain. */
export type Holdings = Map<string, Intervals>;

/** Records of one writer chain that Postgres has and the sink does not. */
export interface MissingRange {
  writerId: string;
  firstSeq: number;
  lastSeq: number;
  records: number;
  /** `occurred_at` of the oldest of them. */
  oldestAt: Date;
}

/** One sink compared with Postgres over one period. */
export interface SinkReconciliation {
  sink: string;
  /** Where "held" comes from: the bucket listing (S3), or the sink's acknowledgements. */
  source: 'bucket' | 'acknowledgements';
  from: Date;
  to: Date;
  /** Records in Postgres that occurred within the period. */
  postgresRecords: number;
  /** Of those, the records the sink holds; equal to postgresRecords when nothing is missing. */
  heldRecords: number;
  missingRecords: number;
  /** The first ranges of missing records (at most 100). */
  missing: MissingRange[];
  oldestMissingAt: Date | null;
  /** A missing record is older than the gap threshold. */
  gapAlert: boolean;
  /** Batches put back to pending because the bucket lost them (S3 only). */
  reshipped: Array<{ job: string; writerId: string; firstSeq: number; lastSeq: number }>;
  /** Why the bucket could not be listed (the pass fell back to acknowledgements), or null. */
  error: string | null;
}

/** A batch named by a manifest or object key. */
export interface ListedBatch {
  writerId: string;
  firstSeq: number;
  lastSeq: number;
  /** `yyyy/mm/dd/hh/<writer>-<first>-<last>`: the same for a batch's manifest and object. */
  name: string;
  key: string;
}

/** The manifests and batch objects listed from the bucket for a period. */
export interface BucketListing {
  manifests: ListedBatch[];
  objects: ListedBatch[];
}

const BATCH_NAME = /(\d{4}\/\d{2}\/\d{2}\/\d{2}\/([0-9a-f-]{36})-(\d+)-(\d+))\.(?:json|jsonl\.gz)$/;

/** The batch a manifest or object key names, or undefined for another key. */
export function parseBatchKey(key: string): ListedBatch | undefined {
  const m = BATCH_NAME.exec(key);
  if (!m?.[1] || !m[2]) return undefined;
  return { name: m[1], writerId: m[2], firstSeq: Number(m[3]), lastSeq: Number(m[4]), key };
}

/**
 * Where a listing must start so that every batch holding a record that occurred in [from, to) is
 * in it: a batch is filed under the hour of its first record, which can be up to one batch of
 * records before the first record of the period.
 */
export async function listingStart(query: Query, from: Date, to: Date): Promise<Date> {
  const [row] = await query(
    `WITH w AS (
       SELECT writer_id, min(seq) AS first FROM audit_event
        WHERE occurred_at >= $1 AND occurred_at < $2 GROUP BY writer_id)
     SELECT min(e.at) AS start FROM w
       JOIN LATERAL (SELECT min(occurred_at) AS at FROM audit_event a
                      WHERE a.writer_id = w.writer_id AND a.seq BETWEEN w.first - $3 AND w.first) e ON true`,
    [from, to, MAX_BATCH_RECORDS - 1],
  );
  const start = row?.start instanceof Date ? row.start : from;
  return start < from ? start : from;
}

/**
 * Lists the manifests and objects of the batches filed under the hours from `start` through `to`
 * (everything when `start` is undefined).
 */
export async function listBucket(archive: S3Archive, start?: Date, to?: Date): Promise<BucketListing> {
  const prefix = archive.options.prefix;
  const range = (base: string) => ({
    ...(start ? { startAfter: `${base}${hourPath(start)}` } : {}),
    // '~' sorts after every character of a key below the hour.
    ...(to ? { through: `${base}${hourPath(to)}/~` } : {}),
  });
  const parse = (keys: string[]) => keys.map(parseBatchKey).filter((b): b is ListedBatch => b !== undefined);
  const manifests = parse(await archive.list(`${prefix}manifests/`, range(`${prefix}manifests/`)));
  const objects = parse(await archive.list(`${prefix}audit/`, range(`${prefix}audit/`)));
  return { manifests, objects };
}

/** Adds `[first, last]` to a writer's intervals (kept unsorted until {@link merge}). */
function add(holdings: Holdings, writerId: string, first: number, last: number): void {
  const list = holdings.get(writerId) ?? [];
  list.push([first, last]);
  holdings.set(writerId, list);
}

function merge(holdings: Holdings): Holdings {
  for (const [writer, list] of holdings) {
    list.sort((a, b) => a[0] - b[0]);
    const out: Intervals = [];
    for (const [first, last] of list) {
      const top = out[out.length - 1];
      if (top && first <= top[1] + 1) top[1] = Math.max(top[1], last);
      else out.push([first, last]);
    }
    holdings.set(writer, out);
  }
  return holdings;
}

/** The batches the bucket holds: a manifest and its object both listed. */
export function bucketHoldings(listing: BucketListing): Holdings {
  const objects = new Set(listing.objects.map((o) => o.name));
  const holdings: Holdings = new Map();
  for (const m of listing.manifests)
    if (objects.has(m.name)) add(holdings, m.writerId, m.firstSeq, m.lastSeq);
  return merge(holdings);
}

/**
 * What a sink acknowledged, from the outbox: the contiguous prefix `exported_seq` of each chain
 * and every later batch marked done (its delivery was acknowledged: see docs/export.md).
 */
export async function acknowledgedHoldings(query: Query, sink: string): Promise<Holdings> {
  const rows = await query(
    `SELECT writer_id, 1 AS first_seq, exported_seq AS last_seq FROM audit_export_cursor
      WHERE sink = $1 AND exported_seq > 0
     UNION ALL
     SELECT b.writer_id, b.first_seq, b.last_seq FROM audit_export_batch b
       JOIN audit_export_cursor c ON c.sink = b.sink AND c.writer_id = b.writer_id
      WHERE b.sink = $1 AND b.status = 'done' AND b.first_seq > c.exported_seq`,
    [sink],
  );
  const holdings: Holdings = new Map();
  for (const r of rows) add(holdings, String(r.writer_id), Number(r.first_seq), Number(r.last_seq));
  return merge(holdings);
}

/** Seq ranges within [first, last] that no interval (sorted, merged) covers. */
export function uncoveredRanges(intervals: Intervals, first: number, last: number): Intervals {
  const out: Intervals = [];
  let next = first;
  for (const [a, b] of intervals) {
    if (b < next) continue;
    if (a > last) break;
    if (a > next) out.push([next, a - 1]);
    next = Math.max(next, b + 1);
    if (next > last) break;
  }
  if (next <= last) out.push([next, last]);
  return out;
}

/** The counts of one comparison and the acknowledged high-water mark per chain. */
export interface Comparison {
  postgresRecords: number;
  heldRecords: number;
  missingRecords: number;
  missing: MissingRange[];
  oldestMissingAt: Date | null;
  /** Per chain with records in the period: every record up to this seq is held. */
  acked: Map<string, number>;
}

/**
 * Compares the records that occurred in [from, to), per writer chain and seq range, with what a
 * sink holds. Exact: a range the sink lacks is counted record by record in Postgres.
 */
export async function compareWithPostgres(
  query: Query,
  holdings: Holdings,
  from: Date,
  to: Date,
): Promise<Comparison> {
  const chains = await query(
    `SELECT writer_id, min(seq) AS first, max(seq) AS last, count(*)::bigint AS n FROM audit_event
      WHERE occurred_at >= $1 AND occurred_at < $2 GROUP BY writer_id ORDER BY writer_id`,
    [from, to],
  );
  const out: Comparison = {
    postgresRecords: 0,
    heldRecords: 0,
    missingRecords: 0,
    missing: [],
    oldestMissingAt: null,
    acked: new Map(),
  };
  for (const chain of chains) {
    const writerId = String(chain.writer_id);
    const first = Number(chain.first);
    const last = Number(chain.last);
    const intervals = holdings.get(writerId) ?? [];
    let chainMissing = 0;
    let firstMissing: number | undefined;
    for (const [a, b] of uncoveredRanges(intervals, first, last)) {
      const [gap] = await query(
        `SELECT count(*)::bigint AS n, min(seq) AS first, max(seq) AS last, min(occurred_at) AS oldest
           FROM audit_event WHERE writer_id = $1 AND seq BETWEEN $2 AND $3
            AND occurred_at >= $4 AND occurred_at < $5`,
        [writerId, a, b, from, to],
      );
      const n = Number(gap?.n ?? 0);
      if (n === 0 || !(gap?.oldest instanceof Date)) continue;
      chainMissing += n;
      firstMissing ??= Number(gap.first);
      if (out.missing.length < MAX_LISTED) {
        out.missing.push({
          writerId,
          firstSeq: Number(gap.first),
          lastSeq: Number(gap.last),
          records: n,
          oldestAt: gap.oldest,
        });
      }
      if (!out.oldestMissingAt || gap.oldest < out.oldestMissingAt) out.oldestMissingAt = gap.oldest;
    }
    const total = Number(chain.n);
    out.postgresRecords += total;
    out.missingRecords += chainMissing;
    out.heldRecords += total - chainMissing;
    const covering = intervals.find(([a, b]) => a <= last && last <= b);
    out.acked.set(writerId, firstMissing !== undefined ? firstMissing - 1 : (covering?.[1] ?? last));
  }
  return out;
}

/** Options of {@link Reconciler}. */
export interface ReconcilerOptions {
  /** Hours of records each pass covers; 0: the whole trail. */
  lookbackHours: number;
  gapAlertSeconds: number;
}

/** The last pass for one sink, as stored in `audit_export_reconcile` (health and metrics read it). */
export interface ReconcileState {
  sink: string;
  checkedAt: Date;
  source: SinkReconciliation['source'];
  periodFrom: Date;
  periodTo: Date;
  postgresRecords: number;
  heldRecords: number;
  missingRecords: number;
  oldestMissingAt: Date | null;
  reshipped: number;
  gapAlert: boolean;
  /** When the current gap alert was first raised (null: none). */
  gapSince: Date | null;
  error: string | null;
}

/** Every sink's last reconciliation. */
export async function reconcileStates(query: Query): Promise<Map<string, ReconcileState>> {
  const rows = await query(`SELECT * FROM audit_export_reconcile`);
  return new Map(
    rows.map((r) => [
      String(r.sink),
      {
        sink: String(r.sink),
        checkedAt: r.checked_at as Date,
        source: r.source as ReconcileState['source'],
        periodFrom: r.period_from as Date,
        periodTo: r.period_to as Date,
        postgresRecords: Number(r.postgres_records),
        heldRecords: Number(r.held_records),
        missingRecords: Number(r.missing_records),
        oldestMissingAt: (r.oldest_missing_at as Date | null) ?? null,
        reshipped: Number(r.reshipped),
        gapAlert: r.gap_alert === true,
        gapSince: (r.gap_since as Date | null) ?? null,
        error: (r.error as string | null) ?? null,
      },
    ]),
  );
}

/**
 * The reconciler (R22). Each pass compares, per sink, the records Postgres holds for the period
 * (per writer chain and seq range) with what the sink holds:
 * - S3: the manifests and objects listed from the bucket itself (not the outbox's word). A batch
 *   the outbox calls delivered that the bucket lacks goes back to `pending` and its cursor back
 *   before it, so the relay ships it again under the same key. When the bucket cannot be listed
 *   (S3 down), the pass falls back to the acknowledgements and says why.
 * - a SIEM: its acknowledgements (there is nothing to list), see docs/export.md for what each means.
 * Records the sink lacks that are older than `gapAlertSeconds` are a gap: logged at error once when
 * it appears (and at info when it closes), and stored with the counts for health and metrics.
 * Each chain's acknowledged high-water mark is stored in `audit_export_cursor.acked_seq`.
 */
export class Reconciler {
  constructor(
    private readonly query: Query,
    private readonly options: ReconcilerOptions,
    private readonly logger: Logger,
  ) {}

  /** Compares one sink (`archive` for S3) and stores the result; `requeue` forgets re-shipped jobs. */
  async run(
    sink: string,
    archive: S3Archive | undefined,
    requeue: (jobIds: string[]) => Promise<void>,
    now = new Date(),
  ): Promise<SinkReconciliation> {
    const to = now;
    const from =
      this.options.lookbackHours > 0
        ? new Date(now.getTime() - this.options.lookbackHours * 3_600_000)
        : new Date(0);
    let holdings: Holdings | undefined;
    let error: string | null = null;
    let listedAt = now;
    if (archive) {
      try {
        listedAt = new Date();
        holdings = bucketHoldings(await listBucket(archive, await listingStart(this.query, from, to), to));
      } catch (err) {
        error = `the bucket could not be listed (${err instanceof Error ? err.message : String(err)}); compared with the acknowledgements instead`;
      }
    }
    const source = holdings ? 'bucket' : 'acknowledgements';
    holdings ??= await acknowledgedHoldings(this.query, sink);
    const found = await compareWithPostgres(this.query, holdings, from, to);
    const result: SinkReconciliation = {
      sink,
      source,
      from,
      to,
      postgresRecords: found.postgresRecords,
      heldRecords: found.heldRecords,
      missingRecords: found.missingRecords,
      missing: found.missing,
      oldestMissingAt: found.oldestMissingAt,
      gapAlert:
        found.oldestMissingAt !== null &&
        now.getTime() - found.oldestMissingAt.getTime() > this.options.gapAlertSeconds * 1000,
      reshipped: [],
      error,
    };
    if (source === 'bucket') result.reshipped = await this.reship(sink, found.missing, listedAt);
    if (result.reshipped.length > 0) await requeue(result.reshipped.map((r) => r.job));
    for (const [writerId, seq] of found.acked) {
      await this.query(
        `INSERT INTO audit_export_cursor (sink, writer_id, acked_seq, acked_at) VALUES ($1, $2, $3, now())
         ON CONFLICT (sink, writer_id) DO UPDATE SET acked_seq = EXCLUDED.acked_seq, acked_at = now()`,
        [sink, writerId, seq],
      );
    }
    await this.store(result);
    return result;
  }

  /**
   * Batches overlapping a missing range that the outbox calls delivered (before the listing began,
   * so a delivery racing the listing is not mistaken for a loss) go back to pending.
   */
  private async reship(
    sink: string,
    missing: MissingRange[],
    listedAt: Date,
  ): Promise<SinkReconciliation['reshipped']> {
    const out: SinkReconciliation['reshipped'] = [];
    for (const range of missing) {
      const rows = await this.query(
        `SELECT writer_id, first_seq, last_seq, job_id, object_key FROM audit_export_batch
          WHERE sink = $1 AND writer_id = $2 AND status = 'done' AND done_at < $5
            AND first_seq <= $4 AND last_seq >= $3 ORDER BY first_seq`,
        [sink, range.writerId, range.firstSeq, range.lastSeq, listedAt],
      );
      for (const row of rows) {
        const batch = {
          job: String(row.job_id),
          writerId: String(row.writer_id),
          firstSeq: Number(row.first_seq),
          lastSeq: Number(row.last_seq),
        };
        await this.query(
          `WITH b AS (
             UPDATE audit_export_batch SET status = 'pending', done_at = NULL, updated_at = now(),
                    last_error = 'reconciler: not in the bucket'
              WHERE sink = $1 AND writer_id = $2 AND first_seq = $3 AND status = 'done' RETURNING 1)
           UPDATE audit_export_cursor SET exported_seq = LEAST(exported_seq, $3 - 1)
            WHERE sink = $1 AND writer_id = $2`,
          [sink, batch.writerId, batch.firstSeq],
        );
        out.push(batch);
        this.logger.error(
          { sink, job: batch.job, key: row.object_key },
          `audit export: ${String(row.object_key)} is not in the bucket although ${batch.job} was delivered; shipping it again`,
        );
      }
    }
    return out;
  }

  private async store(r: SinkReconciliation): Promise<void> {
    const [previous] = await this.query(
      `SELECT gap_alert, gap_since FROM audit_export_reconcile WHERE sink = $1`,
      [r.sink],
    );
    const wasAlerting = previous?.gap_alert === true;
    const gapSince = r.gapAlert ? (wasAlerting ? (previous?.gap_since as Date) : r.to) : null;
    await this.query(
      `INSERT INTO audit_export_reconcile (sink, checked_at, source, period_from, period_to, postgres_records,
              held_records, missing_records, oldest_missing_at, reshipped, gap_alert, gap_since, error)
       VALUES ($1, now(), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       ON CONFLICT (sink) DO UPDATE SET checked_at = now(), source = EXCLUDED.source,
              period_from = EXCLUDED.period_from, period_to = EXCLUDED.period_to,
              postgres_records = EXCLUDED.postgres_records, held_records = EXCLUDED.held_records,
              missing_records = EXCLUDED.missing_records, oldest_missing_at = EXCLUDED.oldest_missing_at,
              reshipped = EXCLUDED.reshipped, gap_alert = EXCLUDED.gap_alert, gap_since = EXCLUDED.gap_since,
              error = EXCLUDED.error`,
      [
        r.sink,
        r.source,
        r.from,
        r.to,
        r.postgresRecords,
        r.heldRecords,
        r.missingRecords,
        r.oldestMissingAt,
        r.reshipped.length,
        r.gapAlert,
        gapSince,
        r.error,
      ],
    );
    const first = r.missing[0];
    if (r.gapAlert && !wasAlerting) {
      this.logger.error(
        {
          sink: r.sink,
          missingRecords: r.missingRecords,
          oldestMissingAt: r.oldestMissingAt,
          firstMissing: first,
          source: r.source,
          error: r.error,
        },
        `audit export: ${r.sink} lacks ${r.missingRecords} record(s), the oldest from ${r.oldestMissingAt?.toISOString() ?? '?'} (gap alert above ${this.options.gapAlertSeconds} s; first: writer ${first?.writerId ?? '?'} seq ${first?.firstSeq ?? '?'}..${first?.lastSeq ?? '?'}; compared with the ${r.source === 'bucket' ? 'bucket listing' : 'acknowledgements'})`,
      );
    } else if (!r.gapAlert && wasAlerting) {
      this.logger.info(
        { sink: r.sink, postgresRecords: r.postgresRecords, heldRecords: r.heldRecords },
        `audit export: ${r.sink} gap closed: ${r.heldRecords} of ${r.postgresRecords} record(s) held`,
      );
    }
  }
}
