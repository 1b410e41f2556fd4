import { createHash, type KeyObject } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { chainHash, GENESIS_HASH } from '../store/canonical';
import { checkpointVerifies, type SignedCheckpoint } from './checkpoint';
import type { Query } from './outbox';
import { listBucket, listingStart } from './reconcile';
import { lineContent, type RecordLine } from './record-line';
import type { BatchManifest, S3Archive } from './sinks/s3-archive';

/** What `verifyS3` found. */
export interface S3VerifyReport {
  ok: boolean;
  objects: number;
  records: number;
  chains: number;
  checkpoints: number;
  /** Every problem found, the first one first. */
  problems: string[];
}

/** Options of {@link verifyS3}. */
export interface S3VerifyOptions {
  /** Public key the checkpoints must verify with; without it, signatures are not checked (a problem is reported). */
  publicKey?: KeyObject | string;
  /** Problems listed at most (the count is exact). */
  maxProblems?: number;
  /**
   * Only records that occurred at or after this time, and the batches holding them (a batch is
   * filed under the hour of its first record, so the listing starts up to one batch earlier).
   */
  from?: Date;
  /** Only records that occurred before this time. */
  to?: Date;
}

const hex = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/**
 * Checks the S3 archive against itself and against Postgres:
 * 1. every manifest's object exists and has the manifest's SHA-256; its records are the manifest's
 *    seq range, each `hash` is `sha256(prev_hash || canonical(record))` and each links to the one before;
 * 2. per writer chain, the batches tile seq 1..n without gap or overlap and link batch to batch;
 *    no object lies there without a manifest;
 * 3. every record in Postgres is in S3 exactly once with the same hash, and S3 holds no record
 *    Postgres lacks;
 * 4. checkpoints are numbered 1..n, each signature verifies, each names the previous signature,
 *    and every chain head they state is in S3 with that hash (a chain's newest records deleted
 *    from Postgres after a checkpoint show up here, R18).
 *
 * With `from`/`to`, 1–3 cover the records that occurred in the period and the batches listed for
 * it (their seq spans are compared with Postgres in full; the first listed batch of a chain is not
 * linked to the one before it); 4 walks every checkpoint but checks only the heads inside the spans
 * listed.
 */
