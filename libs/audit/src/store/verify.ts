import { chainHash, contentRowFromDb, GENESIS_HASH } from './canonical';

/** Runs one SQL statement and returns its rows (`DataSource.query`, or a wrapped `pg` client). */
export type Query = (sql: string, params: unknown[]) => Promise<Array<Record<string, unknown>>>;

/**
 * Which records to check: each writer's chain from its first to its last record with `occurred_at`
 * in [from, to), including records in between whose time lies outside (a back-dated ingest or a
 * late outcome is written between in-range records). Chains entering the range are checked from
 * their predecessor.
 */
export interface VerifyOptions {
  from?: Date;
  to?: Date;
  /** Rows read per query. */
  pageSize?: number;
}

/** The first record of a chain that does not verify, and why. */
export interface BrokenLink {
  writerId: string;
  seq: number;
  id: string;
  problem: string;
}

export interface VerifyReport {
  ok: boolean;
  chains: number;
  records: number;
  /** The first broken link of each broken chain, in writer order. */
  broken: BrokenLink[];
}

const COLUMNS = `*`;

/**
 * Walks every writer's chain in `audit_event` in `seq` order and checks that sequence numbers
 * are contiguous and unique, that each `prev_hash` is the previous record's `hash`, and that each
 * `hash` is `sha256(prev_hash || canonical(row))`. Reports the first broken link of each chain.
 * Deleting a chain's newest records cannot be seen here (nothing follows them); signed
 * checkpoints (R18) cover that.
 */
export async function verifyChains(query: Query, options: VerifyOptions = {}): Promise<VerifyReport> {
  const pageSize = options.pageSize ?? 5000;
  const range = `($1::timestamptz IS NULL OR occurred_at >= $1) AND ($2::timestamptz IS NULL OR occurred_at < $2)`;
  const bounds = [options.from?.toISOString() ?? null, options.to?.toISOString() ?? null];
  const report: VerifyReport = { ok: true, chains: 0, records: 0, broken: [] };

  let writer: string | undefined;
  let lastSeq = 0;
  let lastHash = GENESIS_HASH;
  let lastId = '';
  let broken = false;
  const fail = (row: Record<string, unknown>, problem: string) => {
    report.broken.push({
      writerId: String(row.writer_id),
      seq: Number(row.seq),
      id: String(row.id),
      problem,
    });
    broken = true;
  };

  // A bounded check walks each writer's seq span of the range, so records written in between
  // with a time outside it are checked too instead of looking deleted.
  let spans: [string[], string[], string[]] | undefined;
  if (options.from !== undefined || options.to !== undefined) {
    const found = await query(
      `SELECT writer_id, min(seq) AS lo, max(seq) AS hi FROM audit_event WHERE ${range} GROUP BY writer_id`,
      bounds,
    );
    spans = [
      found.map((r) => String(r.writer_id)),
      found.map((r) => String(r.lo)),
      found.map((r) => String(r.hi)),
    ];
  }
  const select = spans
    ? `SELECT e.* FROM audit_event e
         JOIN unnest($1::uuid[], $2::bigint[], $3::bigint[]) AS s(writer_id, lo, hi)
           ON e.writer_id = s.writer_id AND e.seq BETWEEN s.lo AND s.hi`
    : `SELECT ${COLUMNS} FROM audit_event e WHERE ${range}`;
  const params: unknown[] = spans ?? bounds;
  const after = `(e.writer_id, e.seq, e.id) > ($${params.length + 1}::uuid, $${params.length + 2}::bigint, $${params.length + 3}::uuid)`;

  let cursor: [string, string, string] | undefined;
  for (;;) {
    const rows = cursor
      ? await query(
          `${select} ${spans ? 'WHERE' : 'AND'} ${after} ORDER BY e.writer_id, e.seq, e.id LIMIT ${pageSize}`,
          [...params, ...cursor],
        )
      : await query(`${select} ORDER BY e.writer_id, e.seq, e.id LIMIT ${pageSize}`, params);
    for (const row of rows) {
      report.records += 1;
      const rowWriter = String(row.writer_id);
      const seq = Number(row.seq);
      const id = String(row.id);
      if (rowWriter !== writer) {
        writer = rowWriter;
        report.chains += 1;
        broken = false;
        const start = await chainStart(query, rowWriter, seq);
        if (typeof start === 'string') {
          fail(row, start);
        } else {
          lastSeq = seq - 1;
          lastHash = start;
        }
      }
      if (broken) continue;
      const prevHash = row.prev_hash as Buffer;
      const hash = row.hash as Buffer;
      if (seq === lastSeq) {
        fail(row, `seq ${seq} appears twice (ids ${lastId} and ${id}): a record was inserted`);
      } else if (seq !== lastSeq + 1) {
        fail(
          row,
          `seq ${lastSeq + 1}${seq - 1 > lastSeq + 1 ? `..${seq - 1}` : ''} missing: records were deleted`,
        );
      } else if (!prevHash.equals(lastHash)) {
        fail(row, `prev_hash is not the hash of seq ${lastSeq}: records were removed, inserted or reordered`);
      } else if (!chainHash(prevHash, rowWriter, seq, contentRowFromDb(row)).equals(hash)) {
        fail(row, 'hash does not match the record: it was edited');
      }
      lastSeq = seq;
      lastHash = hash;
      lastId = id;
    }
    const last = rows[rows.length - 1];
    if (!last || rows.length < pageSize) break;
    cursor = [String(last.writer_id), String(last.seq), String(last.id)];
  }
  report.ok = report.broken.length === 0;
  return report;
}

/** The hash the first record in range must follow, or why the chain cannot start there. */
async function chainStart(query: Query, writer: string, seq: number): Promise<Buffer | string> {
  if (seq === 1) return GENESIS_HASH;
  const before = await query(`SELECT hash FROM audit_event WHERE writer_id = $1 AND seq = $2`, [
    writer,
    seq - 1,
  ]);
  if (before.length !== 1 || !before[0]) {
    return `seq ${seq - 1} missing before the chain's first record in range: records were deleted`;
  }
  return before[0].hash as Buffer;
}