export async function verifyS3(
  archive: S3Archive,
  query: Query,
  options: S3VerifyOptions = {},
): Promise<S3VerifyReport> {
  const prefix = archive.options.prefix;
  const report: S3VerifyReport = {
    ok: true,
    objects: 0,
    records: 0,
    chains: 0,
    checkpoints: 0,
    problems: [],
  };
  const problem = (text: string) => {
    if (report.problems.length < (options.maxProblems ?? 100)) report.problems.push(text);
    report.ok = false;
  };

  const windowed = options.from !== undefined || options.to !== undefined;
  const from = options.from ?? new Date(0);
  const to = options.to ?? new Date();
  const listing = windowed
    ? await listBucket(archive, options.from ? await listingStart(query, from, to) : undefined, options.to)
    : undefined;
  const manifestKeys = listing
    ? listing.manifests.map((m) => m.key)
    : await archive.list(`${prefix}manifests/`);
  const objectKeys = listing ? listing.objects.map((o) => o.key) : await archive.list(`${prefix}audit/`);

  // seq -> hash per writer, as S3 holds it.
  const s3Chains = new Map<string, Map<number, string>>();
  const manifests: BatchManifest[] = [];
  const referenced = new Set<string>();
  for (const key of manifestKeys) {
    const manifest = JSON.parse((await archive.get(key)).toString('utf8')) as BatchManifest;
    manifests.push(manifest);
    referenced.add(manifest.object.key);
    report.objects += 1;
    let body: Buffer;
    try {
      body = await archive.get(manifest.object.key);
    } catch {
      problem(`${manifest.object.key}: missing (named by ${key})`);
      continue;
    }
    if (hex(body) !== manifest.object.sha256) {
      problem(
        `${manifest.object.key}: SHA-256 ${hex(body)} differs from its manifest's ${manifest.object.sha256}`,
      );
      continue;
    }
    const lines = gunzipSync(body)
      .toString('utf8')
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as RecordLine);
    if (lines.length !== manifest.records || lines.length !== manifest.lastSeq - manifest.firstSeq + 1) {
      problem(
        `${manifest.object.key}: ${lines.length} records, manifest says ${manifest.records} (seq ${manifest.firstSeq}..${manifest.lastSeq})`,
      );
    }
    let prev = manifest.firstPrevHash;
    let expectSeq = manifest.firstSeq;
    const chain = s3Chains.get(manifest.writerId) ?? new Map<number, string>();
    s3Chains.set(manifest.writerId, chain);
    for (const line of lines) {
      report.records += 1;
      const at = `${manifest.object.key} writer ${line.writer_id} seq ${line.seq}`;
      if (line.writer_id !== manifest.writerId || line.seq !== expectSeq) {
        problem(`${at}: expected writer ${manifest.writerId} seq ${expectSeq}`);
        break;
      }
      if (line.prev_hash !== prev) problem(`${at}: prev_hash does not link to the record before it`);
      const computed = chainHash(
        Buffer.from(line.prev_hash, 'hex'),
        line.writer_id,
        line.seq,
        lineContent(line),
      );
      if (computed.toString('hex') !== line.hash)
        problem(`${at}: hash does not match the record: it was edited`);
      if (chain.has(line.seq)) problem(`${at}: in S3 twice`);
      chain.set(line.seq, line.hash);
      prev = line.hash;
      expectSeq += 1;
    }
    if (lines.length > 0 && prev !== manifest.lastHash)
      problem(`${manifest.object.key}: last hash differs from its manifest`);
  }
  for (const key of objectKeys) {
    if (!referenced.has(key)) problem(`${key}: an audit object no manifest names`);
  }

  // Batches of a chain must link: the first prev_hash of each is the last hash of the one before.
  const byWriter = new Map<string, BatchManifest[]>();
  for (const m of manifests) byWriter.set(m.writerId, [...(byWriter.get(m.writerId) ?? []), m]);
  for (const [writer, list] of byWriter) {
    list.sort((a, b) => a.firstSeq - b.firstSeq);
    let lastHash = GENESIS_HASH.toString('hex');
    let next = 1;
    // A period starts wherever its first listed batch does; what lies before is outside it.
    if (windowed && list[0]) {
      lastHash = list[0].firstPrevHash;
      next = list[0].firstSeq;
    }
    for (const m of list) {
      if (m.firstSeq > next) problem(`writer ${writer}: seq ${next}..${m.firstSeq - 1} not in S3`);
      else if (m.firstSeq < next) problem(`writer ${writer}: seq ${m.firstSeq}..${next - 1} in two objects`);
      else if (m.firstPrevHash !== lastHash)
        problem(`writer ${writer}: ${m.object.key} does not link to the batch before it`);
      lastHash = m.lastHash;
      next = Math.max(next, m.lastSeq + 1);
    }
  }

  // Postgres against S3, record by record.
  const pgChains = await query(`SELECT writer_id, last_seq FROM audit_chain_head ORDER BY writer_id`);
  report.chains = pgChains.length;
  const pgWriters = new Set<string>();
  for (const chain of pgChains) {
    const writer = String(chain.writer_id);
    pgWriters.add(writer);
    const inS3 = new Map(s3Chains.get(writer) ?? []);
    const missing: number[] = [];
    let after = 0;
    let until = Number.MAX_SAFE_INTEGER;
    // With a period: the seq span S3 lists for the chain and the seqs of the period's records.
    let span: [number, number] = [1, Number.MAX_SAFE_INTEGER];
    if (windowed) {
      const [t] = await query(
        `SELECT min(seq) AS first, max(seq) AS last FROM audit_event
          WHERE writer_id = $1 AND occurred_at >= $2 AND occurred_at < $3`,
        [writer, from, to],
      );
      const bounds: number[] = [];
      span = [0, -1];
      for (const seq of inS3.keys()) {
        span = span[1] < 0 ? [seq, seq] : [Math.min(span[0], seq), Math.max(span[1], seq)];
      }
      if (span[1] >= 0) bounds.push(...span);
      if (t?.first !== null && t?.first !== undefined) bounds.push(Number(t.first), Number(t.last));
      if (bounds.length === 0) continue;
      after = Math.min(...bounds) - 1;
      until = Math.max(...bounds);
    }
    for (;;) {
      const rows = await query(
        `SELECT seq, hash, occurred_at FROM audit_event WHERE writer_id = $1 AND seq > $2 AND seq <= $3
          ORDER BY seq LIMIT 10000`,
        [writer, after, until],
      );
      for (const row of rows) {
        const seq = Number(row.seq);
        after = seq;
        const at = row.occurred_at as Date;
        if (windowed && !(seq >= span[0] && seq <= span[1]) && !(at >= from && at < to)) continue;
        const hash = (row.hash as Buffer).toString('hex');
        const s3Hash = inS3.get(seq);
        if (s3Hash === undefined) missing.push(seq);
        else if (s3Hash !== hash) problem(`writer ${writer} seq ${seq}: hash in S3 differs from Postgres`);
        inS3.delete(seq);
      }
      if (rows.length < 10000) break;
    }
    if (missing.length > 0) {
      problem(
        `writer ${writer}: ${missing.length} record(s) in Postgres not in S3 (first seq ${missing[0]}, last ${missing[missing.length - 1]})`,
      );
    }
    if (inS3.size > 0) {
      const seqs = [...inS3.keys()].sort((a, b) => a - b);
      problem(
        `writer ${writer}: ${seqs.length} record(s) in S3 not in Postgres (first seq ${seqs[0]}): deleted from Postgres?`,
      );
    }
  }
  for (const writer of s3Chains.keys()) {
    if (!pgWriters.has(writer))
      problem(`writer ${writer}: chain in S3 unknown to Postgres: deleted from Postgres?`);
  }

  // The signed checkpoints. With a period, heads outside the spans listed for it are not checked.
  const listed = new Map<string, [number, number]>();
  for (const m of manifests) {
    const s = listed.get(m.writerId);
    listed.set(
      m.writerId,
      s ? [Math.min(s[0], m.firstSeq), Math.max(s[1], m.lastSeq)] : [m.firstSeq, m.lastSeq],
    );
  }
  const inPeriod = (writerId: string, seq: number) => {
    const s = listed.get(writerId);
    return !windowed || (s !== undefined && seq >= s[0] && seq <= s[1]);
  };
  let previous: string | null = null;
  let number = 0;
  for (const key of (await archive.list(`${prefix}checkpoints/`)).sort()) {
    const checkpoint = JSON.parse((await archive.get(key)).toString('utf8')) as SignedCheckpoint;
    report.checkpoints += 1;
    number += 1;
    const at = `checkpoint ${checkpoint.body.number} (${key})`;
    if (checkpoint.body.number !== number)
      problem(`${at}: expected number ${number}: a checkpoint is missing`);
    if (!options.publicKey) {
      if (number === 1) problem('checkpoint signatures not checked: no public key given');
    } else if (!checkpointVerifies(checkpoint, options.publicKey)) {
      problem(`${at}: signature does not verify`);
    }
    if (checkpoint.body.previousSignature !== previous)
      problem(`${at}: does not name the previous checkpoint's signature`);
    previous = checkpoint.signature;
    number = checkpoint.body.number;
    for (const head of checkpoint.body.heads) {
      if (!inPeriod(head.writerId, head.seq)) continue;
      const s3Hash = s3Chains.get(head.writerId)?.get(head.seq);
      if (s3Hash !== head.hash)
        problem(
          `${at}: writer ${head.writerId} seq ${head.seq} is ${s3Hash ? 'another record' : 'not'} in S3`,
        );
      const [row] = await query(`SELECT hash FROM audit_event WHERE writer_id = $1 AND seq = $2`, [
        head.writerId,
        head.seq,
      ]);
      if (!row)
        problem(`${at}: writer ${head.writerId} seq ${head.seq} is gone from Postgres: records were deleted`);
      else if ((row.hash as Buffer).toString('hex') !== head.hash) {
        problem(`${at}: writer ${head.writerId} seq ${head.seq} has another hash in Postgres`);
      }
    }
  }
  return report;
}
